"""OFREP through `vexil relay` beside the same requests to the upstream `vexil serve`, same conditions
(loopback, one process each, 50 flags, a random user per request, 50 connections, the load generator of
bench/ofrep.py: wrk or the asyncio fallback); then the time from an admin PATCH on the upstream returning to
a refetch event on the relay's OFREP stream and to the new value in a bulk refetch through the relay.
Env: as bench/ofrep.py (BENCH_DURATION, BENCH_FLAGS, BENCH_CONNECTIONS, BENCH_CHANGES, BENCH_LOADGEN).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from server_support import (
    PROJECT,
    machine,
    percentile,
    raise_open_files_limit,
    sdk_key,
    seed_flags,
    start_server,
    stop_server,
    table,
    temp_dir,
)

from ofrep import CHANGES, CONNECTIONS, DURATION, FLAGS, LOADGEN, Result, load
from vexil.protocol import SSEDecoder, SSEEvent

_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")
_FIXED = b'{"context":{"targetingKey":"user-42","email":"a@example.org","plan":"pro","country":"DE"}}'


def start_relay(upstream: str, key: str, cache_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    log = cache_dir.parent / "relay.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    env.update({"VEXIL_OFREP_RATE_LIMIT": "0"})
    vexil = str(Path(sys.executable).parent / "vexil")
    args = [
        vexil,
        "relay",
        "--upstream",
        upstream,
        "--sdk-key",
        key,
        "--port",
        "0",
        "--cache-dir",
        str(cache_dir),
    ]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*args, "--log-level", "info"], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            url = f"http://127.0.0.1:{found.group(1)}"
            if httpx.get(f"{url}/readyz").json()["status"] == "ready":
                return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"vexil relay did not start:\n{log.read_text(errors='replace')}")


def propagation(
    admin_url: str, admin: dict[str, str], relay: str, key: str, flag: str
) -> tuple[list[float], list[float]]:
    """(ms to the relay's OFREP stream event, ms to the new value in a bulk refetch from the relay)."""
    body = {"context": {"targetingKey": "watcher"}}
    auth = {"Authorization": f"Bearer {key}"}
    first = httpx.post(f"{relay}/ofrep/v1/evaluate/flags", headers=auth, json=body).json()
    stream_url = relay + first["eventStreams"][0]["endpoint"]["requestUri"]
    arrivals: list[float] = []
    seen = threading.Condition()
    stop = threading.Event()

    def read() -> None:
        decoder = SSEDecoder()
        with httpx.Client(timeout=30) as client, client.stream("GET", stream_url) as response:
            for chunk in response.iter_raw():
                now = time.perf_counter()
                for item in decoder.feed(chunk):
                    if isinstance(item, SSEEvent):
                        with seen:
                            arrivals.append(now)
                            seen.notify_all()
                if stop.is_set():
                    return

    threading.Thread(target=read, daemon=True).start()
    to_event: list[float] = []
    to_value: list[float] = []
    path = f"{admin_url}{PROJECT}/flags/{flag}/environments/production"
    with (
        httpx.Client(headers=admin, timeout=30) as admin_client,
        httpx.Client(headers=auth, timeout=30) as sdk,
    ):
        with seen:
            seen.wait_for(lambda: arrivals, timeout=10)
        for i in range(CHANGES):
            want = i % 2 == 0
            before = len(arrivals)
            admin_client.patch(path, json={"on": want}).raise_for_status()
            returned = time.perf_counter()
            with seen:
                if not seen.wait_for(lambda: len(arrivals) > before, timeout=10):  # noqa: B023
                    raise SystemExit("no refetch event from the relay within 10 s")
                to_event.append((arrivals[before] - returned) * 1000)
            items = sdk.post(f"{relay}/ofrep/v1/evaluate/flags", json=body).json()["flags"]
            value = next(item for item in items if item["key"] == flag)["value"]
            to_value.append((time.perf_counter() - returned) * 1000)
            if value is not want:
                raise SystemExit(f"the refetch after the event still served {value!r}")
            time.sleep(0.05)
    stop.set()
    return to_event, to_value


def _cases(label: str, base: str, key: str, first_flag: str) -> list[Result]:
    single, bulk = f"{base}/ofrep/v1/evaluate/flags/{first_flag}", f"{base}/ofrep/v1/evaluate/flags"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    etag = httpx.post(bulk, headers=headers, content=_FIXED).headers["etag"]
    return [
        load(f"{label}: single flag, random user", single, key),
        load(f"{label}: bulk {FLAGS} flags, random user", bulk, key),
        load(f"{label}: bulk {FLAGS} flags, 304", bulk, key, _FIXED, {"If-None-Match": etag}),
    ]


def main() -> None:
    raise_open_files_limit()
    print(f"OFREP through the relay vs the server: {machine()}; load generator: {LOADGEN}", flush=True)
    with temp_dir() as data_dir:
        server = start_server(data_dir / "server", env={"VEXIL_OFREP_RATE_LIMIT": "0"})
        relay_proc: subprocess.Popen[bytes] | None = None
        try:
            flags = seed_flags(server, FLAGS)
            key = sdk_key(server)
            relay_proc, relay = start_relay(server.url, key, data_dir / "relay" / "cache")
            bodies = [
                httpx.post(
                    f"{base}/ofrep/v1/evaluate/flags",
                    headers={"Authorization": f"Bearer {key}"},
                    content=_FIXED,
                )
                for base in (server.url, relay)
            ]
            if bodies[0].json()["flags"] != bodies[1].json()["flags"]:
                raise SystemExit("the relay does not answer what the server answers")
            results = _cases("server", server.url, key, flags[0]) + _cases("relay", relay, key, flags[0])
            httpx.post(
                f"{server.url}{PROJECT}/flags",
                headers=server.admin,
                json={"key": "bench-toggle", "variations": [False, True]},
            ).raise_for_status()
            to_event, to_value = propagation(server.url, server.admin, relay, key, "bench-toggle")
        finally:
            if relay_proc is not None and relay_proc.poll() is None:
                relay_proc.terminate()
                relay_proc.wait(timeout=15)
            stop_server(server)
            relay_log = (data_dir / "relay" / "relay.log").read_text(errors="replace").splitlines()
            warnings = [line for line in relay_log if not line.startswith(("INFO", "vexil relay: mirroring"))]
            if warnings:
                print("relay log:", *warnings[-20:], sep="\n  ")
    rows = [[r.name, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", r.errors] for r in results]
    print(
        f"{FLAGS} flags (2 rules each, one a rollout), {CONNECTIONS} connections, {DURATION:.0f} s per case"
    )
    print(table(["request", "requests/s", "p50 ms", "p99 ms", "errors"], rows))
    stats = (lambda v: percentile(v, 0.5), lambda v: percentile(v, 0.99), max)
    prop = [
        ["upstream PATCH returned -> relay's OFREP stream event", *(f"{f(to_event):.1f}" for f in stats)],
        ["upstream PATCH returned -> new value from the relay", *(f"{f(to_value):.1f}" for f in stats)],
    ]
    print(f"propagation through the relay, {CHANGES} toggles:")
    print(table(["ms", "p50", "p99", "max"], prop))


if __name__ == "__main__":
    main()
