"""The data plane when things go wrong, in-process: failed or slow rebuilds leave pollers the last good
snapshot (streams get a 503), `/readyz` follows the database, revoked keys lose their streams now or at the
next heartbeat, known keys keep working while the database is down (real processes: test_workers.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from admin_support import BASE, running_api

from vexil.server._auth import Authenticator
from vexil.server._hub import Hub
from vexil.server._problems import ProblemError, ProblemType
from vexil.service import Change, EnvironmentSnapshot, ItemKind, KeyKind, Principal, Service, Unavailable


class FlakyService:
    """What the hub and the authenticator use, over an in-memory document, with a switchable outage."""

    def __init__(self) -> None:
        self.version = 1
        self.down = False
        self.gate: threading.Event | None = None  # when set, snapshot reads wait for it (a slow database)
        self.listeners: list[Callable[[Change], None]] = []
        self.revoked: set[int] = set()
        self.authorize_calls = 0

    def subscribe(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        if self.gate is not None:
            self.gate.wait(5)
        if self.down:
            raise Unavailable()
        return EnvironmentSnapshot(environment_id, "p", "e", self.version, {"flags": {}, "segments": {}})

    def inactive_keys(self, key_ids: set[int]) -> frozenset[int]:
        if self.down:
            raise Unavailable()
        return frozenset(key_ids & self.revoked)

    def authorize(self, secret: str) -> Principal:
        self.authorize_calls += 1
        if self.down:
            raise Unavailable()
        return Principal(name=secret, kind=KeyKind.SERVER, key_id=1, environment_id=1)

    def commit(self) -> None:
        """A change committed (by anyone): bump the version and notify from a store thread."""
        self.version += 1
        change = Change(1, self.version, ItemKind.FLAG, "f", {"key": "f", "version": self.version})
        notifier = threading.Thread(target=lambda: [listener(change) for listener in self.listeners])
        notifier.start()
        notifier.join()


def hub_for(service: FlakyService, **kwargs: Any) -> Hub:
    return Hub(cast(Service, service), heartbeat_seconds=kwargs.pop("heartbeat_seconds", 0), **kwargs)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


def test_a_failed_rebuild_leaves_pollers_the_last_good_snapshot() -> None:
    async def scenario() -> None:
        service = FlakyService()
        hub = hub_for(service, stale_wait_seconds=0.05)
        good = await hub.snapshot(1, client_side=False, allow_stale=True)
        assert good.version == 1 and not hub.degraded
        service.down = True
        service.commit()  # the rebuild this triggers fails
        await settle()
        assert await hub.snapshot(1, client_side=False, allow_stale=True) is good
        assert hub.degraded
        with pytest.raises(Unavailable):  # a stream needs the current snapshot: 503, not a stale put
            await hub.snapshot(1, client_side=False)
        with pytest.raises(Unavailable):  # never built: nothing to fall back on
            await hub.snapshot(1, client_side=True, allow_stale=True)
        service.down = False
        assert await hub.snapshot(1, client_side=False, allow_stale=True) is good  # answers now, retries
        await settle()
        fresh = await hub.snapshot(1, client_side=False, allow_stale=True)
        assert fresh.version == 2 and not hub.degraded
        await hub.aclose()

    asyncio.run(scenario())


def test_a_slow_rebuild_is_not_waited_for_beyond_the_stale_wait() -> None:
    async def scenario() -> None:
        service = FlakyService()
        hub = hub_for(service, stale_wait_seconds=0.05)
        good = await hub.snapshot(1, client_side=False, allow_stale=True)
        service.gate = threading.Event()
        try:
            service.commit()
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await hub.snapshot(1, client_side=False, allow_stale=True) is good
            assert loop.time() - started < 1.0
            assert await hub.snapshot(1, client_side=False, allow_stale=True) is good  # no second wait
        finally:
            service.gate.set()
        await settle()
        assert (await hub.snapshot(1, client_side=False, allow_stale=True)).version == 2
        assert not hub.degraded
        await hub.aclose()

    asyncio.run(scenario())


def test_revoking_a_key_here_ends_its_streams_at_once() -> None:
    async def scenario() -> None:
        service = FlakyService()
        hub = hub_for(service)
        auth = Authenticator(cast(Service, service))
        auth.on_forget(hub.revoke_key)  # as sdk_routes wires them
        revoked = [hub.subscribe(1, client_side=c, key_id=7) for c in (False, True)]
        kept = hub.subscribe(1, client_side=False, key_id=8)
        anonymous = hub.subscribe(1, client_side=False)
        auth.forget(7)
        assert all(s.closed for s in revoked)
        assert not kept.closed and not anonymous.closed
        assert hub.clients() == 2
        assert await revoked[0].next_frames() is None  # the stream ends cleanly
        await hub.aclose()

    asyncio.run(scenario())


def test_heartbeats_end_streams_of_keys_revoked_elsewhere() -> None:
    async def scenario() -> None:
        service = FlakyService()
        hub = hub_for(service, heartbeat_seconds=0.02)
        forgotten: list[int] = []
        hub.on_revoked(forgotten.append)
        gone, kept = (
            hub.subscribe(1, client_side=False, key_id=5),
            hub.subscribe(1, client_side=False, key_id=6),
        )
        service.down = True
        service.revoked.add(5)
        await asyncio.sleep(0.1)  # heartbeats while the database is down: nothing is decided
        assert not gone.closed
        service.down = False
        for _ in range(100):
            if gone.closed:
                break
            await asyncio.sleep(0.01)
        assert gone.closed and not kept.closed
        assert forgotten == [5]
        await hub.aclose()

    asyncio.run(scenario())


def test_known_keys_keep_working_while_the_database_is_down() -> None:
    async def scenario() -> None:
        service = FlakyService()
        now = [0.0]
        auth = Authenticator(cast(Service, service), ttl=5.0, clock=lambda: now[0])
        principal = await auth.authorize("vxs_known")
        service.down = True
        now[0] = 10.0  # past the TTL: asks the database, which fails
        assert await auth.authorize("vxs_known") == principal
        calls = service.authorize_calls
        now[0] = 10.5  # within the retry pause: not asked again
        assert await auth.authorize("vxs_known") == principal
        assert service.authorize_calls == calls
        with pytest.raises(ProblemError) as error:  # never seen: cannot tell, so 503
            await auth.authorize("vxs_unknown")
        assert error.value.kind is ProblemType.UNAVAILABLE
        assert error.value.headers["Retry-After"] == "1"
        service.down = False
        now[0] = 12.0
        assert await auth.authorize("vxs_known") == principal
        assert service.authorize_calls == calls + 2

    asyncio.run(scenario())


@pytest.mark.anyio
async def test_readyz_follows_the_database_and_cached_snapshots_outlive_it(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        server_key = await api.new_key(name="s", kind="server", project="default", environment="production")
        client_key = await api.new_key(name="c", kind="client", project="default", environment="production")
        assert (await api.client.get("/readyz")).json() == {"status": "ready"}
        first = await api.get("/sdk/v1/snapshot", key=server_key)
        assert first.status_code == 200
        # A client that accepts 503s (the API's own client fails every 5xx).
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url=BASE) as client:

            async def get(path: str, key: str, **headers: str) -> httpx.Response:
                return await client.get(path, headers={"Authorization": f"Bearer {key}", **headers})

            api.service._store.close()  # the database goes away under the running app
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
            again = await get("/sdk/v1/snapshot", server_key)
            assert (again.status_code, again.content) == (200, first.content)
            cached = await get("/sdk/v1/snapshot", server_key, **{"If-None-Match": first.headers["etag"]})
            assert cached.status_code == 304
            # Never seen (the key, or the snapshot): 503 problems with Retry-After, not 500s.
            for key in (client_key, "vxs_" + "x" * 43):
                cold = await get("/sdk/v1/snapshot", key)
                assert cold.status_code == 503, cold.text
                assert cold.headers["retry-after"] == "1"
                assert cold.json()["type"] == "urn:vexil:problem:unavailable"
            stream = await get("/sdk/v1/stream", client_key)
            assert stream.status_code == 503
            admin = await get("/api/v1/projects", api.admin_key)
            assert admin.status_code == 503 and admin.headers["retry-after"] == "1"


@pytest.mark.anyio
async def test_revoking_a_key_stops_the_data_plane_at_once(tmp_path: Path) -> None:
    async with running_api(tmp_path) as api:
        key = await api.new_key(name="s", kind="server", project="default", environment="production")
        assert (await api.get("/sdk/v1/snapshot", key=key)).status_code == 200  # now cached for 5 s
        listed = await api.get("/api/v1/keys")
        key_id = next(k["id"] for k in listed.json()["items"] if k["name"] == "s")
        assert (await api.delete(f"/api/v1/keys/{key_id}")).status_code == 200
        assert (await api.get("/sdk/v1/snapshot", key=key)).status_code == 401
        assert (await api.post("/events/v1/bulk", {"evaluations": []}, key=key)).status_code == 401
