"""Admin routes for flags: definitions (`/flags[/{flag}]`), per-environment targeting
(`/flags/{flag}/environments[/{env}]`, where the kill switch is `PATCH {"on": false}`) and usage counts.

HTTP only: parse, call the use case in the thread pool, render; the service checks permissions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vexil.service import FlagUsage, Principal

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
from ._admin_query import Query


class FlagRoutes:
    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx
        self._service = ctx.service

    def routes(self) -> list[Route]:
        base = "/api/v1/projects/{project}/flags"
        return [
            resource_route(base, {"GET": self.list_flags, "POST": self.create_flag}, "flags"),
            resource_route(
                base + "/{flag}",
                {
                    "GET": self.get_flag,
                    "PUT": self.replace_flag,
                    "PATCH": self.patch_flag,
                    "DELETE": self.delete_flag,
                },
                "flag",
            ),
            resource_route(base + "/{flag}/environments", {"GET": self.list_targeting}, "flag_targeting"),
            resource_route(
                base + "/{flag}/environments/{env}",
                {"GET": self.get_targeting, "PUT": self.replace_targeting, "PATCH": self.patch_targeting},
                "targeting",
            ),
            resource_route(base + "/{flag}/usage", {"GET": self.usage}, "flag_usage"),
        ]

    # -- definitions

    async def list_flags(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return listing(await call(self._service.list_flags, who, param(request, "project")))

    async def create_flag(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request, await json_object(request, self._ctx.settings))
        project = param(request, "project")
        created = await call(self._service.create_flag, who, project, write.body, comment=write.comment)
        return resource(created, status=201, location=url("projects", project, "flags", created.key))

    async def get_flag(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return resource(
            await call(self._service.get_flag, who, param(request, "project"), param(request, "flag"))
        )

    async def replace_flag(self, request: Request) -> Response:
        return await self._update_flag(request, merge_patch=False)

    async def patch_flag(self, request: Request) -> Response:
        return await self._update_flag(request, merge_patch=True)

    async def _update_flag(self, request: Request, *, merge_patch: bool) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(
            request, await json_object(request, self._ctx.settings, merge_patch=merge_patch)
        )
        use_case = self._service.patch_flag if merge_patch else self._service.replace_flag
        updated = await call(
            use_case,
            who,
            param(request, "project"),
            param(request, "flag"),
            write.body,
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return resource(updated)

    async def delete_flag(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request)
        await call(
            self._service.delete_flag,
            who,
            param(request, "project"),
            param(request, "flag"),
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return no_content()

    # -- targeting

    async def list_targeting(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(
            self._service.list_flag_targeting, who, param(request, "project"), param(request, "flag")
        )
        return listing(found)

    async def get_targeting(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(
            self._service.get_targeting,
            who,
            param(request, "project"),
            param(request, "flag"),
            param(request, "env"),
        )
        return resource(found)

    async def replace_targeting(self, request: Request) -> Response:
        return await self._update_targeting(request, merge_patch=False)

    async def patch_targeting(self, request: Request) -> Response:
        return await self._update_targeting(request, merge_patch=True)

    async def _update_targeting(self, request: Request, *, merge_patch: bool) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(
            request, await json_object(request, self._ctx.settings, merge_patch=merge_patch)
        )
        use_case = self._service.patch_targeting if merge_patch else self._service.replace_targeting
        updated = await call(
            use_case,
            who,
            param(request, "project"),
            param(request, "flag"),
            param(request, "env"),
            write.body,
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return resource(updated)

    # -- usage

    async def usage(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        query = Query(request, {"environment", "since", "until"})
        environment = query.key("environment")
        since, until = query.day("since"), query.day("until")
        project, flag = param(request, "project"), param(request, "flag")
        usage = await call(self._usage, who, project, flag, environment, since, until)
        body: dict[str, Any] = {"project": project, "flag": flag, "items": [u.to_dict() for u in usage]}
        return JSONResponse(body)

    def _usage(
        self,
        who: Principal,
        project: str,
        flag: str,
        environment: str | None,
        since: date | None,
        until: date | None,
    ) -> list[FlagUsage]:
        self._service.get_flag(who, project, flag)  # 404 for an unknown flag rather than an empty list
        return self._service.flag_usage(
            who, project, environment=environment, flag=flag, since=since, until=until
        )
