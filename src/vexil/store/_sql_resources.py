"""Shared SQL for projects, environments, flag definitions and targeting, segments and the change log.

Rows in, service models out; no validation or version rules (the use cases own those).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from vexil.service import (
    Change,
    Environment,
    FlagDefinition,
    FlagTargeting,
    ItemKind,
    JsonObject,
    Project,
    Segment,
)

from ._sql_base import Row, SqlBase, dumps, from_us, loads, to_us

_PROJECT = "SELECT id, key, name, description, version, created_us, updated_us FROM projects"
_ENV = (
    "SELECT e.id, e.project_id, p.key, e.key, e.name, e.critical, e.version, e.snapshot_version,"
    " e.created_us, e.updated_us FROM environments e JOIN projects p ON p.id = e.project_id"
)
_FLAG = (
    "SELECT f.id, f.project_id, p.key, f.key, f.body, f.version, f.created_us, f.updated_us"
    " FROM flags f JOIN projects p ON p.id = f.project_id"
)
_TARGETING = (
    "SELECT t.flag_id, t.environment_id, p.key, f.key, e.key, t.body, t.version, t.item_version, t.updated_us"
    " FROM flag_targeting t JOIN flags f ON f.id = t.flag_id JOIN environments e ON e.id = t.environment_id"
    " JOIN projects p ON p.id = f.project_id"
)
_SEGMENT = (
    "SELECT s.id, s.environment_id, p.key, e.key, s.key, s.body, s.version, s.item_version,"
    " s.created_us, s.updated_us FROM segments s JOIN environments e ON e.id = s.environment_id"
    " JOIN projects p ON p.id = e.project_id"
)


def _project(r: Row) -> Project:
    return Project(r[0], r[1], r[2], r[3], r[4], from_us(r[5]), from_us(r[6]))


def _env(r: Row) -> Environment:
    return Environment(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], from_us(r[8]), from_us(r[9]))


def _flag(r: Row) -> FlagDefinition:
    return FlagDefinition(r[0], r[1], r[2], r[3], loads(r[4]), r[5], from_us(r[6]), from_us(r[7]))


def _targeting(r: Row) -> FlagTargeting:
    return FlagTargeting(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6], r[7], from_us(r[8]))


def _segment(r: Row) -> Segment:
    return Segment(r[0], r[1], r[2], r[3], r[4], loads(r[5]), r[6], r[7], from_us(r[8]), from_us(r[9]))


class ResourceSql(SqlBase):
    def lock_global(self) -> None:
        if self._dialect.global_lock_sql:
            self._exec(self._dialect.global_lock_sql)

    # -- projects
    def list_projects(self) -> list[Project]:
        return [_project(r) for r in self._all(f"{_PROJECT} ORDER BY key")]

    def get_project(self, key: str, *, lock: bool = False) -> Project | None:
        suffix = self._dialect.for_update if lock else ""
        row = self._one(f"{_PROJECT} WHERE key = ?{suffix}", (key,))
        return _project(row) if row else None

    def insert_project(self, key: str, name: str, description: str, now: datetime) -> Project:
        row = self._req(
            "INSERT INTO projects (key, name, description, version, created_us, updated_us)"
            " VALUES (?, ?, ?, 1, ?, ?) RETURNING id",
            (key, name, description, to_us(now), to_us(now)),
            kind="project",
            key=key,
        )
        return _project(self._req(f"{_PROJECT} WHERE id = ?", (row[0],)))

    def update_project(self, project_id: int, name: str, description: str, now: datetime) -> Project:
        self._exec(
            "UPDATE projects SET name = ?, description = ?, version = version + 1, updated_us = ?"
            " WHERE id = ?",
            (name, description, to_us(now), project_id),
        )
        return _project(self._req(f"{_PROJECT} WHERE id = ?", (project_id,)))

    def delete_project(self, project_id: int) -> None:
        self._exec("DELETE FROM projects WHERE id = ?", (project_id,))

    # -- environments
    def list_environments(self, project_id: int) -> list[Environment]:
        return [_env(r) for r in self._all(f"{_ENV} WHERE e.project_id = ? ORDER BY e.id", (project_id,))]

    def get_environment(self, project_id: int, key: str) -> Environment | None:
        row = self._one(f"{_ENV} WHERE e.project_id = ? AND e.key = ?", (project_id, key))
        return _env(row) if row else None

    def get_environment_by_id(self, environment_id: int) -> Environment | None:
        row = self._one(f"{_ENV} WHERE e.id = ?", (environment_id,))
        return _env(row) if row else None

    def insert_environment(
        self, project_id: int, key: str, name: str, critical: bool, now: datetime
    ) -> Environment:
        row = self._req(
            "INSERT INTO environments (project_id, key, name, critical, version, snapshot_version, log_floor,"
            " created_us, updated_us) VALUES (?, ?, ?, ?, 1, 0, 0, ?, ?) RETURNING id",
            (project_id, key, name, critical, to_us(now), to_us(now)),
            kind="environment",
            key=key,
        )
        return _env(self._req(f"{_ENV} WHERE e.id = ?", (row[0],)))

    def update_environment(
        self, environment_id: int, name: str, critical: bool, now: datetime
    ) -> Environment:
        self._exec(
            "UPDATE environments SET name = ?, critical = ?, version = version + 1, updated_us = ?"
            " WHERE id = ?",
            (name, critical, to_us(now), environment_id),
        )
        return _env(self._req(f"{_ENV} WHERE e.id = ?", (environment_id,)))

    def delete_environment(self, environment_id: int) -> None:
        self._exec("DELETE FROM environments WHERE id = ?", (environment_id,))

    def bump_snapshot_version(self, environment_id: int) -> int:
        row = self._req(
            "UPDATE environments SET snapshot_version = snapshot_version + 1 WHERE id = ?"
            " RETURNING snapshot_version",
            (environment_id,),
        )
        return int(row[0])

    # -- flags
    def list_flags(self, project_id: int) -> list[FlagDefinition]:
        return [_flag(r) for r in self._all(f"{_FLAG} WHERE f.project_id = ? ORDER BY f.key", (project_id,))]

    def get_flag(self, project_id: int, key: str) -> FlagDefinition | None:
        row = self._one(f"{_FLAG} WHERE f.project_id = ? AND f.key = ?", (project_id, key))
        return _flag(row) if row else None

    def insert_flag(self, project_id: int, key: str, body: JsonObject, now: datetime) -> FlagDefinition:
        row = self._req(
            "INSERT INTO flags (project_id, key, body, version, created_us, updated_us)"
            " VALUES (?, ?, ?, 1, ?, ?) RETURNING id",
            (project_id, key, dumps(body), to_us(now), to_us(now)),
            kind="flag",
            key=key,
        )
        return _flag(self._req(f"{_FLAG} WHERE f.id = ?", (row[0],)))

    def update_flag(self, flag_id: int, body: JsonObject, now: datetime) -> FlagDefinition:
        self._exec(
            "UPDATE flags SET body = ?, version = version + 1, updated_us = ? WHERE id = ?",
            (dumps(body), to_us(now), flag_id),
        )
        return _flag(self._req(f"{_FLAG} WHERE f.id = ?", (flag_id,)))

    def delete_flag(self, flag_id: int) -> None:
        self._exec("DELETE FROM flags WHERE id = ?", (flag_id,))

    # -- targeting
    def list_targeting(
        self, *, environment_id: int | None = None, flag_id: int | None = None
    ) -> list[FlagTargeting]:
        if environment_id is not None:
            rows = self._all(f"{_TARGETING} WHERE t.environment_id = ? ORDER BY f.key", (environment_id,))
        else:
            rows = self._all(f"{_TARGETING} WHERE t.flag_id = ? ORDER BY e.id", (flag_id,))
        return [_targeting(r) for r in rows]

    def get_targeting(self, flag_id: int, environment_id: int) -> FlagTargeting | None:
        row = self._one(
            f"{_TARGETING} WHERE t.flag_id = ? AND t.environment_id = ?", (flag_id, environment_id)
        )
        return _targeting(row) if row else None

    def insert_targeting(
        self, flag_id: int, environment_id: int, body: JsonObject, item_version: int, now: datetime
    ) -> FlagTargeting:
        self._exec(
            "INSERT INTO flag_targeting (flag_id, environment_id, body, version, item_version, updated_us)"
            " VALUES (?, ?, ?, 1, ?, ?)",
            (flag_id, environment_id, dumps(body), item_version, to_us(now)),
            kind="targeting",
            key=str(flag_id),
        )
        return self._targeting_req(flag_id, environment_id)

    def update_targeting(
        self, flag_id: int, environment_id: int, body: JsonObject, item_version: int, now: datetime
    ) -> FlagTargeting:
        self._exec(
            "UPDATE flag_targeting SET body = ?, version = version + 1, item_version = ?, updated_us = ?"
            " WHERE flag_id = ? AND environment_id = ?",
            (dumps(body), item_version, to_us(now), flag_id, environment_id),
        )
        return self._targeting_req(flag_id, environment_id)

    def set_targeting_item_version(self, flag_id: int, environment_id: int, item_version: int) -> None:
        self._exec(
            "UPDATE flag_targeting SET item_version = ? WHERE flag_id = ? AND environment_id = ?",
            (item_version, flag_id, environment_id),
        )

    def _targeting_req(self, flag_id: int, environment_id: int) -> FlagTargeting:
        return _targeting(
            self._req(f"{_TARGETING} WHERE t.flag_id = ? AND t.environment_id = ?", (flag_id, environment_id))
        )

    # -- segments
    def list_segments(self, environment_id: int) -> list[Segment]:
        return [
            _segment(r)
            for r in self._all(f"{_SEGMENT} WHERE s.environment_id = ? ORDER BY s.key", (environment_id,))
        ]

    def get_segment(self, environment_id: int, key: str) -> Segment | None:
        row = self._one(f"{_SEGMENT} WHERE s.environment_id = ? AND s.key = ?", (environment_id, key))
        return _segment(row) if row else None

    def insert_segment(
        self, environment_id: int, key: str, body: JsonObject, item_version: int, now: datetime
    ) -> Segment:
        row = self._req(
            "INSERT INTO segments (environment_id, key, body, version, item_version, created_us, updated_us)"
            " VALUES (?, ?, ?, 1, ?, ?, ?) RETURNING id",
            (environment_id, key, dumps(body), item_version, to_us(now), to_us(now)),
            kind="segment",
            key=key,
        )
        return _segment(self._req(f"{_SEGMENT} WHERE s.id = ?", (row[0],)))

    def update_segment(self, segment_id: int, body: JsonObject, item_version: int, now: datetime) -> Segment:
        self._exec(
            "UPDATE segments SET body = ?, version = version + 1, item_version = ?, updated_us = ?"
            " WHERE id = ?",
            (dumps(body), item_version, to_us(now), segment_id),
        )
        return _segment(self._req(f"{_SEGMENT} WHERE s.id = ?", (segment_id,)))

    def delete_segment(self, segment_id: int) -> None:
        self._exec("DELETE FROM segments WHERE id = ?", (segment_id,))

    # -- change log
    def insert_changes(
        self,
        environment_id: int,
        snapshot_version: int,
        changes: Sequence[tuple[ItemKind, str, JsonObject | None]],
    ) -> None:
        for kind, key, item in changes:
            self._exec(
                "INSERT INTO changes (environment_id, snapshot_version, kind, key, item)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    environment_id,
                    snapshot_version,
                    kind.value,
                    key,
                    dumps(item) if item is not None else None,
                ),
            )
        # Keep a bounded tail: a client further behind than `retention` versions gets a full snapshot instead.
        floor = snapshot_version - self._retention
        if floor > 0:
            self._exec(
                "DELETE FROM changes WHERE environment_id = ? AND snapshot_version <= ?",
                (environment_id, floor),
            )
            self._exec(
                "UPDATE environments SET log_floor = ? WHERE id = ? AND log_floor < ?",
                (floor, environment_id, floor),
            )

    def changes_since(self, environment_id: int, since: int) -> list[Change] | None:
        env = self._one("SELECT log_floor FROM environments WHERE id = ?", (environment_id,))
        if env is None or since < env[0]:
            return None
        rows = self._all(
            "SELECT snapshot_version, kind, key, item FROM changes"
            " WHERE environment_id = ? AND snapshot_version > ? ORDER BY snapshot_version, kind, key",
            (environment_id, since),
        )
        return [Change(environment_id, r[0], ItemKind(r[1]), r[2], loads(r[3])) for r in rows]

    def notify(self, environment_id: int, snapshot_version: int) -> None:
        self.notices.append((environment_id, snapshot_version))
        if self._dialect.notify_sql:
            self._exec(self._dialect.notify_sql, (f"{environment_id}:{snapshot_version}",))
