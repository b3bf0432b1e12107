"""A live `vexil serve` subprocess for the real-client OFREP tests (SQLite in a temporary directory, a port
the kernel picks) and a thread that reads an SSE stream from it."""

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vexil.protocol import SSEComment, SSEDecoder, SSEEvent

FLAGS = "/api/v1/projects/default/flags"
_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")


@dataclass
class LiveServer:
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

    def new_key(self, kind: str) -> str:
        body = {
            "name": f"{kind}-{secrets.token_hex(3)}",
            "kind": kind,
            "project": "default",
            "environment": "production",
        }
        response = httpx.post(f"{self.url}/api/v1/keys", headers=self.admin(), json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    def flag(self, definition: dict[str, Any], targeting: dict[str, Any] | None = None) -> str:
        """Create a flag; `targeting` replaces those fields of its production targeting."""
        body = {"key": f"f-{secrets.token_hex(4)}", **definition}
        created = httpx.post(f"{self.url}{FLAGS}", headers=self.admin(), json=body)
        assert created.status_code == 201, created.text
        if targeting is not None:
            self.retarget(str(body["key"]), targeting)
        return str(body["key"])

    def retarget(self, flag: str, targeting: dict[str, Any]) -> None:
        path = f"{self.url}{FLAGS}/{flag}/environments/production"
        current = httpx.get(path, headers=self.admin()).json()
        fields = ("on", "targets", "rules", "fallthrough", "off_variation", "prerequisites")
        replaced = {name: current[name] for name in fields if name in current} | targeting
        response = httpx.put(path, headers=self.admin(), json=replaced)
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _vexil() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


def start(data_dir: Path, env: dict[str, str] | None = None, timeout: float = 20.0) -> LiveServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"server-{secrets.token_hex(3)}.log"
    # Only the settings a test passes: ambient VEXIL_* variables must not change a test server.
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    full_env.update({"VEXIL_LOG_LEVEL": "info", **(env or {})})
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [_vexil(), "serve", "--data-dir", str(data_dir), "--port", "0"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=full_env,
        )
    server = LiveServer(proc, data_dir, log)
    deadline = time.monotonic() + timeout
    while not (found := _LISTENING.search(server.output())):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"vexil serve did not start:\n{server.output()}")
        time.sleep(0.05)
    server.port = int(found.group(1))
    server.admin_key = (data_dir / "admin.key").read_text().strip()
    return server


@contextlib.contextmanager
def running(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = start(data_dir, env)
    try:
        yield server
    finally:
        server.stop()


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `condition` until it returns something truthy; return that (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class SSEReader:
    """Reads one SSE response on a thread; `events` (data/event/id dicts) and `comments` fill up as they come.

    Non-stream answers (errors) are read too: `status`, `response_headers`, and `body` for those."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, str]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    body: bytes = b""
    error: BaseException | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SSEReader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(10)

    def _run(self) -> None:
        decoder = SSEDecoder()
        try:
            # Live servers here send heartbeats every fraction of a second, so the loop checks `_stop` often.
            with (
                httpx.Client(timeout=httpx.Timeout(10.0)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                self.status = response.status_code
                self.response_headers = dict(response.headers)
                if not response.headers.get("content-type", "").startswith("text/event-stream"):
                    self.body = response.read()
                    return
                for chunk in response.iter_raw():
                    if self._stop.is_set():
                        return
                    for item in decoder.feed(chunk):
                        if isinstance(item, SSEComment):
                            self.comments.append(item.text)
                        elif isinstance(item, SSEEvent):
                            self.events.append(
                                {"data": item.data, "event": item.event, "id": item.last_event_id}
                            )
        except (httpx.HTTPError, OSError) as exc:
            self.error = exc
