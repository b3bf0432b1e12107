"""`vexil serve --workers 2` as real processes on SQLite: a change made through either worker reaches the
stream clients of both, revoking a key ends its streams on both, SIGTERM ends every stream and exits in
time; and (PostgreSQL) a database outage keeps cached snapshots served while `/readyz` reports it."""

from __future__ import annotations

import json
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from process_support import (
    PG_ADMIN_URL,
    Server,
    StreamReader,
    connections_per_worker,
    postgres_database,
    running,
    sdk_key,
    worker_pids,
)

from vexil.protocol import Patch, Put
from vexil.server import ServerSettings, SettingsError

PROJECT = "/api/v1/projects/default"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


def test_the_workers_setting() -> None:
    assert ServerSettings.from_env_and_args({}).workers == 1
    assert ServerSettings.from_env_and_args({"VEXIL_WORKERS": "3"}).workers == 3
    assert ServerSettings.from_env_and_args({"VEXIL_WORKERS": "3"}, workers=2).workers == 2
    for bad in ("0", "65", "two"):
        with pytest.raises(SettingsError, match="VEXIL_WORKERS"):
            ServerSettings.from_env_and_args({"VEXIL_WORKERS": bad})


def _new_flag(server: Server) -> str:
    flag = f"f-{secrets.token_hex(3)}"
    created = httpx.post(
        f"{server.url}{PROJECT}/flags",
        headers=server.admin(),
        json={"key": flag, "variations": [False, True]},
    )
    assert created.status_code == 201, created.text
    return flag


def _set_on(server: Server, flag: str, on: bool) -> int:
    response = httpx.patch(
        f"{server.url}{PROJECT}/flags/{flag}/environments/production",
        headers={**server.admin(), "Content-Type": "application/merge-patch+json"},
        content=json.dumps({"on": on}),
    )
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


def _streams_on_both_workers(server: Server, key: str, at_least: int) -> list[StreamReader]:
    """Open streams until each worker serves `at_least` of them (the kernel picks the worker)."""
    readers: list[StreamReader] = []
    for _ in range(24):
        reader = StreamReader(server.url, key).start()
        assert isinstance(reader.wait_for(lambda ms: ms[0] if ms else None), Put)
        readers.append(reader)
        per_worker = connections_per_worker(server)
        if len(per_worker) == 2 and min(per_worker.values()) >= at_least:
            return readers
    raise AssertionError(f"the streams did not spread over both workers: {connections_per_worker(server)}")


def test_changes_reach_the_streams_of_every_worker_and_sigterm_ends_them(tmp_path: Path) -> None:
    with running(tmp_path / "data", args=("--workers", "2")) as server:
        assert len(worker_pids(server)) == 2, server.output()
        key = sdk_key(server)
        flag = _new_flag(server)
        readers = _streams_on_both_workers(server, key, at_least=2)
        print(f"\n{len(readers)} streams over the workers: {connections_per_worker(server)}")
        delays = []
        # Each PATCH on a new connection: either worker commits it; every stream must get every change.
        for on in (True, False, True, False):
            sent = time.perf_counter()
            version = _set_on(server, flag, on)
            for reader in readers:
                reader.wait_for(
                    lambda ms, v=version, on=on: any(
                        isinstance(m, Patch) and m.version == v and m.key == flag and m.item["on"] is on
                        for m in ms
                    )
                )
            delays.append(max(r.arrival(_patch(r, version)) for r in readers) - sent)
        print("PATCH -> patch on every stream: " + ", ".join(f"{d * 1000:.0f} ms" for d in delays))
        for reader in readers:  # each change exactly once per stream
            versions = [m.version for _, m in reader.messages if isinstance(m, Patch)]
            assert len(versions) == len(set(versions)) == 4
        started = time.monotonic()
        assert server.stop(signal.SIGTERM) == 0, server.output()
        assert time.monotonic() - started < 10
        for reader in readers:
            assert reader.join(5) and reader.ended_cleanly, reader.error
        assert "Traceback" not in server.output()


def _patch(reader: StreamReader, version: int) -> Patch:
    found = next(m for _, m in reader.messages if isinstance(m, Patch) and m.version == version)
    assert isinstance(found, Patch)
    return found


def test_revoking_a_key_ends_its_streams_on_every_worker(tmp_path: Path) -> None:
    env = {"VEXIL_HEARTBEAT_SECONDS": "0.5"}
    with running(tmp_path / "data", args=("--workers", "2"), env=env) as server:
        revoked_key, kept_key = sdk_key(server), sdk_key(server, environment="development")
        readers = _streams_on_both_workers(server, revoked_key, at_least=1)
        kept = StreamReader(server.url, kept_key).start()
        kept.wait_for(lambda ms: ms[0] if ms else None)
        snapshot = f"{server.url}/sdk/v1/snapshot"
        auth = {"Authorization": f"Bearer {revoked_key}"}
        assert {httpx.get(snapshot, headers=auth).status_code for _ in range(6)} == {200}  # cached on both
        keys = httpx.get(f"{server.url}/api/v1/keys", headers=server.admin()).json()["items"]
        key_id = next(k["id"] for k in keys if k["prefix"] == revoked_key[:8])
        started = time.monotonic()
        revoked = httpx.delete(f"{server.url}/api/v1/keys/{key_id}", headers=server.admin())
        assert revoked.status_code == 200, revoked.text
        for reader in readers:
            assert reader.join(5) and reader.ended_cleanly, reader.error
        elapsed = time.monotonic() - started
        print(f"\nrevocation -> {len(readers)} streams on both workers ended in {elapsed:.2f} s")
        # The worker that did not revoke it dropped it from its auth cache too (not after its 5 s TTL).
        assert {httpx.get(snapshot, headers=auth).status_code for _ in range(6)} == {401}
        assert kept.join(0.1) is False, "the other key's stream stays open"
        # Workers never outlive their supervisor, even one killed with SIGKILL: they stop gracefully.
        workers = worker_pids(server)
        server.stop(signal.SIGKILL)
        assert kept.join(10) and kept.ended_cleanly, kept.error
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"orphaned workers still running: {workers}"
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in {"Z", "X"}


def test_a_database_outage_keeps_cached_snapshots_and_fails_readiness(tmp_path: Path, pg_url: str) -> None:
    env = {"VEXIL_DATABASE_URL": pg_url, "VEXIL_AUTH_CACHE_SECONDS": "60"}
    name = pg_url.rsplit("/", 1)[1]
    with running(tmp_path / "data", env=env) as server:
        key = sdk_key(server)
        flag = _new_flag(server)
        url, auth = f"{server.url}/sdk/v1/snapshot", {"Authorization": f"Bearer {key}"}
        first = httpx.get(url, headers=auth)
        assert first.status_code == 200 and flag in first.json()["document"]["flags"]
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            try:
                ready = httpx.get(f"{server.url}/readyz", timeout=10)
                assert ready.status_code == 503 and ready.json()["detail"] == "database unreachable"
                during = httpx.get(url, headers=auth)
                assert (during.status_code, during.content) == (200, first.content)
                again = httpx.get(url, headers={**auth, "If-None-Match": first.headers["etag"]})
                assert again.status_code == 304
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 15
        while httpx.get(f"{server.url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after the database came back"
            time.sleep(0.2)
        version = _set_on(server, flag, True)  # writes work again, and the cache follows them
        for _ in range(50):
            after = httpx.get(url, headers=auth)
            if after.json()["version"] >= version:
                break
            time.sleep(0.05)
        assert after.json()["document"]["flags"][flag]["on"] is True
        # The lost LISTEN connection is logged (with its traceback); no request failed unhandled.
        assert "unhandled error" not in server.output() and "Exception in ASGI" not in server.output()
