"""Admin routes for projects and their environments: `/api/v1/projects[/{project}[/environments[/{env}]]]`.

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


class ProjectRoutes:
    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx
        self._service = ctx.service

    def routes(self) -> list[Route]:
        base = "/api/v1/projects"
        return [
            resource_route(base, {"GET": self.list_projects, "POST": self.create_project}, "projects"),
            resource_route(
                base + "/{project}",
                {
                    "GET": self.get_project,
                    "PUT": self.replace_project,
                    "PATCH": self.patch_project,
                    "DELETE": self.delete_project,
                },
                "project",
            ),
            resource_route(
                base + "/{project}/environments",
                {"GET": self.list_environments, "POST": self.create_environment},
                "environments",
            ),
            resource_route(
                base + "/{project}/environments/{env}",
                {
                    "GET": self.get_environment,
                    "PUT": self.replace_environment,
                    "PATCH": self.patch_environment,
                    "DELETE": self.delete_environment,
                },
                "environment",
            ),
        ]

    # -- projects

    async def list_projects(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return listing(await call(self._service.list_projects, who))

    async def create_project(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request, await json_object(request, self._ctx.settings))
        created = await call(self._service.create_project, who, write.body, comment=write.comment)
        return resource(created, status=201, location=url("projects", created.key))

    async def get_project(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return resource(await call(self._service.get_project, who, param(request, "project")))

    async def replace_project(self, request: Request) -> Response:
        return await self._update(request, merge_patch=False)

    async def patch_project(self, request: Request) -> Response:
        return await self._update(request, merge_patch=True)

    async def _update(self, request: Request, *, merge_patch: bool) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(
            request, await json_object(request, self._ctx.settings, merge_patch=merge_patch)
        )
        use_case = self._service.patch_project if merge_patch else self._service.replace_project
        updated = await call(
            use_case,
            who,
            param(request, "project"),
            write.body,
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return resource(updated)

    async def delete_project(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request)
        await call(
            self._service.delete_project,
            who,
            param(request, "project"),
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return no_content()

    # -- environments

    async def list_environments(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return listing(await call(self._service.list_environments, who, param(request, "project")))

    async def create_environment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request, await json_object(request, self._ctx.settings))
        project = param(request, "project")
        created = await call(
            self._service.create_environment, who, project, write.body, comment=write.comment
        )
        return resource(created, status=201, location=url("projects", project, "environments", created.key))

    async def get_environment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(
            self._service.get_environment, who, param(request, "project"), param(request, "env")
        )
        return resource(found)

    async def replace_environment(self, request: Request) -> Response:
        return await self._update_environment(request, merge_patch=False)

    async def patch_environment(self, request: Request) -> Response:
        return await self._update_environment(request, merge_patch=True)

    async def _update_environment(self, request: Request, *, merge_patch: bool) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(
            request, await json_object(request, self._ctx.settings, merge_patch=merge_patch)
        )
        use_case = self._service.patch_environment if merge_patch else self._service.replace_environment
        updated = await call(
            use_case,
            who,
            param(request, "project"),
            param(request, "env"),
            write.body,
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return resource(updated)

    async def delete_environment(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request)
        await call(
            self._service.delete_environment,
            who,
            param(request, "project"),
            param(request, "env"),
            expected_version=write.expected_version,
            comment=write.comment,
        )
        return no_content()
