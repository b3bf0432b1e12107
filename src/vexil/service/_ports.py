"""The storage interfaces the use cases need; `vexil.store` implements them for SQLite and PostgreSQL.

A `Tx` is one database transaction: everything a use case writes (resource, versions, audit entry, change
feed) goes through one `Tx`, so it commits or rolls back as a whole. No business rules live in a store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from ._access import ApiKey, KeyKind, Role
from ._models import (
    Change,
    Environment,
    FlagDefinition,
    FlagTargeting,
    ItemKind,
    JsonObject,
    Project,
    Segment,
)
from ._records import AuditEntry, AuditQuery, EventCount, FlagUsage

#: `(environment_id, snapshot_version)`: a committed change, possibly made by another process.
Notice = Callable[[int, int], None]


class Tx(Protocol):
    """One transaction. Methods raise `AlreadyExists` on a unique-key violation and never commit."""

    # -- locking: writers of one project are serialised (SQLite serialises all writers anyway)
    def lock_global(self) -> None: ...

    # -- projects (`lock=True` takes the project's write lock until commit)
    def list_projects(self) -> list[Project]: ...
    def get_project(self, key: str, *, lock: bool = False) -> Project | None: ...
    def insert_project(self, key: str, name: str, description: str, now: datetime) -> Project: ...
    def update_project(self, project_id: int, name: str, description: str, now: datetime) -> Project: ...
    def delete_project(self, project_id: int) -> None: ...

    # -- environments
    def list_environments(self, project_id: int) -> list[Environment]: ...
    def get_environment(self, project_id: int, key: str) -> Environment | None: ...
    def get_environment_by_id(self, environment_id: int) -> Environment | None: ...
    def insert_environment(
        self, project_id: int, key: str, name: str, critical: bool, now: datetime
    ) -> Environment: ...
    def update_environment(
        self, environment_id: int, name: str, critical: bool, now: datetime
    ) -> Environment: ...
    def delete_environment(self, environment_id: int) -> None: ...
    def bump_snapshot_version(self, environment_id: int) -> int: ...

    # -- flag definitions (per project)
    def list_flags(self, project_id: int) -> list[FlagDefinition]: ...
    def get_flag(self, project_id: int, key: str) -> FlagDefinition | None: ...
    def insert_flag(self, project_id: int, key: str, body: JsonObject, now: datetime) -> FlagDefinition: ...
    def update_flag(self, flag_id: int, body: JsonObject, now: datetime) -> FlagDefinition: ...
    def delete_flag(self, flag_id: int) -> None: ...

    # -- flag targeting (per flag and environment)
    def list_targeting(
        self, *, environment_id: int | None = None, flag_id: int | None = None
    ) -> list[FlagTargeting]: ...
    def get_targeting(self, flag_id: int, environment_id: int) -> FlagTargeting | None: ...
    def insert_targeting(
        self, flag_id: int, environment_id: int, body: JsonObject, item_version: int, now: datetime
    ) -> FlagTargeting: ...
    def update_targeting(
        self, flag_id: int, environment_id: int, body: JsonObject, item_version: int, now: datetime
    ) -> FlagTargeting: ...
    def set_targeting_item_version(self, flag_id: int, environment_id: int, item_version: int) -> None: ...

    # -- segments (per environment)
    def list_segments(self, environment_id: int) -> list[Segment]: ...
    def get_segment(self, environment_id: int, key: str) -> Segment | None: ...
    def insert_segment(
        self, environment_id: int, key: str, body: JsonObject, item_version: int, now: datetime
    ) -> Segment: ...
    def update_segment(
        self, segment_id: int, body: JsonObject, item_version: int, now: datetime
    ) -> Segment: ...
    def delete_segment(self, segment_id: int) -> None: ...

    # -- change feed: rows for `changes_since`, and a notice delivered to watchers after commit
    def insert_changes(
        self,
        environment_id: int,
        snapshot_version: int,
        changes: Sequence[tuple[ItemKind, str, JsonObject | None]],
    ) -> None: ...
    def changes_since(self, environment_id: int, since: int) -> list[Change] | None: ...
    def notify(self, environment_id: int, snapshot_version: int) -> None: ...

    # -- audit
    def insert_audit(self, entry: AuditEntry) -> int: ...
    def query_audit(
        self, query: AuditQuery, projects: frozenset[str] | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]: ...

    # -- API keys (only the SHA-256 hash of a secret is ever passed to a store)
    def insert_key(
        self,
        *,
        name: str,
        kind: KeyKind,
        role: Role | None,
        projects: Sequence[str] | None,
        environment_id: int | None,
        prefix: str,
        secret_hash: str,
        created_by: str,
        now: datetime,
    ) -> ApiKey: ...
    def list_keys(self) -> list[ApiKey]: ...
    def get_key(self, key_id: int) -> ApiKey | None: ...
    def find_key_by_hash(self, secret_hash: str) -> tuple[ApiKey, str] | None: ...
    def revoke_key(self, key_id: int, now: datetime) -> ApiKey: ...
    def count_keys(self) -> int: ...

    # -- events ingestion (aggregated counts)
    def add_evaluation_counts(
        self,
        environment_id: int,
        counts: Mapping[tuple[str, date, int | None], int],
        last_evaluated: Mapping[str, datetime],
    ) -> None: ...
    def add_event_counts(
        self, environment_id: int, counts: Mapping[tuple[str, date], tuple[int, float]]
    ) -> None: ...
    def flag_usage(
        self,
        project_id: int,
        environment_id: int | None,
        flag: str | None,
        since: date | None,
        until: date | None,
    ) -> list[FlagUsage]: ...
    def event_counts(
        self,
        project_id: int,
        environment_id: int | None,
        key: str | None,
        since: date | None,
        until: date | None,
    ) -> list[EventCount]: ...


class Store(Protocol):
    """A database. `write()` transactions are serialised per project (and commit on a clean exit)."""

    def write(self) -> AbstractContextManager[Tx]: ...
    def read(self) -> AbstractContextManager[Tx]: ...

    def watch(self, callback: Notice) -> Callable[[], None]:
        """Call `callback(environment_id, snapshot_version)` after each commit; returns an unwatch function.

        SQLite: in-process only, right after the commit. PostgreSQL: also changes committed by other
        processes (LISTEN/NOTIFY). Callbacks run on a store thread, may repeat, and must be quick.
        """
        ...

    def migrate(self) -> list[int]:
        """Apply pending schema migrations (idempotent); returns the versions it applied."""
        ...

    def schema_version(self) -> int: ...
    def ping(self) -> bool: ...
    def close(self) -> None: ...
