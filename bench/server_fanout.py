"""Stream fan-out: 1,000 and 5,000 SSE clients on one `vexil serve` process (SQLite, loopback). For each
admin PATCH: time from the PATCH response to the change arriving at every client (p50/p99/max over all
client arrivals), and server memory per connected client. Env: BENCH_CLIENTS ("0,1000,5000"; the 0 row
is the PATCH's own time), BENCH_ROUNDS (5), BENCH_FLAGS (50). Clients: raw asyncio sockets on uvloop.
`--workers N` runs N worker processes (changes then also cross between them through the database).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from dataclasses import dataclass, field

import httpx
import uvloop
from server_support import (
    PROJECT,
    Server,
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

CLIENT_COUNTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "0,1000,5000").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
FLAGS = int(os.environ.get("BENCH_FLAGS", "50"))
CONNECT_BATCH = 250
WAIT_SECONDS = 30.0


@dataclass
class Fleet:
    """SSE clients watching for `marker`; each records when the marker's bytes reached it."""

    marker: bytes = b""
    arrivals: dict[int, float] = field(default_factory=dict)
    ready: int = 0
    failed: int = 0
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    size: int = 0

    async def client(self, index: int, host: str, port: int, key: str, stop: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            self.failed += 1
            return
        request = (
            f"GET /sdk/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        tail = b""
        is_ready = False
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self.failed += 1
                return
            while not stop.is_set():
                data = await reader.read(262_144)
                if not data:
                    break
                window = tail + data
                if not is_ready:
                    start = window.find(b"event: put")
                    if start >= 0 and window.find(b"\n\n", start) >= 0:  # the put's data is one line
                        is_ready = True
                        self.ready += 1
                    tail = window
                    continue
                if self.marker and index not in self.arrivals and self.marker in window:
                    self.arrivals[index] = time.perf_counter()
                    if len(self.arrivals) == self.size:
                        self.all_arrived.set()
                tail = window[-256:]
        except (OSError, asyncio.IncompleteReadError):
            self.failed += 1
        finally:
            writer.close()


async def patch_description(client: httpx.AsyncClient, flag: str, marker: str) -> tuple[float, float]:
    sent = time.perf_counter()
    response = await client.patch(
        f"{PROJECT}/flags/{flag}",
        content=json.dumps({"description": marker}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    response.raise_for_status()
    return sent, time.perf_counter()


async def measure(server: Server, key: str, flag: str, clients: int) -> dict[str, float]:
    fleet = Fleet(size=clients)
    stop = asyncio.Event()
    rss_before = server.rss_kib()
    tasks = []
    started = time.perf_counter()
    for first in range(0, clients, CONNECT_BATCH):
        for index in range(first, min(clients, first + CONNECT_BATCH)):
            tasks.append(asyncio.create_task(fleet.client(index, "127.0.0.1", server.port, key, stop)))
        await asyncio.sleep(0.05)
    deadline = time.perf_counter() + WAIT_SECONDS
    while fleet.ready + fleet.failed < clients and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(0.5)
    rss_after = server.rss_kib()
    from_response: list[float] = []
    from_request: list[float] = []
    before_response = 0
    patch_ms: list[float] = []
    incomplete = 0
    async with httpx.AsyncClient(base_url=server.url, headers=server.admin, timeout=30) as admin:
        for _ in range(ROUNDS):
            marker = f"bench-{secrets.token_hex(6)}"
            fleet.marker = marker.encode()
            fleet.arrivals = {}
            fleet.size = fleet.ready
            fleet.all_arrived = asyncio.Event()
            sent, returned = await patch_description(admin, flag, marker)
            patch_ms.append((returned - sent) * 1000)
            if fleet.size:
                try:
                    await asyncio.wait_for(fleet.all_arrived.wait(), WAIT_SECONDS)
                except TimeoutError:
                    incomplete += fleet.size - len(fleet.arrivals)
            from_response += [max(0.0, t - returned) * 1000 for t in fleet.arrivals.values()]
            from_request += [(t - sent) * 1000 for t in fleet.arrivals.values()]
            before_response += sum(t <= returned for t in fleet.arrivals.values())
            await asyncio.sleep(0.3)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "ready": fleet.ready,
        "failed": fleet.failed,
        "connect_s": connect_s,
        "patch_p50": percentile(patch_ms, 0.5),
        "p50": percentile(from_response, 0.5),
        "p99": percentile(from_response, 0.99),
        "max": max(from_response, default=float("nan")),
        "req_p50": percentile(from_request, 0.5),
        "req_p99": percentile(from_request, 0.99),
        "req_max": max(from_request, default=float("nan")),
        "before": 100.0 * before_response / max(1, len(from_request)),
        "incomplete": incomplete,
        "kib_per_client": (rss_after - rss_before) / max(1, fleet.ready),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=1, help="worker processes [default: 1]")
    workers = parser.parse_args().workers
    limit = raise_open_files_limit()
    print(f"server fan-out benchmark: {machine()}; open files limit {limit}; {workers} worker process(es)")
    results = []
    with temp_dir() as data_dir:
        server = start_server(data_dir, workers=workers)
        try:
            flags = seed_flags(server, FLAGS)
            key = sdk_key(server)
            for clients in CLIENT_COUNTS:
                results.append(uvloop.run(measure(server, key, flags[0], clients)))
                time.sleep(1)
        finally:
            stop_server(server)
    rows = [
        [
            f"{r['clients']:.0f}",
            f"{r['ready']:.0f}/{r['failed']:.0f}",
            f"{r['connect_s']:.1f}",
            f"{r['patch_p50']:.0f}",
            f"{r['p50']:.1f} / {r['p99']:.1f} / {r['max']:.1f}",
            f"{r['before']:.0f}%",
            f"{r['req_p50']:.0f} / {r['req_p99']:.0f} / {r['req_max']:.0f}",
            f"{r['incomplete']:.0f}",
            f"{r['kib_per_client']:.1f}" if r["clients"] else "-",
        ]
        for r in results
    ]
    headers = [
        "clients",
        "ready/failed",
        "connect s",
        "PATCH ms p50",
        "after PATCH response p50/p99/max ms",
        "before response",
        "after PATCH sent p50/p99/max ms",
        "missed",
        "RSS KiB/client",
    ]
    print(
        f"{ROUNDS} PATCHes per row. 'after PATCH response' = arrival at a client - the admin client "
        "receiving the PATCH response (0 when the change came first); 'after PATCH sent' includes the write."
    )
    print(table(headers, rows))


if __name__ == "__main__":
    main()
