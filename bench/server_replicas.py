"""Propagation across replicas: two `vexil serve` processes share one PostgreSQL database (a fresh one,
dropped after); SSE clients connect to replica B, admin PATCHes go to replica A. Prints the time from A's
PATCH response to the change reaching every client of B (p50/p99/max). Env: BENCH_CLIENTS ("1,1000"),
BENCH_ROUNDS (10), BENCH_FLAGS (50), VEXIL_TEST_PG_ADMIN_URL (postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time

import httpx
import psycopg
import uvloop
from server_fanout import Fleet, patch_description
from server_support import (
    PG_ADMIN_URL,
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

CLIENT_COUNTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "1,1000").split(",")]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
FLAGS = int(os.environ.get("BENCH_FLAGS", "50"))
WAIT_SECONDS = 30.0


async def measure(a: Server, b: Server, key: str, flag: str, clients: int) -> dict[str, float]:
    fleet = Fleet(size=clients)
    stop = asyncio.Event()
    tasks = []
    for index in range(clients):
        tasks.append(asyncio.create_task(fleet.client(index, "127.0.0.1", b.port, key, stop)))
        if index % 250 == 249:
            await asyncio.sleep(0.05)
    deadline = time.perf_counter() + WAIT_SECONDS
    while fleet.ready + fleet.failed < clients and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    after_response: list[float] = []
    after_request: list[float] = []
    incomplete = 0
    async with httpx.AsyncClient(base_url=a.url, headers=a.admin, timeout=30) as admin:
        for _ in range(ROUNDS):
            marker = f"bench-{secrets.token_hex(6)}"
            fleet.marker = marker.encode()
            fleet.arrivals = {}
            fleet.size = fleet.ready
            fleet.all_arrived = asyncio.Event()
            sent, returned = await patch_description(admin, flag, marker)
            try:
                await asyncio.wait_for(fleet.all_arrived.wait(), WAIT_SECONDS)
            except TimeoutError:
                incomplete += fleet.size - len(fleet.arrivals)
            after_response += [(t - returned) * 1000 for t in fleet.arrivals.values()]
            after_request += [(t - sent) * 1000 for t in fleet.arrivals.values()]
            await asyncio.sleep(0.2)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients,
        "ready": fleet.ready,
        "p50": percentile(after_response, 0.5),
        "p99": percentile(after_response, 0.99),
        "max": max(after_response, default=float("nan")),
        "req_p50": percentile(after_request, 0.5),
        "incomplete": incomplete,
    }


def main() -> None:
    raise_open_files_limit()
    print(f"replica propagation benchmark (PostgreSQL LISTEN/NOTIFY): {machine()}")
    name = f"vexil_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as pg:
        pg.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    results = []
    try:
        with temp_dir() as data_dir:
            a = start_server(data_dir / "a", env={"VEXIL_DATABASE_URL": url})
            b = start_server(data_dir / "b", env={"VEXIL_DATABASE_URL": url}, admin_key=a.admin_key)
            try:
                flags = seed_flags(a, FLAGS)
                key = sdk_key(a)
                for clients in CLIENT_COUNTS:
                    results.append(uvloop.run(measure(a, b, key, flags[0], clients)))
            finally:
                stop_server(a)
                stop_server(b)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rows = [
        [
            f"{r['clients']:.0f}",
            f"{r['ready']:.0f}",
            f"{r['p50']:.1f}",
            f"{r['p99']:.1f}",
            f"{r['max']:.1f}",
            f"{r['req_p50']:.1f}",
            f"{r['incomplete']:.0f}",
        ]
        for r in results
    ]
    print(f"{ROUNDS} PATCHes on replica A per row; clients on replica B; ms after A's PATCH response")
    print(table(["clients on B", "ready", "p50 ms", "p99 ms", "max ms", "p50 after sending", "missed"], rows))


if __name__ == "__main__":
    main()
