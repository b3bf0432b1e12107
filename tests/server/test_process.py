"""`vexil serve` as a process: graceful SIGTERM, no acknowledged write lost to `kill -9`, and two replicas
sharing one PostgreSQL database (a change made through one reaches the other's stream clients)."""

from __future__ import annotations

import json
import random
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from process_support import Server, StreamReader, postgres_database, running, sdk_key, start_server

from vexil.protocol import Patch, Put

PROJECT = "/api/v1/projects/default"


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_database()


def _first_put(reader: StreamReader) -> Put:
    put = reader.wait_for(lambda ms: ms[0] if ms else None)
    assert isinstance(put, Put)
    return put


def test_sigterm_ends_streams_cleanly_and_exits_zero_within_ten_seconds(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    try:
        key = sdk_key(server)
        readers = [StreamReader(server.url, key).start() for _ in range(3)]
        for reader in readers:
            _first_put(reader)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=10) == 0, server.output()
        elapsed = time.monotonic() - started
        for reader in readers:
            assert reader.join(5)
            assert reader.ended_cleanly, reader.error  # end of the chunked body, not a dropped connection
        print(f"\nSIGTERM -> 3 streams ended and the process exited in {elapsed:.2f} s")
        assert elapsed < 10
        assert "Traceback" not in server.output()
    finally:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def _writer(server: Server, prefix: str, acknowledged: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=server.url, headers=server.admin(), timeout=5) as client:
        for i in range(10_000):
            if stop.is_set():
                return
            key = f"{prefix}-{i}"
            try:
                response = client.post(f"{PROJECT}/flags", json={"key": key, "variations": [1, 2]})
            except httpx.HTTPError:
                return  # the server died mid-request: this write was never acknowledged
            if response.status_code == 201:
                acknowledged.append(key)


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    acknowledged: list[str] = []
    rng = random.Random(7)
    for round_ in range(3):
        server = start_server(data_dir)
        if round_ == 0:
            admin_key = server.admin_key
        server.admin_key = admin_key
        stop = threading.Event()
        writers = [
            threading.Thread(target=_writer, args=(server, f"r{round_}w{w}", acknowledged, stop))
            for w in range(2)
        ]
        for writer in writers:
            writer.start()
        time.sleep(rng.uniform(0.4, 0.9))
        server.stop(signal.SIGKILL)
        stop.set()
        for writer in writers:
            writer.join(10)
    assert len(acknowledged) > 10, "the writers got some writes acknowledged before each kill"
    with running(data_dir) as server:
        response = httpx.get(f"{server.url}{PROJECT}/flags", headers={"Authorization": f"Bearer {admin_key}"})
        assert response.status_code == 200, response.text
        stored = {flag["key"] for flag in response.json()["items"]}
    missing = set(acknowledged) - stored
    print(f"\nkill -9 x3: {len(acknowledged)} acknowledged writes, {len(missing)} missing after restart")
    assert not missing


def test_two_replicas_on_postgres_share_changes(tmp_path: Path, pg_url: str) -> None:
    env = {"VEXIL_DATABASE_URL": pg_url}
    with running(tmp_path / "a", env=env) as a, running(tmp_path / "b", env=env) as b:
        assert a.admin_key and not b.admin_key, "only the first replica bootstraps the admin key"
        b.admin_key = a.admin_key
        key = sdk_key(a)
        flag = f"f-{secrets.token_hex(3)}"
        created = httpx.post(
            f"{a.url}{PROJECT}/flags", headers=a.admin(), json={"key": flag, "variations": [False, True]}
        )
        assert created.status_code == 201, created.text
        on_b = StreamReader(b.url, key).start()
        on_a = StreamReader(a.url, key).start()
        put = _first_put(on_b)
        _first_put(on_a)
        assert flag in put.document["flags"]

        latencies = []
        for origin, on in ((a, True), (b, False), (a, True)):
            sent = time.perf_counter()
            response = httpx.patch(
                f"{origin.url}{PROJECT}/flags/{flag}/environments/production",
                headers={**origin.admin(), "Content-Type": "application/merge-patch+json"},
                content=json.dumps({"on": on}),
            )
            returned = time.perf_counter()
            assert response.status_code == 200, response.text
            for reader in (on_b, on_a):
                patch = reader.wait_for(
                    lambda ms, on=on, after=put.version: next(
                        (
                            m
                            for m in reversed(ms)
                            if isinstance(m, Patch)
                            and m.key == flag
                            and m.item["on"] is on
                            and m.version > after
                        ),
                        None,
                    )
                )
                assert isinstance(patch, Patch)
            put = Put(patch.version, {})
            other = on_b if origin is a else on_a
            latencies.append(((other.arrival(patch) - sent) * 1000, (other.arrival(patch) - returned) * 1000))
        print(
            "\nPATCH on one replica -> patch on the other's stream: "
            + ", ".join(f"{x:.1f} ms after sending ({y:+.1f} ms after the response)" for x, y in latencies)
        )
        headers = {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity"}
        tags = {httpx.get(f"{s.url}/sdk/v1/snapshot", headers=headers).headers["etag"] for s in (a, b)}
        assert len(tags) == 1, "replicas sharing a database serve the same strong ETag"
