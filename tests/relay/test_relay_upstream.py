"""The upstream sync and the event forwarder against a scripted upstream (httpx.MockTransport): reconnects,
catching up after a reconnect, polling when streaming keeps failing, a rejected key, and event batches."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from vexil.protocol import Delete, ItemKind, Patch, Put, SummaryEvent, encode_comment, encode_sse
from vexil.server import RelaySettings
from vexil.server._relay_events import EventBuffer, EventForwarder
from vexil.server._relay_keys import RelayKeys
from vexil.server._relay_mirror import Mirror
from vexil.server._relay_upstream import UpstreamSync
from vexil.service import Change

SERVER, CLIENT = "vxs_" + "s" * 43, "vxc_" + "c" * 43
Handler = Callable[[httpx.Request], Any]


def flag(key: str, version: int, on: bool = True) -> dict[str, Any]:
    return {"key": key, "on": on, "variations": [False, True], "version": version}


def doc(*flags: dict[str, Any]) -> dict[str, Any]:
    return {"flags": {f["key"]: f for f in flags}, "segments": {}}


class Body(httpx.AsyncByteStream):
    """An SSE body: the given frames, then either the end or a wait until the test is over."""

    def __init__(self, frames: list[bytes], hang: asyncio.Event | None = None) -> None:
        self._frames = frames
        self._hang = hang

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for frame in self._frames:
            yield frame
        if self._hang is not None:
            await self._hang.wait()


def sse(frames: list[bytes], hang: asyncio.Event | None = None) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Body(frames, hang))


class Upstream:
    """Answers stream requests from a script (one entry per connection) and records every request."""

    def __init__(self, streams: list[Handler], polls: list[Handler] | None = None) -> None:
        self.streams = streams
        self.polls = polls or []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/ofrep/v1/evaluate/flags":
            return httpx.Response(
                200, json={"flags": [], "metadata": {"project": "shop", "environment": "prod"}}
            )
        if path == "/sdk/v1/snapshot" and request.method == "HEAD":
            secret = request.headers["authorization"].removeprefix("Bearer ")
            return httpx.Response(401 if secret == CLIENT else 200)
        script = self.streams if path == "/sdk/v1/stream" else self.polls
        result = script.pop(0)(request) if script else httpx.Response(503)
        assert isinstance(result, httpx.Response)
        return result


def setup(upstream: Upstream, **overrides: Any) -> tuple[UpstreamSync, Mirror, RelayKeys, list[int]]:
    values: dict[str, Any] = {
        "upstream": "http://up.test",
        "sdk_keys": (SERVER,),
        "client_keys": ((CLIENT, SERVER),),
        "backoff_initial": 0.01,
        "backoff_max": 0.02,
        "poll_interval": 0.01,
    }
    relay = RelaySettings(**{**values, **overrides})
    keys = RelayKeys(relay)
    mirror = Mirror(keys.environment_ids)
    applied: list[int] = []
    http = httpx.AsyncClient(
        base_url=relay.upstream,
        headers={"Authorization": f"Bearer {SERVER}"},
        transport=httpx.MockTransport(upstream),
    )
    sync = UpstreamSync(1, mirror, keys, http, relay, on_applied=applied.append, jitter=lambda: 0.0)
    return sync, mirror, keys, applied


async def until(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


@pytest.mark.anyio
async def test_streams_reconnects_and_catches_up() -> None:
    hang = asyncio.Event()
    first = [
        encode_sse(Put(1, doc(flag("a", 1)))),
        encode_comment("heartbeat"),
        encode_sse(Patch(2, ItemKind.FLAG, "a", flag("a", 2, on=False))),
    ]
    upstream = Upstream(
        [
            lambda r: sse(first),  # then the stream ends: reconnect
            lambda r: httpx.Response(503),  # a replica shutting down: back off, reconnect
            lambda r: sse([encode_sse(Put(4, doc(flag("a", 2, on=False), flag("b", 4))))], hang),
        ]
    )
    sync, mirror, keys, applied = setup(upstream)
    changes: list[Change] = []
    mirror.subscribe(changes.append)
    task = asyncio.get_running_loop().create_task(sync.run())
    try:
        await until(lambda: (c := mirror.current(1)) is not None and c.version == 4)
        await until(lambda: mirror.status(1).connected)
    finally:
        hang.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [(c.snapshot_version, c.key) for c in changes] == [(2, "a"), (4, "b")]  # what the reconnect missed
    assert mirror.names(1) == ("shop", "prod")  # learned once, before the first put
    assert mirror.status(1).source == "upstream" and mirror.status(1).last_sync is not None
    assert applied and set(applied) == {1}
    streams = [r for r in upstream.requests if r.url.path == "/sdk/v1/stream"]
    assert len(streams) == 3 and all(r.headers["authorization"] == f"Bearer {SERVER}" for r in streams)
    assert [r.url.path for r in upstream.requests].count("/ofrep/v1/evaluate/flags") == 1
    await until(lambda: keys.rejected(2))  # the mapped client key: the upstream said 401
    assert not keys.rejected(1)


@pytest.mark.anyio
async def test_polls_when_streaming_keeps_failing_then_streams_again() -> None:
    hang = asyncio.Event()
    upstream = Upstream(
        [lambda r: httpx.Response(500)] * 3 + [lambda r: sse([encode_sse(Put(7, doc(flag("a", 7))))], hang)],
        polls=[
            lambda r: httpx.Response(
                200, content=json.dumps({"version": 6, "document": doc(flag("a", 6))}).encode()
            ),
        ],
    )
    sync, mirror, _, _ = setup(upstream)
    task = asyncio.get_running_loop().create_task(sync.run())
    try:
        await until(lambda: (c := mirror.current(1)) is not None and c.version == 7)
    finally:
        hang.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    paths = [
        r.url.path for r in upstream.requests if r.url.path.startswith("/sdk/v1/s") and r.method == "GET"
    ]
    # three failed streams, one good poll (the upstream is back), then the stream again
    assert paths == ["/sdk/v1/stream"] * 3 + ["/sdk/v1/snapshot", "/sdk/v1/stream"]


@pytest.mark.anyio
async def test_a_rejected_key_stops_the_sync_and_keeps_the_copy() -> None:
    upstream = Upstream(
        [lambda r: sse([encode_sse(Put(3, doc(flag("a", 3))))]), lambda r: httpx.Response(401)]
    )
    sync, mirror, keys, _ = setup(upstream)
    await asyncio.wait_for(sync.run(), timeout=5)  # returns: nothing more to try
    status = mirror.status(1)
    assert status.rejected and not status.connected and "rejected the SDK key" in str(status.error)
    assert keys.rejected(1)
    current = mirror.current(1)
    assert current is not None and current.version == 3


@pytest.mark.anyio
async def test_malformed_events_restart_the_stream() -> None:
    hang = asyncio.Event()
    bad = b"event: patch\ndata: {not json}\n\n"
    upstream = Upstream(
        [
            lambda r: sse([encode_sse(Put(1, doc())), bad]),
            lambda r: sse(
                [encode_sse(Put(2, doc(flag("a", 2)))), encode_sse(Delete(3, ItemKind.FLAG, "a"))], hang
            ),
        ]
    )
    sync, mirror, _, _ = setup(upstream)
    task = asyncio.get_running_loop().create_task(sync.run())
    try:
        await until(lambda: (c := mirror.current(1)) is not None and c.version == 3)
    finally:
        hang.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    current = mirror.current(1)
    assert current is not None and current.document["flags"] == {}


@pytest.mark.anyio
async def test_forwarder_sends_batches_keeps_them_while_down_and_drops_rejected_ones() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("down"),
        httpx.Response(503),
        httpx.Response(202),
        httpx.Response(202),
    ]
    posted: list[list[dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0) if answers else httpx.Response(422)
        if isinstance(answer, Exception):
            raise answer
        if answer.status_code == 202:
            assert request.headers["content-encoding"] == "gzip"
            posted.append(json.loads(gzip.decompress(request.content)))
        return answer

    buffer = EventBuffer(capacity=100)
    client = httpx.AsyncClient(base_url="http://up.test", transport=httpx.MockTransport(handler))
    forwarder = EventForwarder(
        buffer, lambda environment_id: client, interval=1.0, batch=3, request_timeout=1.0
    )
    now = datetime.now(UTC)
    buffer.add(1, [SummaryEvent(f"f{i}", 0, None, 1, now, now) for i in range(5)])

    def deadline() -> float:
        return asyncio.get_running_loop().time() + 5

    assert not await forwarder.flush(deadline())  # connect error: kept
    assert not await forwarder.flush(deadline())  # 503: kept
    assert buffer.size == 5 and buffer.counts.forwarded == 0
    assert await forwarder.flush(deadline())  # two batches: 3 + 2, oldest first
    assert [[e["flag"] for e in batch] for batch in posted] == [["f0", "f1", "f2"], ["f3", "f4"]]
    assert buffer.counts.forwarded == 5
    buffer.add(1, [SummaryEvent("bad", 0, None, 1, now, now)])
    assert await forwarder.flush(deadline())  # 422: dropped, not retried forever
    assert (buffer.size, buffer.counts.rejected) == (0, 1)
    await client.aclose()
