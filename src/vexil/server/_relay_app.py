"""The relay app: `create_relay_app(relay, settings)` serves mirrored environments with the server's own data
plane (`/sdk/v1/snapshot`, `/sdk/v1/stream`, `/events/v1/bulk`, OFREP) over a `RelayBackend`, and runs the
upstream syncs, the disk cache and the event forwarder for the app's lifetime.

Composition root of the relay (it may use the SDK, protocol and engine); no rule of its own lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from vexil import __version__
from vexil.service import ServiceError

from ._app import LastResort
from ._auth import Authenticator
from ._hub import Hub
from ._ofrep import ofrep_routes
from ._problems import ProblemError, problem_handler
from ._relay_backend import RelayBackend
from ._relay_cache import CacheWriter, cache_path, read_environment
from ._relay_events import EventBuffer, EventForwarder
from ._relay_keys import RelayKeys
from ._relay_mirror import Mirror
from ._relay_settings import RelaySettings
from ._relay_status import RelayCollector, readiness
from ._relay_upstream import UpstreamSync
from ._sdk import sdk_middleware, sdk_routes
from ._settings import ServerSettings

logger = logging.getLogger("vexil.relay")
USER_AGENT = f"vexil-relay/{__version__}"
#: On shutdown, buffered events get this long to reach the upstream.
_FINAL_FLUSH_SECONDS = 3.0


class RelayRuntime:
    """The relay's background work: load the disk cache, sync each environment, forward events."""

    def __init__(
        self, relay: RelaySettings, backend: RelayBackend, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._relay = relay
        self._backend = backend
        self._transport = transport
        self._clients: dict[int, httpx.AsyncClient] = {}
        self._writers: dict[int, CacheWriter] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._forwarder: EventForwarder | None = None
        self.syncs: list[UpstreamSync] = []

    def _client(self, secret: str) -> httpx.AsyncClient:
        relay = self._relay
        return httpx.AsyncClient(
            base_url=relay.upstream,
            headers={"Authorization": f"Bearer {secret}", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(relay.request_timeout, connect=relay.connect_timeout),
            transport=self._transport,
            follow_redirects=False,
        )

    async def start(self, *, wait: float) -> None:
        """Load each environment's cached copy, start the syncs, and wait up to `wait` seconds for each
        environment's first upstream attempt (so a relay with a reachable upstream starts current)."""
        relay, backend = self._relay, self._backend
        keys, mirror = backend.keys, backend.mirror
        try:
            relay.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            logger.warning("vexil relay: cannot create the cache directory %s: %s", relay.cache_dir, exc)
        loop = asyncio.get_running_loop()
        for environment_id, secret in keys.upstream_secrets.items():
            path = cache_path(relay.cache_dir, secret)
            self._writers[environment_id] = CacheWriter(path)
            cached = await asyncio.to_thread(read_environment, path)
            if isinstance(cached, str):
                logger.info("vexil relay: no usable disk copy for environment %d: %s", environment_id, cached)
            else:
                mirror.set_names(environment_id, cached.project, cached.environment)
                mirror.load(environment_id, cached.version, cached.document, cached.synced_at)
                logger.info(
                    "vexil relay: loaded %s/%s (version %d) from the disk cache",
                    cached.project,
                    cached.environment,
                    cached.version,
                )
            client = self._clients[environment_id] = self._client(secret)
            sync = UpstreamSync(environment_id, mirror, keys, client, relay, on_applied=self._applied)
            self.syncs.append(sync)
            self._tasks.append(loop.create_task(sync.run(), name=f"vexil-relay-sync-{environment_id}"))
        self._forwarder = EventForwarder(
            backend.events,
            self._clients.__getitem__,
            interval=relay.events_interval,
            batch=relay.events_batch,
            request_timeout=relay.request_timeout,
        )
        self._tasks.append(loop.create_task(self._forwarder.run(), name="vexil-relay-events"))
        if wait > 0:
            firsts = [loop.create_task(sync.first_attempt.wait()) for sync in self.syncs]
            _, pending = await asyncio.wait(firsts, timeout=wait)
            for task in pending:
                task.cancel()

    def _applied(self, environment_id: int) -> None:
        mirror = self._backend.mirror
        current = mirror.current(environment_id)
        if current is not None:
            self._writers[environment_id].schedule(
                current, mirror.status(environment_id).last_sync or time.time()
            )

    async def stop(self) -> None:
        """Stop syncing, send what events are buffered (briefly), finish cache writes, close connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._forwarder is not None and self._backend.events.size:
            await self._forwarder.flush(time.monotonic() + _FINAL_FLUSH_SECONDS)
        for writer in self._writers.values():
            await writer.aclose()
        for client in self._clients.values():
            await client.aclose()


def create_relay_app(
    relay: RelaySettings,
    settings: ServerSettings,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    startup_wait: float = 3.0,
) -> Starlette:
    """The ASGI app of `vexil relay`. `settings` supplies the data plane's knobs (heartbeats, body limit,
    CORS, key cache); `env` the `VEXIL_OFREP_*` ones; `transport` replaces the network in tests.

    `app.state.hub` is the data plane's hub (ended on SIGTERM), `app.state.relay` the backend.
    """
    keys = RelayKeys(relay)
    backend = RelayBackend(Mirror(keys.environment_ids), keys, EventBuffer(relay.events_capacity))
    hub = Hub(backend, heartbeat_seconds=settings.heartbeat_seconds)
    hub.metrics.registry.register(RelayCollector(backend))
    auth = Authenticator(backend, ttl=settings.auth_cache_seconds)
    runtime = RelayRuntime(relay, backend, transport)

    async def readyz(request: Request) -> Response:
        status, body = readiness(backend, closing=hub.closed)
        return JSONResponse(body, status_code=status)

    # The server's data plane minus its readiness (which asks a database); the relay's own instead.
    data_plane = [
        r for r in sdk_routes(backend, settings, hub, auth=auth) if getattr(r, "name", "") != "readyz"
    ]
    routes: list[BaseRoute] = [
        *ofrep_routes(backend, settings, hub, auth=auth, env=env),
        *data_plane,
        Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
    ]
    middleware = [*sdk_middleware(hub)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "Content-Encoding", "If-None-Match"],
                expose_headers=["ETag"],
            )
        )
    middleware.append(Middleware(LastResort))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start(wait=startup_wait)
        try:
            yield
        finally:
            hub.close()
            await runtime.stop()
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
    app.state.relay = backend
    app.state.runtime = runtime
    return app
