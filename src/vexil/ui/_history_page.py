"""History: the audit log of a project (or of one flag or segment, or of every project the key can see),
newest first, each entry with its comment and a readable before/after diff.

Read-only; paging follows the service's opaque cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.service import AuditEntry, AuditQuery, ResourceKind

from ._diff import Change, diff
from ._http import Call, Console, page

PAGE_SIZE = 25


@dataclass(frozen=True, slots=True)
class HistoryItem:
    entry: AuditEntry
    changes: list[Change]


def history_routes(console: Console) -> list[BaseRoute]:
    async def history(call: Call) -> Response:
        nav = await call.nav()
        flag = call.query("flag").strip() or None
        segment = call.query("segment").strip() or None
        environment = call.query("environment").strip() or None
        every_project = call.query("all") == "1" and call.principal.unscoped
        cursor = call.query("cursor") or None
        query = AuditQuery(
            project=None if every_project else nav.project.key,
            environment=environment,
            flag=flag,
            limit=PAGE_SIZE if segment is None else 200,
            cursor=cursor,
        )
        audit = await call.run(call.service.query_audit, call.principal, query)
        entries = [
            e
            for e in audit.entries
            if segment is None or (e.kind is ResourceKind.SEGMENT and e.resource == segment)
        ]
        items = [HistoryItem(e, diff(e.before or {}, e.after or {})) for e in entries]
        params = {
            k: v for k, v in {"flag": flag, "segment": segment, "environment": environment}.items() if v
        }
        if every_project:
            params["all"] = "1"
        older = (
            f"{nav.url('history')}?{urlencode({**params, 'cursor': audit.next_cursor})}"
            if audit.next_cursor
            else None
        )
        return call.render(
            "history.html",
            nav=nav,
            items=items,
            flag=flag,
            segment=segment,
            environment=environment,
            every_project=every_project,
            older=older,
            first_page=cursor is None,
        )

    return [Route("/p/{project}/{env}/history", page(console, history), methods=["GET"], name="ui-history")]
