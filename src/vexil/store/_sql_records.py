"""Shared SQL for the audit log, API keys (hashes only) and the aggregated event counts.

Rows in, service records out; filtering and grouping only, no permission rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from vexil.service import (
    ApiKey,
    AuditAction,
    AuditEntry,
    AuditQuery,
    DailyCount,
    EventCount,
    FlagUsage,
    KeyKind,
    ResourceKind,
    Role,
)

from ._sql_base import Row, SqlBase, dumps, from_us, from_us_opt, loads, to_us

_AUDIT = (
    "SELECT id, time_us, actor, actor_key_id, project, environment, kind, resource, action, before, after,"
    " comment FROM audit"
)
_KEY = (
    "SELECT k.id, k.name, k.kind, k.role, k.projects, p.key, e.key, k.environment_id, k.prefix, k.created_us,"
    " k.created_by, k.revoked_us, k.secret_hash FROM api_keys k"
    " LEFT JOIN environments e ON e.id = k.environment_id LEFT JOIN projects p ON p.id = e.project_id"
)
#: Stored for evaluation counts whose variation is unknown (the SDK served its default value).
_NO_VARIATION = -1


def _audit(r: Row) -> AuditEntry:
    return AuditEntry(
        id=r[0],
        time=from_us(r[1]),
        actor=r[2],
        actor_key_id=r[3],
        project=r[4],
        environment=r[5],
        kind=ResourceKind(r[6]),
        resource=r[7],
        action=AuditAction(r[8]),
        before=loads(r[9]),
        after=loads(r[10]),
        comment=r[11],
    )


def _key(r: Row) -> ApiKey:
    projects = loads(r[4])
    return ApiKey(
        id=r[0],
        name=r[1],
        kind=KeyKind(r[2]),
        role=Role(r[3]) if r[3] else None,
        projects=tuple(projects) if projects is not None else None,
        project=r[5],
        environment=r[6],
        environment_id=r[7],
        prefix=r[8],
        created_at=from_us(r[9]),
        created_by=r[10],
        revoked_at=from_us_opt(r[11]),
    )


def _filters(
    project_id: int,
    environment_id: int | None,
    column: str,
    value: str | None,
    since: date | None,
    until: date | None,
) -> tuple[str, list[Any]]:
    where: list[str] = ["e.project_id = ?"]
    params: list[Any] = [project_id]
    for clause, param in (
        ("c.environment_id = ?", environment_id),
        (f"c.{column} = ?", value),
        ("c.day >= ?", since.isoformat() if since else None),
        ("c.day <= ?", until.isoformat() if until else None),
    ):
        if param is not None:
            where.append(clause)
            params.append(param)
    return " AND ".join(where), params


class RecordSql(SqlBase):
    # -- audit
    def insert_audit(self, entry: AuditEntry) -> int:
        row = self._req(
            "INSERT INTO audit (time_us, actor, actor_key_id, project, environment, kind, resource, action,"
            " before, after, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                to_us(entry.time),
                entry.actor,
                entry.actor_key_id,
                entry.project,
                entry.environment,
                entry.kind.value,
                entry.resource,
                entry.action.value,
                dumps(entry.before) if entry.before is not None else None,
                dumps(entry.after) if entry.after is not None else None,
                entry.comment,
            ),
        )
        return int(row[0])

    def query_audit(
        self, query: AuditQuery, projects: frozenset[str] | None, before_id: int | None, limit: int
    ) -> list[AuditEntry]:
        where: list[str] = []
        params: list[Any] = []
        for clause, param in (
            ("project = ?", query.project),
            ("environment = ?", query.environment),
            ("time_us >= ?", to_us(query.since) if query.since else None),
            ("time_us < ?", to_us(query.until) if query.until else None),
            ("id < ?", before_id),
        ):
            if param is not None:
                where.append(clause)
                params.append(param)
        if query.flag is not None:
            where.append("kind IN ('flag', 'targeting') AND resource = ?")
            params.append(query.flag)
        if projects is not None:
            scope = sorted(projects)
            where.append(f"project IN ({', '.join('?' for _ in scope)})" if scope else "1 = 0")
            params.extend(scope)
        sql = _AUDIT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ?"
        return [_audit(r) for r in self._all(sql, [*params, limit])]

    # -- keys
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
    ) -> ApiKey:
        row = self._req(
            "INSERT INTO api_keys (name, kind, role, projects, environment_id, prefix, secret_hash,"
            " created_by, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                name,
                kind.value,
                role.value if role else None,
                dumps(list(projects)) if projects is not None else None,
                environment_id,
                prefix,
                secret_hash,
                created_by,
                to_us(now),
            ),
            kind="key",
            key=prefix,
        )
        return _key(self._req(f"{_KEY} WHERE k.id = ?", (row[0],)))

    def list_keys(self) -> list[ApiKey]:
        return [_key(r) for r in self._all(f"{_KEY} ORDER BY k.id")]

    def get_key(self, key_id: int) -> ApiKey | None:
        row = self._one(f"{_KEY} WHERE k.id = ?", (key_id,))
        return _key(row) if row else None

    def find_key_by_hash(self, secret_hash: str) -> tuple[ApiKey, str] | None:
        row = self._one(f"{_KEY} WHERE k.secret_hash = ?", (secret_hash,))
        return (_key(row), str(row[12])) if row else None

    def revoke_key(self, key_id: int, now: datetime) -> ApiKey:
        self._exec(
            "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL", (to_us(now), key_id)
        )
        return _key(self._req(f"{_KEY} WHERE k.id = ?", (key_id,)))

    def count_keys(self) -> int:
        return int(self._req("SELECT COUNT(*) FROM api_keys")[0])

    # -- events
    def add_evaluation_counts(
        self,
        environment_id: int,
        counts: Mapping[tuple[str, date, int | None], int],
        last_evaluated: Mapping[str, datetime],
    ) -> None:
        for (flag, day, variation), count in sorted(
            counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or -1)
        ):
            self._exec(
                "INSERT INTO evaluation_counts (environment_id, flag_key, day, variation, count)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (environment_id, flag_key, day, variation)"
                " DO UPDATE SET count = evaluation_counts.count + excluded.count",
                (
                    environment_id,
                    flag,
                    day.isoformat(),
                    _NO_VARIATION if variation is None else variation,
                    count,
                ),
            )
        for flag, moment in sorted(last_evaluated.items()):
            self._exec(
                "INSERT INTO flag_last_evaluated (environment_id, flag_key, last_us) VALUES (?, ?, ?)"
                " ON CONFLICT (environment_id, flag_key) DO UPDATE SET last_us ="
                " CASE WHEN excluded.last_us > flag_last_evaluated.last_us THEN excluded.last_us"
                " ELSE flag_last_evaluated.last_us END",
                (environment_id, flag, to_us(moment)),
            )

    def add_event_counts(
        self, environment_id: int, counts: Mapping[tuple[str, date], tuple[int, float]]
    ) -> None:
        for (key, day), (count, value_sum) in sorted(counts.items()):
            self._exec(
                "INSERT INTO event_counts (environment_id, event_key, day, count, value_sum)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (environment_id, event_key, day) DO UPDATE SET"
                " count = event_counts.count + excluded.count,"
                " value_sum = event_counts.value_sum + excluded.value_sum",
                (environment_id, key, day.isoformat(), count, value_sum),
            )

    def flag_usage(
        self,
        project_id: int,
        environment_id: int | None,
        flag: str | None,
        since: date | None,
        until: date | None,
    ) -> list[FlagUsage]:
        where, params = _filters(project_id, environment_id, "flag_key", flag, since, until)
        rows = self._all(
            "SELECT e.key, c.flag_key, c.day, c.variation, c.count FROM evaluation_counts c"  # noqa: S608
            f" JOIN environments e ON e.id = c.environment_id WHERE {where}"
            " ORDER BY e.key, c.flag_key, c.day, c.variation",
            params,
        )
        where, params = _filters(project_id, environment_id, "flag_key", flag, None, None)
        last = {
            (r[0], r[1]): from_us(r[2])
            for r in self._all(
                "SELECT e.key, c.flag_key, c.last_us FROM flag_last_evaluated c"  # noqa: S608
                f" JOIN environments e ON e.id = c.environment_id WHERE {where}",
                params,
            )
        }
        days: dict[tuple[str, str], list[DailyCount]] = defaultdict(list)
        for env, key, day, variation, count in rows:
            days[(env, key)].append(
                DailyCount(
                    date.fromisoformat(day), None if variation == _NO_VARIATION else variation, int(count)
                )
            )
        project = self._req("SELECT key FROM projects WHERE id = ?", (project_id,))[0]
        return [
            FlagUsage(
                project=project,
                environment=env,
                flag=key,
                last_evaluated=last.get((env, key)),
                total=sum(d.count for d in days.get((env, key), ())),
                days=tuple(days.get((env, key), ())),
            )
            for env, key in sorted(set(days) | set(last))
        ]

    def event_counts(
        self,
        project_id: int,
        environment_id: int | None,
        key: str | None,
        since: date | None,
        until: date | None,
    ) -> list[EventCount]:
        where, params = _filters(project_id, environment_id, "event_key", key, since, until)
        rows = self._all(
            "SELECT e.key, c.event_key, c.day, c.count, c.value_sum FROM event_counts c"  # noqa: S608
            f" JOIN environments e ON e.id = c.environment_id WHERE {where}"
            " ORDER BY e.key, c.event_key, c.day",
            params,
        )
        return [EventCount(r[0], r[1], date.fromisoformat(r[2]), int(r[3]), float(r[4])) for r in rows]
