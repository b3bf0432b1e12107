"""Snapshot endpoint throughput: requests/s, p50 and p99 of the 304 path and the full path (50 flags, 50
connections, loopback) against `vexil serve` (SQLite), with wrk or, without it, a raw asyncio (uvloop) load
generator (the output says which). `--workers 1,2` runs the cases once per worker count, under the same
conditions, and prints the ratio to the first. Env: BENCH_DURATION (s, default 10), BENCH_FLAGS (50),
BENCH_CONNECTIONS (50), BENCH_LOADGEN=asyncio to force the fallback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass

import httpx
import uvloop
from server_support import (
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

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
FLAGS = int(os.environ.get("BENCH_FLAGS", "50"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
LOADGEN = os.environ.get("BENCH_LOADGEN", "wrk" if shutil.which("wrk") else "asyncio")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def run_wrk(name: str, url: str, headers: dict[str, str]) -> Result:
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{int(DURATION)}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=DURATION + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    return Result(name, rps, p50, p99, errors)


async def _connection(
    host: str, port: int, request: bytes, expected: int, deadline: float, latencies: list[float]
) -> int:
    """One keep-alive HTTP/1.1 connection sending `request` back to back; returns its error count."""
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != expected
    finally:
        writer.close()
    return errors


async def _asyncio_load(name: str, url: str, headers: dict[str, str], expected: int) -> Result:
    """The fallback load generator: raw asyncio sockets on uvloop (httpx's pool is far slower than wrk)."""
    parsed = httpx.URL(url)
    lines = [f"GET {parsed.raw_path.decode()} HTTP/1.1", f"Host: {parsed.host}:{parsed.port}"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + DURATION
    errors = await asyncio.gather(
        *(
            _connection(parsed.host, parsed.port or 80, request, expected, deadline, latencies)
            for _ in range(CONNECTIONS)
        )
    )
    elapsed = time.perf_counter() - started
    return Result(
        name, len(latencies) / elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99), sum(errors)
    )


def run_asyncio(name: str, url: str, headers: dict[str, str], expected: int) -> Result:
    return uvloop.run(_asyncio_load(name, url, headers, expected))


def run_cases(workers: int) -> tuple[list[Result], int]:
    """Every case against a fresh server with `workers` processes; returns the results and its RSS (KiB)."""
    with temp_dir() as data_dir:
        server = start_server(data_dir, env={"VEXIL_LOG_LEVEL": "info"}, workers=workers)
        try:
            seed_flags(server, FLAGS)
            key = sdk_key(server)
            url = f"{server.url}/sdk/v1/snapshot"
            auth = {"Authorization": f"Bearer {key}"}
            plain = httpx.get(url, headers={**auth, "Accept-Encoding": "identity"})
            zipped = httpx.get(url, headers={**auth, "Accept-Encoding": "gzip"})
            etag = plain.headers["etag"]
            size = len(plain.content)
            gz_size = int(zipped.headers["content-length"])
            cases = [
                ("304 (If-None-Match)", {**auth, "If-None-Match": etag, "Accept-Encoding": "identity"}, 304),
                (f"full, {size / 1024:.1f} KiB JSON", {**auth, "Accept-Encoding": "identity"}, 200),
                (f"full, gzip ({gz_size / 1024:.1f} KiB)", {**auth, "Accept-Encoding": "gzip"}, 200),
            ]
            results = []
            for name, headers, expected in cases:
                if LOADGEN == "wrk":
                    results.append(run_wrk(name, url, headers))
                else:
                    results.append(run_asyncio(name, url, headers, expected))
            rss = server.rss_kib()
        finally:
            stop_server(server)
    return results, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--workers", default="1", help="worker processes per run, comma-separated (e.g. 1,2) [default: 1]"
    )
    counts = [int(n) for n in parser.parse_args().workers.split(",")]
    raise_open_files_limit()
    print(f"server snapshot benchmark: {machine()}; load generator: {LOADGEN}")
    runs = [(workers, *run_cases(workers)) for workers in counts]
    base = {r.name: r.rps for r in runs[0][1]}
    rows = [
        [
            f"{workers}",
            r.name,
            f"{r.rps:,.0f}",
            f"{r.rps / base[r.name]:.2f}x",
            f"{r.p50_ms:.2f}",
            f"{r.p99_ms:.2f}",
            r.errors,
            f"{rss / 1024:.0f}",
        ]
        for workers, results, rss in runs
        for r in results
    ]
    print(
        f"{FLAGS} flags, {CONNECTIONS} connections, {DURATION:.0f} s per case; ratio to {counts[0]} worker(s)"
    )
    print(table(["workers", "path", "requests/s", "ratio", "p50 ms", "p99 ms", "errors", "RSS MiB"], rows))
    print(f"load average after the runs: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
