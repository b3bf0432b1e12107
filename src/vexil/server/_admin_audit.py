"""Admin route for the audit log: `GET /api/v1/audit`, newest first, cursor-paginated (body and Link header).

HTTP only: query parsing and pagination links; the service filters by the caller's scope.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vexil.service import AuditQuery

from ._admin_http import AdminContext, actor, call, resource_route
from ._admin_query import Query

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR_LENGTH = 100
_PARAMS = ("project", "environment", "flag", "since", "until", "limit", "cursor")


class AuditRoutes:
    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx
        self._service = ctx.service

    def routes(self) -> list[Route]:
        return [resource_route("/api/v1/audit", {"GET": self.query}, "audit")]

    async def query(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        params = Query(request, _PARAMS)
        query = AuditQuery(
            project=params.key("project"),
            environment=params.key("environment"),
            flag=params.key("flag"),
            since=params.time("since"),
            until=params.time("until"),
            limit=params.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            cursor=params.text("cursor", MAX_CURSOR_LENGTH),
        )
        page = await call(self._service.query_audit, who, query)
        body = {"items": [entry.to_dict() for entry in page.entries], "next_cursor": page.next_cursor}
        headers = {}
        if page.next_cursor is not None:
            kept = [(name, value) for name, value in request.query_params.multi_items() if name != "cursor"]
            link = f"{request.url.path}?{urlencode([*kept, ('cursor', page.next_cursor)])}"
            headers["Link"] = f'<{link}>; rel="next"'
        return JSONResponse(body, headers=headers)
