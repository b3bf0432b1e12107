"""The hub and subscribers in-process: version filtering, fan-out across the thread boundary, client-side
filtering, coalesced rebuilds, dropping slow clients, shutdown; plus the snapshot header helpers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, cast

import pytest

from vexil.protocol import Delete, Patch, SSEDecoder, SSEEvent, decode_sse
from vexil.server._hub import Hub, HubClosedError
from vexil.server._snapshot import etag_matches, wants_gzip
from vexil.server._subscriber import Subscriber
from vexil.service import Change, EnvironmentSnapshot, ItemKind, Service


class FakeService:
    """Just what the hub uses: `subscribe` and `snapshot_by_id`, over an in-memory document."""

    def __init__(self) -> None:
        self.version = 1
        self.flags: dict[str, dict[str, Any]] = {"a": {"key": "a", "version": 1, "client_side": True}}
        self.listeners: list[Callable[[Change], None]] = []
        self.reads = 0

    def subscribe(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        self.reads += 1
        flags = {k: f for k, f in self.flags.items() if f.get("client_side") or not client_side_only}
        return EnvironmentSnapshot(environment_id, "p", "e", self.version, {"flags": flags, "segments": {}})

    def commit(self, key: str, item: dict[str, Any] | None) -> Change:
        """Commit a change and notify from another thread, as a store does."""
        self.version += 1
        if item is None:
            self.flags.pop(key, None)
        else:
            self.flags[key] = {**item, "key": key, "version": self.version}
        change = Change(1, self.version, ItemKind.FLAG, key, None if item is None else self.flags[key])
        notifier = threading.Thread(target=lambda: [listener(change) for listener in self.listeners])
        notifier.start()
        notifier.join()
        return change


def hub_for(service: FakeService, **kwargs: Any) -> Hub:
    return Hub(cast(Service, service), heartbeat_seconds=0, **kwargs)


def decode_frames(frames: list[bytes]) -> list[Any]:
    decoder = SSEDecoder()
    events = [e for e in decoder.feed(b"".join(frames)) if isinstance(e, SSEEvent)]
    return [decode_sse(e) for e in events]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


def test_subscriber_skips_frames_the_put_contained_and_drops_when_full() -> None:
    async def scenario() -> None:
        subscriber = Subscriber(1, False, limit=3, byte_limit=1000)
        subscriber.version = 5
        assert subscriber.push(5, b"old") and subscriber.push(6, b"new") and subscriber.push(-1, b"beat")
        assert await subscriber.next_frames() == [b"new", b"beat"]
        assert all(subscriber.push(7, b"x") for _ in range(3))
        assert not subscriber.push(8, b"overflow")
        assert subscriber.closed
        assert await subscriber.next_frames() is None
        big = Subscriber(1, False, limit=100, byte_limit=10)
        assert not big.push(1, b"x" * 11)

    asyncio.run(scenario())


def test_changes_fan_out_to_server_and_client_streams() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = hub_for(service)
        server = hub.subscribe(1, client_side=False)
        client = hub.subscribe(1, client_side=True)
        snapshot = await hub.snapshot(1, client_side=False)
        server.version = client.version = snapshot.version
        await hub.snapshot(1, client_side=True)
        assert hub.clients() == 2
        service.commit("a", {"on": True, "client_side": True})
        service.commit("b", {"on": True})  # not client-side: a tombstone for client streams
        service.commit("a", None)
        await settle()
        on_server = decode_frames(await server.next_frames() or [])
        on_client = decode_frames(await client.next_frames() or [])
        assert [type(m) for m in on_server] == [Patch, Patch, Delete]
        assert [(type(m), m.key) for m in on_client] == [(Patch, "a"), (Delete, "b"), (Delete, "a")]
        assert [m.version for m in on_server] == [2, 3, 4]
        fresh = await hub.snapshot(1, client_side=False)
        assert fresh.version == 4 and b'"b"' in fresh.body
        await hub.aclose()

    asyncio.run(scenario())


def test_rebuilds_coalesce_and_snapshots_are_never_stale() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = hub_for(service)
        await hub.snapshot(1, client_side=False)
        reads = service.reads
        for i in range(30):
            service.commit(f"f{i}", {"on": True})
            if i % 10 == 0:
                await asyncio.sleep(0)  # let notices in while a rebuild may be running
        # In the server a write's notice reaches the loop before the write's response does (both are
        # queued with call_soon_threadsafe, the notice first); one loop turn stands for that here.
        await asyncio.sleep(0)
        snapshot = await hub.snapshot(1, client_side=False)
        assert snapshot.version == service.version  # read-your-writes: a change notice forces a fresh read
        await settle()
        assert service.reads - reads < 30, "notices arriving during a rebuild share the next one"
        again = await hub.snapshot(1, client_side=False)
        assert again is snapshot or again.version == snapshot.version
        await hub.aclose()

    asyncio.run(scenario())


def test_a_slow_client_is_dropped_and_the_others_keep_going() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = hub_for(service, queue_limit=5)
        slow = hub.subscribe(1, client_side=False)
        fast = hub.subscribe(1, client_side=False)
        received: list[bytes] = []
        for _ in range(10):
            service.commit("a", {"on": True})
            await settle()
            received.extend(await fast.next_frames() or [])
        assert slow.closed and await slow.next_frames() is None
        assert hub.clients() == 1
        assert len(decode_frames(received)) == 10
        assert hub.metrics.registry.get_sample_value("vexil_stream_dropped_clients_total") == 1
        await hub.aclose()

    asyncio.run(scenario())


def test_close_ends_streams_and_refuses_new_ones() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = hub_for(service)
        subscriber = hub.subscribe(1, client_side=False)
        subscriber.push(3, b"queued")
        hub.close()
        assert await subscriber.next_frames() == [b"queued"]
        assert await subscriber.next_frames() is None
        with pytest.raises(HubClosedError):
            hub.subscribe(1, client_side=False)
        await hub.aclose()
        assert not service.listeners

    asyncio.run(scenario())


def test_heartbeats_reach_idle_streams() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = Hub(cast(Service, service), heartbeat_seconds=0.01)
        subscriber = hub.subscribe(1, client_side=False)
        frames = await asyncio.wait_for(subscriber.next_frames(), 1)
        assert frames and frames[0] == b": heartbeat\n\n"
        await hub.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;q=abc", False),
        ("br, identity", False),
        ("x-gzip", True),
    ],
)
def test_wants_gzip(header: str | None, expected: bool) -> None:
    assert wants_gzip(header) is expected


def test_etag_matching() -> None:
    service = FakeService()

    async def scenario() -> None:
        hub = hub_for(service)
        snapshot = await hub.snapshot(1, client_side=False)
        assert etag_matches(snapshot.etag, snapshot)
        assert etag_matches(f'"x", W/{snapshot.gzip_etag}', snapshot)
        assert etag_matches("*", snapshot)
        assert not etag_matches(None, snapshot)
        assert not etag_matches('"x"', snapshot)
        await hub.aclose()

    asyncio.run(scenario())
