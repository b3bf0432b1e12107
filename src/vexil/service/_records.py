"""Audit entries and queries, and the events-ingestion inputs and usage outputs.

Values only; the use cases in `_audit_events.py` read and write them through the store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from ._models import JsonObject, ResourceKind, iso


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """`id` is 0 until stored. `before`/`after` are API representations (None on create/delete)."""

    id: int
    time: datetime
    actor: str
    actor_key_id: int | None
    project: str | None
    environment: str | None
    kind: ResourceKind
    resource: str
    action: AuditAction
    before: JsonObject | None
    after: JsonObject | None
    comment: str | None

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "time": iso(self.time),
            "actor": self.actor,
            "actor_key_id": self.actor_key_id,
            "project": self.project,
            "environment": self.environment,
            "kind": self.kind.value,
            "resource": self.resource,
            "action": self.action.value,
            "before": self.before,
            "after": self.after,
            "comment": self.comment,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters (all optional, combined with AND); `flag` matches flag definition and targeting entries.

    `since` is inclusive, `until` exclusive. `cursor` is the `next_cursor` of the previous page.
    """

    project: str | None = None
    environment: str | None = None
    flag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Newest first; `next_cursor` is None on the last page."""

    entries: tuple[AuditEntry, ...]
    next_cursor: str | None

    def to_dict(self) -> JsonObject:
        return {"entries": [e.to_dict() for e in self.entries], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class EvaluationSummary:
    """An SDK's count of evaluations of one flag variation in a window (variation None: default served)."""

    flag: str
    variation: int | None
    version: int | None
    count: int
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True, slots=True)
class CustomEvent:
    """A custom (metric) event; stored aggregated per key and day (count and sum of `value`)."""

    key: str
    time: datetime
    value: float | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class DailyCount:
    day: date
    variation: int | None
    count: int

    def to_dict(self) -> JsonObject:
        return {"day": self.day.isoformat(), "variation": self.variation, "count": self.count}


@dataclass(frozen=True, slots=True)
class FlagUsage:
    """Evaluation counts of one flag in one environment, by day and variation, oldest day first."""

    project: str
    environment: str
    flag: str
    last_evaluated: datetime | None
    total: int
    days: tuple[DailyCount, ...] = field(default=())

    def to_dict(self) -> JsonObject:
        return {
            "project": self.project,
            "environment": self.environment,
            "flag": self.flag,
            "last_evaluated": iso(self.last_evaluated) if self.last_evaluated else None,
            "total": self.total,
            "days": [d.to_dict() for d in self.days],
        }


@dataclass(frozen=True, slots=True)
class EventCount:
    """Custom events of one key in one environment on one day."""

    environment: str
    key: str
    day: date
    count: int
    value_sum: float

    def to_dict(self) -> JsonObject:
        return {
            "environment": self.environment,
            "key": self.key,
            "day": self.day.isoformat(),
            "count": self.count,
            "value_sum": self.value_sum,
        }
