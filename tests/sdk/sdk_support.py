"""Test doubles for the SDK: a scriptable fake vexil server on httpx.MockTransport, and a real `vexil serve`.

The fake answers the three SDK endpoints from in-memory scripts; the real one is a subprocess on loopback.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vexil.protocol import Delete, ItemKind, Patch, Put, encode_sse

END = b""  # pushed into a stream queue: end the stream cleanly


def flag(value: Any = True, *, version: int = 1, on: bool = True) -> dict[str, Any]:
    """A flag serving `value` to everyone (variations [value, <something else>])."""
    other: Any = (not value) if isinstance(value, bool) else None
    return {
        "on": on,
        "variations": [value, other],
        "off_variation": 1,
        "fallthrough": {"variation": 0},
        "version": version,
    }


def put(flags: dict[str, Any], version: int = 1, segments: dict[str, Any] | None = None) -> bytes:
    return encode_sse(Put(version, {"flags": flags, "segments": segments or {}}))


def patch(key: str, item: dict[str, Any], version: int) -> bytes:
    return encode_sse(Patch(version, ItemKind.FLAG, key, {**item, "version": version}))


def delete(key: str, version: int) -> bytes:
    return encode_sse(Delete(version, ItemKind.FLAG, key))


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class FakeServer:
    """A fake of the SDK endpoints. Each stream connection takes the next entry of `stream_script`
    (an int: answer that status; bytes: send them and stay open for `push`); when the script runs out it
    uses `stream_default`. The snapshot endpoint answers from `snapshot_script` the same way (an int
    status, or a (version, document) tuple served with an ETag)."""

    stream_script: list[int | bytes] = field(default_factory=list)
    stream_default: int | bytes = 503
    snapshot_script: list[int | tuple[int, dict[str, Any]]] = field(default_factory=list)
    snapshot_default: int | tuple[int, dict[str, Any]] = 503
    events_status: int = 202
    requests: list[httpx.Request] = field(default_factory=list)
    event_batches: list[list[dict[str, Any]]] = field(default_factory=list)
    streams: list[queue.Queue[bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        if request.url.path == "/sdk/v1/stream":
            return self._stream()
        if request.url.path == "/sdk/v1/snapshot":
            return self._snapshot(request)
        if request.url.path == "/events/v1/bulk":
            body = request.read()
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            with self.lock:
                self.event_batches.append(json.loads(body))
            return httpx.Response(self.events_status, json={"accepted": 1})
        return httpx.Response(404)

    def _stream(self) -> httpx.Response:
        with self.lock:
            step = self.stream_script.pop(0) if self.stream_script else self.stream_default
        if isinstance(step, int):
            return httpx.Response(step, json={"title": "scripted"})
        pipe: queue.Queue[bytes] = queue.Queue()
        pipe.put(step)
        with self.lock:
            self.streams.append(pipe)

        def body() -> Iterator[bytes]:
            while True:
                try:
                    chunk = pipe.get(timeout=0.05)
                except queue.Empty:
                    chunk = b": idle\n\n"  # like a heartbeat: lets the reader notice a stop request
                if chunk == END:
                    return
                yield chunk

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    def _snapshot(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            step = self.snapshot_script.pop(0) if self.snapshot_script else self.snapshot_default
        if isinstance(step, int):
            return httpx.Response(step)
        version, document = step
        etag = f'"v{version}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return httpx.Response(200, headers={"etag": etag}, json={"version": version, "document": document})

    def push(self, data: bytes, index: int = -1) -> None:
        wait_for(lambda: self.streams)
        self.streams[index].put(data)

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.url.path == path)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for batch in self.event_batches for event in batch]


# -- a real `vexil serve` -------------------------------------------------------------------------------

_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")


def vexil_executable() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


@dataclass
class RealServer:
    data_dir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    admin_key: str = ""
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> RealServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / f"server-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
        env["VEXIL_LOG_LEVEL"] = "info"
        with self.log_path.open("wb") as sink:
            self.proc = subprocess.Popen(
                [vexil_executable(), "serve", "--data-dir", str(self.data_dir), "--port", str(self.port)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while True:
            found = _LISTENING.search(self.output())
            if found:
                self.port = int(found.group(1))
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"vexil serve did not start:\n{self.output()}")
            time.sleep(0.05)
        self.admin_key = (self.data_dir / "admin.key").read_text().strip()
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        """kill -9: no shutdown, no goodbye to the streams."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = httpx.request(
            method,
            f"{self.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {self.admin_key}"},
            json=body,
            timeout=10.0,
        )
        assert response.status_code < 300, response.text
        return response

    def sdk_key(self, environment: str = "production") -> str:
        body = {
            "name": f"sdk-{environment}",
            "kind": "server",
            "project": "default",
            "environment": environment,
        }
        return str(self.admin("POST", "/keys", body).json()["key"])

    def create_flag(self, key: str, variations: list[Any] | None = None) -> None:
        self.admin("POST", "/projects/default/flags", {"key": key, "variations": variations or [True, False]})

    def target(self, key: str, **targeting: Any) -> None:
        """PATCH the production targeting of flag `key` (`on`, `fallthrough`, ...)."""
        self.admin("PATCH", f"/projects/default/flags/{key}/environments/production", targeting)

    def serve(self, key: str, variation: int) -> None:
        self.target(key, on=True, fallthrough={"variation": variation})


@contextlib.contextmanager
def real_server(data_dir: Path) -> Iterator[RealServer]:
    server = RealServer(data_dir).start()
    try:
        yield server
    finally:
        server.kill()


@dataclass
class Silent:
    port: int
    accepted: list[socket.socket]


@contextlib.contextmanager
def silent_server() -> Iterator[Silent]:
    """A TCP server on loopback that accepts connections and never answers a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield Silent(listener.getsockname()[1], accepted)
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()
