"""Run `vexil serve` as a real subprocess for the data-plane and process tests, and read its SSE streams.

Each server gets a temporary data directory and a port the kernel picks (`--port 0`, read from its log).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from vexil.protocol import Message, SSEComment, SSEDecoder, SSEEvent, decode_sse

PG_ADMIN_URL = os.environ.get("VEXIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")


def vexil_executable() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    port: int = 0
    admin_key: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


def start_server(
    data_dir: Path, *, env: dict[str, str] | None = None, args: tuple[str, ...] = (), timeout: float = 20.0
) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{secrets.token_hex(3)}.log"
    # Only the settings a test passes: an ambient VEXIL_DATABASE_URL must not redirect a test server.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    full_env.update({"VEXIL_LOG_LEVEL": "info", **(env or {})})
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [vexil_executable(), "serve", "--data-dir", str(data_dir), "--port", "0", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = Server(proc, data_dir, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(server.output())
        if found:
            server.port = int(found.group(1))
            break
        if proc.poll() is not None:
            raise AssertionError(f"vexil serve exited with {proc.returncode}:\n{server.output()}")
        time.sleep(0.05)
    else:
        server.stop(signal.SIGKILL)
        raise AssertionError(f"vexil serve did not start in {timeout} s:\n{server.output()}")
    key_file = data_dir / "admin.key"
    if key_file.exists():
        server.admin_key = key_file.read_text().strip()
    return server


@contextlib.contextmanager
def running(data_dir: Path, **kwargs: Any) -> Iterator[Server]:
    server = start_server(data_dir, **kwargs)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)


def sdk_key(
    server: Server, kind: str = "server", environment: str = "production", project: str = "default"
) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/keys",
        headers=server.admin(),
        json={"name": f"{kind}-{environment}", "kind": kind, "project": project, "environment": environment},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


@dataclass
class StreamReader:
    """Reads an SSE stream on a thread; `messages` and `comments` fill up as bytes arrive (with times)."""

    url: str
    key: str
    messages: list[tuple[float, Message]] = field(default_factory=list)
    comments: list[tuple[float, str]] = field(default_factory=list)
    ended_cleanly: bool = False
    error: BaseException | None = None
    status: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _client: httpx.Client | None = None

    def start(self) -> StreamReader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        decoder = SSEDecoder()
        try:
            with httpx.Client(timeout=httpx.Timeout(30.0, read=60.0)) as client:
                self._client = client
                headers = {"Authorization": f"Bearer {self.key}"}
                with client.stream("GET", f"{self.url}/sdk/v1/stream", headers=headers) as response:
                    self.status = response.status_code
                    for chunk in response.iter_raw():
                        now = time.perf_counter()
                        for item in decoder.feed(chunk):
                            with self._cond:
                                if isinstance(item, SSEComment):
                                    self.comments.append((now, item.text))
                                elif isinstance(item, SSEEvent) and (message := decode_sse(item)) is not None:
                                    self.messages.append((now, message))
                                self._cond.notify_all()
                self.ended_cleanly = True
        except (httpx.HTTPError, OSError) as exc:
            self.error = exc
        finally:
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        """Wait until `predicate(messages)` returns something truthy; return it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = predicate([m for _, m in self.messages])
                if found:
                    return found
                remaining = deadline - time.monotonic()
                finished = self._thread is not None and not self._thread.is_alive()
                if remaining <= 0 or finished:
                    raise AssertionError(
                        f"stream condition not met (status {self.status}, error {self.error!r}): "
                        f"{self.messages!r:.2000}"
                    )
                self._cond.wait(min(remaining, 0.1))

    def arrival(self, message: Message) -> float:
        with self._cond:
            return next(t for t, m in self.messages if m == message)

    def join(self, timeout: float) -> bool:
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()


def worker_pids(server: Server) -> list[int]:
    """The worker processes of a `vexil serve --workers N` server (its children)."""
    children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def connections_per_worker(server: Server) -> dict[int, int]:
    """How many established connections to the server's port each worker holds (from /proc, Linux)."""
    established: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == server.port:
                    established.add(int(fields[9]))
    counts = {}
    for pid in worker_pids(server):
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        counts[pid] = len(inodes & established)
    return counts


def postgres_database() -> Iterator[str]:
    """A fresh database for one test, dropped after; under CI=true a missing PostgreSQL FAILS the test."""
    name = f"vexil_srv_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
