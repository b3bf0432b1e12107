"""OFREP throughput and propagation against one `vexil serve` process (SQLite, loopback, bounded):
requests/s, p50 and p99 of single-flag and bulk (50 flags) evaluation at 50 connections, a random user per
request, with wrk (a Lua script builds the POST bodies) or, without it, a raw asyncio load generator; then
the time from an admin PATCH returning to an OFREP stream's `refetchEvaluation` and to the new value in a
bulk refetch. Env: BENCH_DURATION (s, default 10), BENCH_FLAGS (50), BENCH_CONNECTIONS (50),
BENCH_CHANGES (20), BENCH_LOADGEN=asyncio to force the fallback. The per-key rate limit is turned off.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

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

from vexil.protocol import SSEDecoder, SSEEvent

DURATION = float(os.environ.get("BENCH_DURATION", "10"))
FLAGS = int(os.environ.get("BENCH_FLAGS", "50"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "50"))
CHANGES = int(os.environ.get("BENCH_CHANGES", "20"))
LOADGEN = os.environ.get("BENCH_LOADGEN", "wrk" if shutil.which("wrk") else "asyncio")
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}

#: One request: a fresh user (random key, mixed attributes), so nothing is served from a per-context cache.
_LUA = """
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  math.randomseed(os.time() * 100 + id)
end
local countries = {"NZ", "DE", "US", "FR", "JP"}
local plans = {"free", "pro", "enterprise"}
local fixed = %(fixed)s
request = function()
  local n = math.random(1, 100000000)
  local domain = (n %% 10 == 0) and "example.com" or "example.org"
  local body = fixed or string.format(
    '{"context":{"targetingKey":"user-%%d","email":"u%%d@%%s","country":"%%s","plan":"%%s"}}',
    n, n, domain, countries[n %% 5 + 1], plans[n %% 3 + 1])
  return wrk.format("POST", "%(path)s", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %(key)s",%(extra)s
  }, body)
end
"""


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _random_body(rng: random.Random) -> bytes:
    n = rng.randrange(1, 100_000_000)
    context = {
        "targetingKey": f"user-{n}",
        "email": f"u{n}@{'example.com' if n % 10 == 0 else 'example.org'}",
        "country": ["NZ", "DE", "US", "FR", "JP"][n % 5],
        "plan": ["free", "pro", "enterprise"][n % 3],
    }
    return json.dumps({"context": context}).encode()


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def run_wrk(name: str, url: str, key: str, fixed_body: bytes | None, extra: dict[str, str]) -> Result:
    parsed = httpx.URL(url)
    extra_lua = "".join(f'\n    ["{k}"] = {json.dumps(v)},' for k, v in extra.items())
    fixed = "nil" if fixed_body is None else json.dumps(fixed_body.decode())  # a JSON string is a Lua string
    script = _LUA % {"path": parsed.raw_path.decode(), "key": key, "extra": extra_lua, "fixed": fixed}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        lua = handle.name
    try:
        args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{int(DURATION)}s", "--latency", "-s", lua, url]
        out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=DURATION + 30).stdout
    finally:
        Path(lua).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(g) for g in socket_errors.groups()) if socket_errors else 0
    return Result(name, rps, p50, p99, errors)


async def _connection(
    url: httpx.URL, key: str, fixed: bytes | None, extra: dict[str, str], deadline: float, out: list[float]
) -> int:
    """One keep-alive HTTP/1.1 connection posting back to back; returns its count of unexpected statuses."""
    rng = random.Random()
    head = [f"POST {url.raw_path.decode()} HTTP/1.1", f"Host: {url.host}:{url.port}"]
    head += ["Content-Type: application/json", f"Authorization: Bearer {key}"]
    head += [f"{k}: {v}" for k, v in extra.items()]
    errors = 0
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        while time.perf_counter() < deadline:
            body = fixed if fixed is not None else _random_body(rng)
            request = ("\r\n".join([*head, f"Content-Length: {len(body)}"]) + "\r\n\r\n").encode() + body
            started = time.perf_counter()
            writer.write(request)
            response = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", response)
            if length:
                await reader.readexactly(int(length.group(1)))
            out.append((time.perf_counter() - started) * 1000)
            errors += int(response[9:12]) not in (200, 304)
    finally:
        writer.close()
    return errors


async def _asyncio_load(name: str, url: str, key: str, fixed: bytes | None, extra: dict[str, str]) -> Result:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + DURATION
    parsed = httpx.URL(url)
    errors = await asyncio.gather(
        *(_connection(parsed, key, fixed, extra, deadline, latencies) for _ in range(CONNECTIONS))
    )
    elapsed = time.perf_counter() - started
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return Result(name, len(latencies) / elapsed, p50, p99, sum(errors))


def load(
    name: str, url: str, key: str, fixed: bytes | None = None, extra: dict[str, str] | None = None
) -> Result:
    if LOADGEN == "wrk":
        return run_wrk(name, url, key, fixed, extra or {})
    return uvloop.run(_asyncio_load(name, url, key, fixed, extra or {}))


def propagation(server: Server, key: str, flag: str) -> tuple[list[float], list[float]]:
    """(ms to the stream event, ms to the new value in a bulk refetch) after each admin PATCH returns."""
    body = {"context": {"targetingKey": "watcher"}}
    auth = {"Authorization": f"Bearer {key}"}
    first = httpx.post(f"{server.url}/ofrep/v1/evaluate/flags", headers=auth, json=body).json()
    stream_url = server.url + first["eventStreams"][0]["endpoint"]["requestUri"]
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

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    to_event: list[float] = []
    to_value: list[float] = []
    path = f"{server.url}{PROJECT}/flags/{flag}/environments/production"
    with (
        httpx.Client(headers=server.admin, timeout=30) as admin,
        httpx.Client(headers=auth, timeout=30) as sdk,
    ):
        with seen:
            seen.wait_for(lambda: arrivals, timeout=10)
        for i in range(CHANGES):
            want = i % 2 == 0
            before = len(arrivals)
            admin.patch(path, json={"on": want}).raise_for_status()
            returned = time.perf_counter()
            with seen:
                if not seen.wait_for(lambda: len(arrivals) > before, timeout=10):  # noqa: B023
                    raise SystemExit("no refetch event within 10 s")
                to_event.append((arrivals[before] - returned) * 1000)
            items = sdk.post(f"{server.url}/ofrep/v1/evaluate/flags", json=body).json()["flags"]
            value = next(item for item in items if item["key"] == flag)["value"]
            to_value.append((time.perf_counter() - returned) * 1000)
            if value is not want:
                raise SystemExit(f"the refetch after the event still served {value!r}")
            time.sleep(0.05)
    stop.set()
    return to_event, to_value


def main() -> None:
    raise_open_files_limit()
    print(f"OFREP benchmark: {machine()}; load generator: {LOADGEN}", flush=True)
    with temp_dir() as data_dir:
        server = start_server(data_dir, env={"VEXIL_OFREP_RATE_LIMIT": "0"})
        try:
            flags = seed_flags(server, FLAGS)
            key = sdk_key(server)
            single = f"{server.url}/ofrep/v1/evaluate/flags/{flags[0]}"
            bulk = f"{server.url}/ofrep/v1/evaluate/flags"
            fixed = (
                b'{"context":{"targetingKey":"user-42","email":"a@example.org","plan":"pro","country":"DE"}}'
            )
            auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            etag = httpx.post(bulk, headers=auth, content=fixed).headers["etag"]
            size = len(httpx.post(bulk, headers=auth, content=fixed).content)
            results = [
                load("single flag, random user", single, key),
                load(f"bulk {FLAGS} flags, random user ({size / 1024:.1f} KiB)", bulk, key),
                load(f"bulk {FLAGS} flags, 304 (If-None-Match)", bulk, key, fixed, {"If-None-Match": etag}),
            ]
            rss = server.rss_kib()
            toggled = httpx.post(
                f"{server.url}{PROJECT}/flags",
                headers=server.admin,
                json={"key": "bench-toggle", "variations": [False, True]},
            )
            toggled.raise_for_status()  # a new boolean flag: off serves false, on serves true to everyone
            to_event, to_value = propagation(server, key, "bench-toggle")
        finally:
            stop_server(server)
    rows = [[r.name, f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", r.errors] for r in results]
    print(
        f"{FLAGS} flags (2 rules each, one a rollout), {CONNECTIONS} connections, {DURATION:.0f} s per case"
    )
    print(table(["request", "requests/s", "p50 ms", "p99 ms", "errors"], rows))
    print(f"server RSS after the load: {rss / 1024:.1f} MiB")
    prop = [
        ["PATCH returned -> stream event", *(f"{f(to_event):.1f}" for f in _STATS)],
        ["PATCH returned -> new value in bulk refetch", *(f"{f(to_value):.1f}" for f in _STATS)],
    ]
    print(f"propagation over the OFREP stream, {CHANGES} toggles:")
    print(table(["ms", "p50", "p99", "max"], prop))


_STATS = (lambda v: percentile(v, 0.5), lambda v: percentile(v, 0.99), max)


if __name__ == "__main__":
    main()
