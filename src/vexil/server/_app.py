"""The app factory: `create_app(service, settings)` wires the admin API, the OpenAPI document, the SDK data
plane and the error handling into one Starlette app, explicitly (no globals, nothing at import time).

Composition only: each route group lives in its own module; this is the one place that catches everything.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vexil.service import Service, ServiceError
from vexil.ui import ui_routes

from ._admin_apply import apply_routes
from ._admin_audit import AuditRoutes
from ._admin_flags import FlagRoutes
from ._admin_http import COMMENT_HEADER, AdminContext
from ._admin_keys import KeyRoutes
from ._admin_projects import ProjectRoutes
from ._admin_segments import SegmentRoutes
from ._auth import Authenticator
from ._ofrep import ofrep_routes
from ._openapi import openapi_route
from ._problems import ProblemError, internal_error, problem_handler
from ._sdk import new_hub, sdk_middleware, sdk_routes
from ._settings import ServerSettings

logger = logging.getLogger("vexil.server")


def admin_routes(ctx: AdminContext) -> list[BaseRoute]:
    """`/api/v1/...`: every admin resource and the OpenAPI document."""
    groups = (ProjectRoutes, FlagRoutes, SegmentRoutes, KeyRoutes, AuditRoutes)
    routes: list[BaseRoute] = [route for group in groups for route in group(ctx).routes()]
    routes += apply_routes(ctx)
    routes.append(openapi_route())
    return routes


def create_app(service: Service, settings: ServerSettings) -> Starlette:
    """The ASGI app of `vexil serve`. The caller owns `service` (and its store) and closes it after.

    `app.state.hub` is the data plane's hub, so the serve command can end streams on SIGTERM.
    """
    ctx = AdminContext(service, settings, Authenticator(service, ttl=settings.auth_cache_seconds))
    hub = new_hub(service, settings)
    data_plane = sdk_routes(service, settings, hub, auth=ctx.auth)  # before the admin API's ~20 routes
    routes = [*data_plane, *admin_routes(ctx), *ui_routes(service, settings)]
    routes[:0] = ofrep_routes(service, settings, hub, auth=ctx.auth)  # hot paths: matched first
    # Outermost first: metrics see every response, including the last-resort 500.
    middleware = [*sdk_middleware(hub)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", COMMENT_HEADER],
                expose_headers=["ETag", "Location", "Link"],
            )
        )
    middleware.append(Middleware(LastResort))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.aclose()

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            ProblemError: problem_handler,
            ServiceError: problem_handler,
            HTTPException: problem_handler,
        },
        lifespan=lifespan,
    )
    app.state.hub = hub
    return app


class LastResort:
    """Pure ASGI middleware: an exception nothing else handled is a bug; log it (never headers, so never
    a key) and answer a problem 500 instead of dropping the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            logger.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for a problem response; the server closes the connection
            await internal_error()(scope, receive, send)
