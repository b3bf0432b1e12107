"""Use cases for reading the audit log and for events ingestion (evaluation summaries, custom events).

Audit entries are written by the other use cases in their own transactions; this module only reads them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime

from vexil.engine import Problem

from ._access import KeyKind, Principal
from ._base import ServiceBase
from ._documents import KEY_PATTERN, raise_if, storable
from ._errors import Forbidden, ValidationFailed
from ._records import AuditPage, AuditQuery, CustomEvent, EvaluationSummary, EventCount, FlagUsage

MAX_AUDIT_PAGE = 500
_MAX_INT = 2**63 - 1
#: Per-summary bound so that daily sums stay exact in a BIGINT (and in JSON numbers).
_MAX_COUNT = 2**53


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AuditEventUseCases(ServiceBase):
    def query_audit(self, actor: Principal, query: AuditQuery) -> AuditPage:
        """Audit entries matching `query`, newest first; scoped actors see only their projects."""
        if query.project is not None:
            self._need_read(actor, query.project)
        else:
            self._need(actor.kind is KeyKind.ADMIN and actor.role is not None, actor, "read the audit log")
        problems = [
            Problem(name, "must not contain NUL characters or unpaired surrogates")
            for name, value in (
                ("project", query.project),
                ("environment", query.environment),
                ("flag", query.flag),
                ("cursor", query.cursor),
            )
            if value is not None and not storable(value)
        ]
        if not 1 <= query.limit <= MAX_AUDIT_PAGE:
            problems.append(Problem("limit", f"must be between 1 and {MAX_AUDIT_PAGE}"))
        before_id = None
        if query.cursor is not None:
            if not query.cursor.isdigit() or not 0 < int(query.cursor) <= _MAX_INT:
                problems.append(Problem("cursor", "is not a cursor this API returned"))
            else:
                before_id = int(query.cursor)
        raise_if(problems)
        with self._store.read() as tx:
            rows = tx.query_audit(query, actor.projects, before_id, query.limit + 1)
        entries = tuple(rows[: query.limit])
        more = len(rows) > query.limit
        return AuditPage(entries=entries, next_cursor=str(entries[-1].id) if more else None)

    def record_events(
        self,
        actor: Principal,
        evaluations: Sequence[EvaluationSummary],
        custom: Sequence[CustomEvent] = (),
    ) -> None:
        """Add an SDK's evaluation summaries and custom events to the per-day counts of its environment."""
        if actor.kind is KeyKind.ADMIN or actor.environment_id is None:
            raise Forbidden(f"key {actor.name!r} is not an SDK key: events need a server or client key")
        problems: list[Problem] = []
        counts: dict[tuple[str, date, int | None], int] = defaultdict(int)
        last: dict[str, datetime] = {}
        now = self._now()
        for i, summary in enumerate(evaluations):
            if not KEY_PATTERN.fullmatch(summary.flag):
                problems.append(Problem(f"evaluations[{i}].flag", "must be a flag key"))
            if not 0 <= summary.count <= _MAX_COUNT or not 0 <= (summary.variation or 0) <= _MAX_COUNT:
                problems.append(Problem(f"evaluations[{i}]", "count and variation must be in 0..2**53"))
            # SDK clocks may run ahead; the server's clock bounds what "last evaluated" can claim.
            end = min(_utc(summary.window_end), now)
            counts[(summary.flag, end.date(), summary.variation)] += summary.count
            last[summary.flag] = max(last.get(summary.flag, end), end)
        events: dict[tuple[str, date], tuple[int, float]] = {}
        for i, event in enumerate(custom):
            if not KEY_PATTERN.fullmatch(event.key) or not 0 <= event.count <= _MAX_COUNT:
                problems.append(Problem(f"custom[{i}]", "needs an event key and a non-negative count"))
            day = min(_utc(event.time), now).date()
            count, total = events.get((event.key, day), (0, 0.0))
            events[(event.key, day)] = (count + event.count, total + (event.value or 0.0))
        if problems:
            raise ValidationFailed(problems)
        with self._store.write() as tx:
            if counts:
                tx.add_evaluation_counts(actor.environment_id, counts, last)
            if events:
                tx.add_event_counts(actor.environment_id, events)

    def flag_usage(
        self,
        actor: Principal,
        project: str,
        *,
        environment: str | None = None,
        flag: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[FlagUsage]:
        """Evaluation counts per flag and environment by day (`since`..`until` inclusive), last evaluation.

        An unknown project, environment or flag is `NotFound` (a known flag never evaluated has no rows).
        """
        self._need_read(actor, project)
        with self._store.read() as tx:
            owner = self._project(tx, project)
            env_id = self._environment(tx, owner, environment).id if environment is not None else None
            if flag is not None:
                self._flag(tx, owner, flag)
            return tx.flag_usage(owner.id, env_id, flag, since, until)

    def event_counts(
        self,
        actor: Principal,
        project: str,
        *,
        environment: str | None = None,
        key: str | None = None,
        since: date | None = None,
        until: date | None = None,
    ) -> list[EventCount]:
        """Custom-event counts per environment, key and day (`since`..`until` inclusive)."""
        self._need_read(actor, project)
        if key is not None and not storable(key):
            raise ValidationFailed([Problem("key", "must not contain NUL characters or unpaired surrogates")])
        with self._store.read() as tx:
            owner = self._project(tx, project)
            env_id = self._environment(tx, owner, environment).id if environment is not None else None
            return tx.event_counts(owner.id, env_id, key, since, until)
