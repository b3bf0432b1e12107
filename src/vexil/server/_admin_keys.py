"""Admin routes for API keys: `/api/v1/keys[/{id}]`. POST answers with the secret, once; DELETE revokes.

The secret is only ever in the creation response body; it is never logged, and revoking drops it from
this process's auth cache at once.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._admin_http import (
    AdminContext,
    actor,
    call,
    json_object,
    listing,
    param,
    resource_route,
    url,
    write_options,
)
from ._problems import ProblemError, ProblemType

_ID = re.compile(r"[0-9]{1,18}")


class KeyRoutes:
    def __init__(self, ctx: AdminContext) -> None:
        self._ctx = ctx
        self._service = ctx.service

    def routes(self) -> list[Route]:
        return [
            resource_route("/api/v1/keys", {"GET": self.list_keys, "POST": self.create_key}, "keys"),
            resource_route("/api/v1/keys/{id}", {"GET": self.get_key, "DELETE": self.revoke_key}, "key"),
        ]

    async def list_keys(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        return listing(await call(self._service.list_keys, who))

    async def create_key(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        write = write_options(request, await json_object(request, self._ctx.settings))
        created = await call(self._service.create_key, who, write.body, comment=write.comment)
        # no-store: the body holds a secret that must not linger in caches.
        headers = {"Location": url("keys", str(created.key.id)), "Cache-Control": "no-store"}
        return JSONResponse(created.to_dict(), status_code=201, headers=headers)

    async def get_key(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        found = await call(self._service.get_key, who, _key_id(request))
        return JSONResponse(found.to_dict())

    async def revoke_key(self, request: Request) -> Response:
        who = await actor(self._ctx, request)
        key_id = _key_id(request)
        write = write_options(request)
        revoked = await call(self._service.revoke_key, who, key_id, comment=write.comment)
        self._ctx.auth.forget(revoked.id)
        return JSONResponse(revoked.to_dict())


def _key_id(request: Request) -> int:
    raw = param(request, "id")
    if not _ID.fullmatch(raw):
        raise ProblemError.at(
            ProblemType.NOT_FOUND, "id", f"key {raw!r} not found: ids are positive integers"
        )
    return int(raw)
