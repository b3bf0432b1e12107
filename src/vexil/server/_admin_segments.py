"""Admin routes for segments, which live in one environment:
`/api/v1/projects/{project}/environments/{env}/segments[/{segment}]`.

HTTP only: parse, call the use case in the thread pool, render; the service checks permissions.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._admin_http import (
    AdminContext,
    actor,
    call,
    json_object,
    listing,
    no_content,
    param,
    resource,
    resource_route,
    url,
    write_options,
)


class SegmentRoutes:
    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx
        self._service = ctx.service

    def routes(self) -> list[Route]:
        base = "/api/v1/projects/{project}/environments/{env}/segments"
        return [
            resource_route(base, {"GET": self.list_segments, "POST": self.create_segment}, "segments"),
            resource_route(
                base + "/{segment}",
                {
                    "GET": self.get_segment,
                    "PUT": self.replace_segment,
                    "PATCH": self.patch_segment,
                    "DELETE": self.delete_segment,
                },
                "segment",
            ),
        ]

    async def list_segments(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(self._service.list_segments, who, param(request, "project"), param(request, "env"))
        return listing(found)

    async def create_segment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request, await json_object(request, self._ctx.settings))
        project, env = param(request, "project"), param(request, "env")
        created = await call(
            self._service.create_segment, who, project, env, write.body, comment=write.comment
        )
        return resource(
            created,
            status=201,
            location=url("projects", project, "environments", env, "segments", created.key),
        )

    async def get_segment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(
            self._service.get_segment,
            who,
            param(request, "project"),
            param(request, "env"),
            param(request, "segment"),
        )
        return resource(found)

    async def replace_segment(self, request: Request) -> Response:
        return await self._update(request, merge_patch=False)

    async def patch_segment(self, request: Request) -> Response:
        return await self._update(request, merge_patch=True)

    async def _update(self, request: Request, *, merge_patch: bool) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(
            request, await json_object(request, self._ctx.settings, merge_patch=merge_patch)
        )
        use_case = self._service.patch_segment if merge_patch else self._service.replace_segment
        updated = await call(
            use_case,
            who,
            param(request, "project"),
            param(request, "env"),
            param(request, "segment"),
            write.body,
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return resource(updated)

    async def delete_segment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request)
        await call(
            self._service.delete_segment,
            who,
            param(request, "project"),
            param(request, "env"),
            param(request, "segment"),
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return no_content()
