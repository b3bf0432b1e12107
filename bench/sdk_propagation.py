"""SDK propagation: from an admin PATCH until `client.bool` returns the new value (real server, loopback).

Starts `vexil serve` (SQLite, temporary data dir), flips one flag BENCH_CHANGES times (default 100) and spins
on `client.bool` (a streaming and a polling client). Bench-only; every wait is bounded.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import httpx
from server_support import machine, percentile, sdk_key, start_server, stop_server, table, temp_dir

from vexil.sdk import Client

CHANGES = int(os.environ.get("BENCH_CHANGES", "100"))
POLL_INTERVAL = float(os.environ.get("BENCH_POLL_INTERVAL", "1.0"))
TIMEOUT = 10.0
CTX = {"key": "bench-user"}


def wait_for_value(client: Client, expected: bool, deadline: float) -> float:
    while time.monotonic() < deadline:
        if client.bool("prop", CTX, not expected) is expected:
            return time.perf_counter()
        time.sleep(0.0001)
    raise SystemExit(f"no propagation within {TIMEOUT} s: {client.status()}")


def main() -> int:
    with temp_dir() as data:
        server = start_server(data)
        try:
            admin = httpx.Client(base_url=server.url, headers=server.admin, timeout=30)
            admin.post("/api/v1/projects/default/flags", json={"key": "prop", "variations": [False, True]})
            target = "/api/v1/projects/default/flags/prop/environments/production"
            admin.patch(target, json={"on": True, "fallthrough": {"variation": 0}}).raise_for_status()
            key = sdk_key(server)
            streaming = Client(key, server.url, flush_interval=5)
            polling = Client(key, server.url, stream=False, poll_interval=POLL_INTERVAL, events=False)
            for client in (streaming, polling):
                if not client.wait_until_ready(10):
                    raise SystemExit(f"client not ready: {client.status()}")
            wait_for_value(polling, False, time.monotonic() + TIMEOUT)
            results: dict[str, list[float]] = {
                "patch": [],
                "streaming": [],
                "streaming+patch": [],
                "polling": [],
            }
            for i in range(CHANGES):
                value = i % 2 == 0  # flips False -> True -> False ...
                sent = time.perf_counter()
                admin.patch(target, json={"fallthrough": {"variation": 1 if value else 0}}).raise_for_status()
                answered = time.perf_counter()
                seen = wait_for_value(streaming, value, time.monotonic() + TIMEOUT)
                results["patch"].append(answered - sent)
                results["streaming"].append(seen - answered)
                results["streaming+patch"].append(seen - sent)
                if i < 10 or i % 10 == 0:  # polling is slow by design: sample it
                    results["polling"].append(
                        wait_for_value(polling, value, time.monotonic() + TIMEOUT) - answered
                    )
                time.sleep(0.02)
            streaming.close()
            polling.close()
            admin.close()
        finally:
            stop_server(server)
    rows = [
        (
            name,
            len(samples),
            f"{1000 * statistics.median(samples):.1f}",
            f"{1000 * percentile(samples, 0.99):.1f}",
            f"{1000 * max(samples):.1f}",
        )
        for name, samples in results.items()
    ]
    print(f"SDK propagation, {CHANGES} changes, {machine()}")
    print("patch: the admin PATCH round trip; streaming/polling: from the PATCH response until client.bool")
    print(
        f"returns the new value (polling every {POLL_INTERVAL:g} s); streaming+patch: from sending the PATCH."
    )
    print("(A change can reach the stream before the PATCH response does: then streaming is ~0.)\n")
    print(table(("measure", "n", "p50 ms", "p99 ms", "max ms"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
