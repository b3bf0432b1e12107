"""What the shared SQL code needs from a backend (`Dialect`), value conversions, and the query helpers.

SQL here is written once with `?` placeholders; a dialect rewrites it. No connection or pool handling.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from vexil.service import AlreadyExists

Row = tuple[Any, ...]


class Connection(Protocol):
    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """The few differences between SQLite and PostgreSQL that the shared queries care about."""

    name: str
    placeholder: str
    for_update: str
    global_lock_sql: str | None
    notify_sql: str | None
    is_unique_violation: Callable[[BaseException], bool]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """Times are stored as UTC epoch microseconds (BIGINT) so both backends compare them the same way."""
    delta = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def from_us_opt(value: int | None) -> datetime | None:
    return None if value is None else from_us(value)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SqlBase:
    """Executes dialect-adjusted SQL on one connection inside an already-open transaction."""

    def __init__(self, conn: Connection, dialect: Dialect, *, change_retention: int = 1000) -> None:
        self._conn = conn
        self._dialect = dialect
        self._retention = change_retention
        self.notices: list[tuple[int, int]] = []

    def _sql(self, sql: str) -> str:
        return sql if self._dialect.placeholder == "?" else sql.replace("?", self._dialect.placeholder)

    def _exec(self, sql: str, params: Sequence[Any] = (), *, kind: str = "", key: str = "") -> Any:
        try:
            return self._conn.execute(self._sql(sql), tuple(params))
        except Exception as exc:  # translate only unique violations; everything else propagates unchanged
            if kind and self._dialect.is_unique_violation(exc):
                raise AlreadyExists(kind, key) from exc
            raise

    def _one(self, sql: str, params: Sequence[Any] = (), **where: str) -> Row | None:
        row = self._exec(sql, params, **where).fetchone()
        return tuple(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in self._exec(sql, params).fetchall()]

    def _req(self, sql: str, params: Sequence[Any] = (), **where: str) -> Row:
        row = self._one(sql, params, **where)
        if row is None:
            raise LookupError("a row that must exist is missing")  # a bug, not a user error
        return row
