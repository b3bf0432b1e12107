"""`GET /ofrep/v1/stream?channel=TOKEN`: OFREP's SSE change notices (`refetchEvaluation`), from the hub.

Rides on the data plane hub's per-environment fan-out: any change frame becomes one refetch notice carrying
the new configuration's `etag`. It sends no flag data and never reads the database except to check a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from vexil.protocol import encode_comment, encode_event
from vexil.service import NotFound, Principal

from ._backend import KeyDirectory
from ._hub import Hub, HubClosedError
from ._ofrep_cache import EnvironmentView, ViewCache
from ._ofrep_http import Caller, method_not_allowed, rate_limited, send_problem
from ._ofrep_limit import RateLimiter
from ._ofrep_links import StreamLinks
from ._ofrep_results import encode
from ._problems import ProblemError, ProblemType, unauthorized
from ._sdk_http import header
from ._subscriber import Subscriber

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
#: Suggested EventSource reconnection delay (ms).
_RETRY_MS = 1000


def refetch_event(view: EnvironmentView) -> bytes:
    data = encode({"type": "refetchEvaluation", "etag": view.config_etag})
    return encode_event(data, event="message", id=str(view.version))


class KeyCheck:
    """Is a stream token's key still live and of that environment? Cached for `ttl` seconds (revocation
    delay), so a reconnect storm after a restart costs one database read per key, not per browser."""

    def __init__(self, service: KeyDirectory, ttl: float) -> None:
        self._service = service
        self._ttl = ttl
        self._cache: dict[int, tuple[bool, float, int | None]] = {}

    async def live(self, environment_id: int, key_id: int) -> bool:
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is None or hit[1] <= now:
            live, key_environment = await run_in_threadpool(self._lookup, key_id)
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = self._cache[key_id] = (live, now + self._ttl, key_environment)
        return hit[0] and hit[2] == environment_id

    def _lookup(self, key_id: int) -> tuple[bool, int | None]:
        try:
            key = self._service.get_key(Principal.system("ofrep-stream"), key_id)
        except NotFound:
            return False, None
        return not key.revoked, key.environment_id


async def _watch_disconnect(receive: Receive, subscriber: Subscriber) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            subscriber.close()
            return


class OfrepStreamEndpoint:
    def __init__(
        self, hub: Hub, views: ViewCache, links: StreamLinks, keys: KeyCheck, limiter: RateLimiter
    ) -> None:
        self._hub = hub
        self._views = views
        self._links = links
        self._keys = keys
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "GET":
            await method_not_allowed("GET", scope, receive, send)
            return
        token = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("channel", "")
        found = self._links.verify(token)
        if found is None or not await self._keys.live(*found):
            problem = unauthorized("the stream link is invalid or its key was revoked", invalid_token=True)
            await send_problem(problem, scope, receive, send)
            return
        environment_id, key_id = found
        if await rate_limited(self._limiter, Caller(key_id, environment_id, client_side=False), send):
            return
        try:
            # Before reading the view, so that no change can fall between the two.
            subscriber = self._hub.subscribe(environment_id, client_side=False)
        except HubClosedError:
            await _unavailable(send)
            return
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, subscriber))
        try:
            await self._serve(subscriber, environment_id, scope, receive, send)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._hub.unsubscribe(subscriber)

    async def _serve(
        self, subscriber: Subscriber, environment_id: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            view = await self._views.view(environment_id)
        except NotFound:
            gone = ProblemError.at(
                ProblemType.NOT_FOUND, "channel", "the stream's environment no longer exists"
            )
            await send_problem(gone, scope, receive, send)
            return
        subscriber.version = view.version
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        first = b"retry: %d\n\n" % _RETRY_MS
        # A client that has not seen this version (a first connect, or changes while it was away) refetches
        # now: that also closes the gap between its last bulk evaluation and this connection.
        if header(scope, b"last-event-id") != str(view.version):
            first += refetch_event(view)
        else:
            first += encode_comment("up to date")
        await send({"type": "http.response.body", "body": first, "more_body": True})
        sent = view.version
        while (frames := await subscriber.next_frames()) is not None:
            out = [frame for frame in frames if frame.startswith(b":")]  # heartbeats pass through
            if len(out) < len(frames):
                view = await self._views.view(environment_id)
                if view.version > sent:
                    out.append(refetch_event(view))
                    sent = view.version
            if out:
                await send({"type": "http.response.body", "body": b"".join(out), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _unavailable(send: Send) -> None:
    body = b"the server is shutting down: reconnect (to another replica)\n"
    headers = [
        (b"retry-after", b"1"),
        (b"content-type", b"text/plain"),
        (b"content-length", b"%d" % len(body)),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
