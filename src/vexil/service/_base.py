"""Shared plumbing of the use-case mixins: the store, the clock, lookups, permission and version checks,
audit writing and the per-environment document with its snapshot-version bump.

No use case lives here; nothing here commits (the `Tx` context manager does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vexil.engine import Problem

from ._access import Principal
from ._documents import flag_item, segment_item, storable
from ._errors import Conflict, Forbidden, NotFound, ValidationFailed
from ._models import Environment, FlagDefinition, ItemKind, JsonObject, Project, ResourceKind
from ._ports import Store, Tx
from ._records import AuditAction, AuditEntry

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class EnvState:
    """One environment's items, keyed by flag/segment key, as bodies; edited in memory, then validated."""

    environment: Environment | None
    definitions: dict[str, JsonObject] = field(default_factory=dict)
    targeting: dict[str, JsonObject] = field(default_factory=dict)
    segments: dict[str, JsonObject] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.environment.key if self.environment else "-"

    def document(self) -> JsonObject:
        flags = {
            key: flag_item(key, body, self.targeting.get(key, {}), 0)
            for key, body in self.definitions.items()
        }
        segments = {key: segment_item(key, body, 0) for key, body in self.segments.items()}
        return {"flags": flags, "segments": segments}


class ServiceBase:
    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock()

    # -- permissions
    @staticmethod
    def _need(allowed: bool, actor: Principal, what: str) -> None:
        if not allowed:
            raise Forbidden(f"key {actor.name!r} may not {what}")

    def _need_read(self, actor: Principal, project: str) -> None:
        self._need(actor.can_read(project), actor, f"read project {project!r}")

    def _need_write(self, actor: Principal, project: str) -> None:
        self._need(actor.can_write(project), actor, f"change project {project!r}")

    # -- lookups
    # A key that could never have been stored names nothing; asking the database would be an error there.
    @staticmethod
    def _project(tx: Tx, key: str, *, lock: bool = False) -> Project:
        project = tx.get_project(key, lock=lock) if storable(key) else None
        if project is None:
            raise NotFound("project", key)
        return project

    @staticmethod
    def _environment(tx: Tx, project: Project, key: str) -> Environment:
        environment = tx.get_environment(project.id, key) if storable(key) else None
        if environment is None:
            raise NotFound("environment", f"{project.key}/{key}")
        return environment

    @staticmethod
    def _flag(tx: Tx, project: Project, key: str) -> FlagDefinition:
        flag = tx.get_flag(project.id, key) if storable(key) else None
        if flag is None:
            raise NotFound("flag", f"{project.key}/{key}")
        return flag

    @staticmethod
    def _check_version(kind: str, key: str, current: int, expected: int | None) -> None:
        if expected is not None and expected != current:
            raise Conflict(kind, key, expected, current)

    @staticmethod
    def _env_state(tx: Tx, project: Project, environment: Environment) -> EnvState:
        return EnvState(
            environment,
            definitions={f.key: f.body for f in tx.list_flags(project.id)},
            targeting={t.flag: t.body for t in tx.list_targeting(environment_id=environment.id)},
            segments={s.key: s.body for s in tx.list_segments(environment.id)},
        )

    # -- writing
    @staticmethod
    def _publish(
        tx: Tx,
        environment_id: int,
        snapshot_version: int,
        items: list[tuple[ItemKind, str, JsonObject | None]],
    ) -> None:
        tx.insert_changes(environment_id, snapshot_version, items)
        tx.notify(environment_id, snapshot_version)

    def _audit(
        self,
        tx: Tx,
        actor: Principal,
        *,
        project: str | None,
        environment: str | None = None,
        kind: ResourceKind,
        resource: str,
        action: AuditAction,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        comment: str | None,
        now: datetime,
    ) -> None:
        if comment is not None and not storable(comment):
            raise ValidationFailed(
                [Problem("comment", "must not contain NUL characters or unpaired surrogates")]
            )
        tx.insert_audit(
            AuditEntry(
                id=0,
                time=now,
                actor=actor.name,
                actor_key_id=actor.key_id,
                project=project,
                environment=environment,
                kind=kind,
                resource=resource,
                action=action,
                before=dict(before) if before is not None else None,
                after=dict(after) if after is not None else None,
                comment=comment,
            )
        )
