"""`GET /sdk/v1/stream`: server-sent events: `put` on connect, then `patch`/`delete` frames and heartbeats.

Raw ASGI: one task per client plus a disconnect watcher; frames come pre-encoded from the hub, so this
module only moves bytes and never reads the database itself.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import Message, Receive, Scope, Send

from vexil.service import NotFound, Unavailable

from ._auth import Authenticator
from ._hub import Hub, HubClosedError
from ._problems import ProblemError, ProblemType, unavailable
from ._sdk_http import sdk_target, send_problem
from ._subscriber import Subscriber

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # ask reverse proxies (nginx) not to buffer the stream
]


async def _watch_disconnect(receive: Receive, subscriber: Subscriber) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            subscriber.close()
            return


class StreamEndpoint:
    def __init__(self, hub: Hub, auth: Authenticator) -> None:
        self.hub = hub
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            target = await sdk_target(scope, self._auth)
            subscriber = self.hub.subscribe(
                target.environment_id, client_side=target.client_side, key_id=target.principal.key_id
            )
        except ProblemError as problem:
            await send_problem(problem, scope, receive, send)
            return
        except HubClosedError:
            await self._unavailable(scope, receive, send)
            return
        watcher = asyncio.get_running_loop().create_task(_watch_disconnect(receive, subscriber))
        try:
            await self._serve(subscriber, target.environment_id, target.client_side, scope, receive, send)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self.hub.unsubscribe(subscriber)

    async def _serve(
        self,
        subscriber: Subscriber,
        environment_id: int,
        client_side: bool,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        try:
            snapshot = await self.hub.snapshot(environment_id, client_side=client_side)
        except NotFound:
            gone = ProblemError.at(
                ProblemType.NOT_FOUND, "Authorization", "the key's environment no longer exists"
            )
            await send_problem(gone, scope, receive, send)
            return
        except Unavailable as exc:  # a stream needs a fresh `put`; the client retries after Retry-After
            await send_problem(unavailable(exc.message), scope, receive, send)
            return
        subscriber.version = snapshot.version
        headers = [*_HEADERS, (b"x-vexil-snapshot-version", str(snapshot.version).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": snapshot.put_frame, "more_body": True})
        while (frames := await subscriber.next_frames()) is not None:
            body: Message = {"type": "http.response.body", "body": b"".join(frames), "more_body": True}
            await send(body)
        # A clean end of the chunked body: the client sees EOF and reconnects (to another replica).
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b"the server is shutting down: reconnect (to another replica)\n"
        headers = [
            (b"retry-after", b"1"),
            (b"content-type", b"text/plain"),
            (b"content-length", b"%d" % len(body)),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
