"""Shared plumbing of the server benchmarks: start `vexil serve` on loopback, seed flags, keys, RSS, tables.

Bench-only helpers (not imported by the package or the tests); every wait here is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")
PROJECT = "/api/v1/projects/default"
PG_ADMIN_URL = os.environ.get("VEXIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    port: int
    admin_key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def rss_kib(self) -> int:
        """Resident memory of the server and its worker processes (`--workers N`), in KiB."""
        return sum(_rss_kib(pid) for pid in [self.proc.pid, *self.worker_pids()])

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _vexil() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    if not found:
        raise SystemExit("the vexil console script is not installed: pip install -e .")
    return found


def start_server(
    data_dir: Path, env: dict[str, str] | None = None, admin_key: str = "", workers: int = 1
) -> Server:
    """`vexil serve` on a free loopback port; `workers` > 1 runs that many worker processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{secrets.token_hex(3)}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    full_env.update({"VEXIL_LOG_LEVEL": "info", **(env or {})})
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [_vexil(), "serve", "--data-dir", str(data_dir), "--port", "0", "--workers", str(workers)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            key_file = data_dir / "admin.key"
            key = key_file.read_text().strip() if key_file.exists() else admin_key
            return Server(proc, data_dir, log, int(found.group(1)), key)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"vexil serve did not start:\n{log.read_text(errors='replace')}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()


@contextlib.contextmanager
def temp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vexil-bench-") as name:
        yield Path(name)


def _targeting(i: int) -> dict[str, object]:
    """A realistic flag: two rules on attributes, a segment-free clause mix and a percentage rollout."""
    return {
        "on": True,
        "off_variation": 0,
        "rules": [
            {
                "id": f"r{i}a",
                "description": "internal users",
                "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
                "serve": {"variation": 1},
            },
            {
                "id": f"r{i}b",
                "clauses": [
                    {"attribute": "country", "op": "in", "values": ["NZ", "IS", "LU", "DE", "FR"]},
                    {"attribute": "plan", "op": "in", "values": ["pro", "enterprise"]},
                ],
                "serve": {
                    "rollout": {
                        "variations": [{"variation": 0, "weight": 80000}, {"variation": 1, "weight": 20000}]
                    }
                },
            },
        ],
        "fallthrough": {"variation": 0},
    }


def seed_flags(server: Server, count: int, prefix: str = "bench") -> list[str]:
    keys = []
    with httpx.Client(base_url=server.url, headers=server.admin, timeout=30) as client:
        for i in range(count):
            key = f"{prefix}-{i:03d}"
            body = {
                "key": key,
                "variations": [False, True],
                "description": f"Benchmark flag {i}",
            }
            response = client.post(f"{PROJECT}/flags", json=body)
            response.raise_for_status()
            client.put(
                f"{PROJECT}/flags/{key}/environments/production", json=_targeting(i)
            ).raise_for_status()
            keys.append(key)
    return keys


def sdk_key(server: Server, kind: str = "server") -> str:
    body = {"name": f"bench-{kind}", "kind": kind, "project": "default", "environment": "production"}
    response = httpx.post(f"{server.url}/api/v1/keys", headers=server.admin, json=body, timeout=30)
    response.raise_for_status()
    return str(response.json()["key"])


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=1000, method="inclusive")[max(0, min(998, round(q * 1000) - 1))]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {load[0]:.2f} at start, Python {sys.version.split()[0]}"
