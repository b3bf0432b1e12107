"""The SDK data plane's routes (snapshot, stream, events) and operational ones (health, readiness, metrics).

Wiring only; `create_app` builds one `Hub(service, ...)` per app, passes it here with the app's shared
`Authenticator`, wraps the app in `sdk_middleware(hub)`, stores it as `app.state.hub` (so `vexil serve` can
end streams on SIGTERM) and closes it with `await hub.aclose()` on lifespan shutdown.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._auth import Authenticator
from ._backend import DataPlaneBackend
from ._hub import Hub
from ._ingest import EventsEndpoint
from ._metrics import RequestMetricsMiddleware
from ._settings import ServerSettings
from ._snapshot import SnapshotEndpoint
from ._stream import StreamEndpoint

SNAPSHOT_PATH = "/sdk/v1/snapshot"
STREAM_PATH = "/sdk/v1/stream"
EVENTS_PATH = "/events/v1/bulk"


def new_hub(service: DataPlaneBackend, settings: ServerSettings) -> Hub:
    """The hub `create_app` should pass to `sdk_routes` (heartbeat interval from the settings)."""
    return Hub(service, heartbeat_seconds=settings.heartbeat_seconds)


def sdk_middleware(hub: Hub) -> list[Middleware]:
    """Request counts and latencies for every route, into the hub's metrics registry."""
    return [Middleware(RequestMetricsMiddleware, metrics=hub.metrics)]


def sdk_routes(
    service: DataPlaneBackend,
    settings: ServerSettings,
    hub: Hub | None = None,
    *,
    auth: Authenticator | None = None,
) -> list[BaseRoute]:
    """The data-plane routes. Pass the app's `hub` (else they make their own, which nothing closes on
    SIGTERM) and the admin API's `auth`, so that revoking a key applies here at once and ends its streams."""
    hub = hub or new_hub(service, settings)
    auth = auth or Authenticator(service, ttl=settings.auth_cache_seconds)
    auth.on_forget(hub.revoke_key)  # revoked through this app: end its streams now
    hub.on_revoked(auth.forget)  # found revoked at a heartbeat (another process): drop it from the cache

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Ready: the database answers and the server is not shutting down. While the database is down the
        data plane still serves cached snapshots, but a load balancer should prefer another replica."""
        if hub.closed:
            return JSONResponse({"status": "unavailable", "detail": "shutting down"}, status_code=503)
        if not await run_in_threadpool(service.ping):
            return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def metrics(request: Request) -> Response:
        return Response(hub.metrics.render(), media_type=hub.metrics.content_type)

    return [
        Route(SNAPSHOT_PATH, SnapshotEndpoint(hub, auth), methods=["GET", "HEAD"], name="sdk_snapshot"),
        Route(STREAM_PATH, StreamEndpoint(hub, auth), methods=["GET"], name="sdk_stream"),
        Route(
            EVENTS_PATH,
            EventsEndpoint(service, auth, hub.metrics, max_body_bytes=settings.max_body_bytes),
            methods=["POST"],
            name="events_bulk",
        ),
        Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz"),
        Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
        Route("/metrics", metrics, methods=["GET"], name="metrics"),
    ]
