"""Real processes for the relay tests: `vexil serve` (the upstream) and `vexil relay`, on 127.0.0.1.

Every wait is bounded; a process that does not start fails the test with its log. Ports come from the
kernel (`--port 0`, read from uvicorn's log line); an upstream restarts on the port it had.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from vexil.protocol import Message, SSEDecoder, SSEEvent, decode_sse

_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")
PROJECT = "/api/v1/projects/default"
T = TypeVar("T")


def vexil_executable() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def _clean_env(extra: dict[str, str] | None) -> dict[str, str]:
    # Only the settings a test passes: ambient VEXIL_* variables must not redirect a test process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}
    env.update({"VEXIL_LOG_LEVEL": "info", **(extra or {})})
    return env


def _spawn(args: Sequence[str], log: Path, env: dict[str, str], timeout: float) -> Process:
    offset = len(log.read_text(errors="replace")) if log.exists() else 0  # a restart appends to the log
    with log.open("ab") as sink:
        proc = subprocess.Popen([vexil_executable(), *args], stdout=sink, stderr=subprocess.STDOUT, env=env)
    process = Process(proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = process.output()
        found = _LISTENING.search(text, offset)
        if found:
            process.port = int(found.group(1))
            return process
        if proc.poll() is not None:
            raise AssertionError(f"vexil {args[0]} exited with {proc.returncode}:\n{text}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"vexil {args[0]} did not start in {timeout} s:\n{process.output()}")


@dataclass
class Upstream:
    data_dir: Path
    process: Process | None = None
    port: int = 0
    admin_key: str = ""
    key_ids: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def start(self, timeout: float = 20.0) -> Upstream:
        """Start (or restart, on the same port and data directory) `vexil serve`."""
        log = self.data_dir / "server.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Heartbeats every second, so revoked keys and dead peers show up quickly.
        env = _clean_env({"VEXIL_HEARTBEAT_SECONDS": "1", "VEXIL_OFREP_RATE_LIMIT": "0"})
        args = ["serve", "--data-dir", str(self.data_dir), "--port", str(self.port)]
        self.process = _spawn(args, log, env, timeout)
        self.port = self.process.port
        self.admin_key = (self.data_dir / "admin.key").read_text().strip()
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def sdk_key(self, kind: str = "server", environment: str = "production") -> str:
        body = {"name": f"{kind}-{environment}-{secrets.token_hex(2)}", "kind": kind, "project": "default"}
        response = httpx.post(
            f"{self.url}/api/v1/keys", headers=self.admin(), json={**body, "environment": environment}
        )
        assert response.status_code == 201, response.text
        secret = str(response.json()["key"])
        self.key_ids[secret] = int(response.json()["id"])
        return secret

    def revoke(self, secret: str) -> None:
        response = httpx.delete(f"{self.url}/api/v1/keys/{self.key_ids[secret]}", headers=self.admin())
        assert response.status_code == 200, response.text

    def create_flag(self, key: str, *, client_side: bool = False, on: bool = True) -> None:
        flag = {"key": key, "variations": [False, True], "client_side": client_side}
        response = httpx.post(f"{self.url}{PROJECT}/flags", headers=self.admin(), json=flag)
        assert response.status_code == 201, response.text
        self.set_targeting(key, on=on)

    def set_targeting(self, key: str, *, on: bool, environment: str = "production") -> None:
        path = f"{self.url}{PROJECT}/flags/{key}/environments/{environment}"
        response = httpx.patch(path, headers=self.admin(), json={"on": on})
        assert response.status_code == 200, response.text

    def usage(self, flag: str, environment: str = "production") -> int:
        """How many evaluations of `flag` in `environment` the upstream counted (its admin usage API)."""
        response = httpx.get(f"{self.url}{PROJECT}/flags/{flag}/usage", headers=self.admin())
        assert response.status_code == 200, response.text
        return sum(
            int(item["total"]) for item in response.json()["items"] if item["environment"] == environment
        )


@dataclass
class Relay:
    upstream_url: str
    cache_dir: Path
    sdk_keys: list[str]
    client_keys: list[tuple[str, str]] = field(default_factory=list)
    process: Process | None = None

    @property
    def url(self) -> str:
        assert self.process is not None
        return self.process.url

    def start(self, timeout: float = 20.0) -> Relay:
        args = ["relay", "--upstream", self.upstream_url, "--port", "0", "--cache-dir", str(self.cache_dir)]
        args += ["--backoff-max", "1", "--poll-interval", "1", "--events-interval", "0.3"]
        for key in self.sdk_keys:
            args += ["--sdk-key", key]
        for client, server in self.client_keys:
            args += ["--client-key", f"{client}={server}"]
        env = _clean_env(
            {"VEXIL_HEARTBEAT_SECONDS": "1", "VEXIL_OFREP_RATE_LIMIT": "0", "VEXIL_AUTH_CACHE_SECONDS": "1"}
        )
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.process = _spawn(args, self.cache_dir.parent / "relay.log", env, timeout)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            self.process.kill()

    def readyz(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.url}/readyz")
        return response.status_code, response.json()


def wait_until(check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy (returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.TransportError:
            last = None
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout} s (last: {last!r})")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class StreamClient:
    """Reads `/sdk/v1/stream` on a thread and collects the decoded messages."""

    url: str
    key: str
    messages: list[Message] = field(default_factory=list)
    status: int = 0
    error: BaseException | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> StreamClient:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        decoder = SSEDecoder()
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client,
                client.stream("GET", f"{self.url}/sdk/v1/stream", headers=bearer(self.key)) as response,
            ):
                self.status = response.status_code
                for chunk in response.iter_raw():
                    for item in decoder.feed(chunk):
                        if isinstance(item, SSEEvent) and (message := decode_sse(item)) is not None:
                            with self._cond:
                                self.messages.append(message)
                                self._cond.notify_all()
                    if self._stop.is_set():
                        return
        except (httpx.HTTPError, OSError) as exc:
            self.error = exc
        finally:
            with self._cond:
                self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Message]], T | None], timeout: float = 10.0) -> T:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = predicate(list(self.messages))
                if found:
                    return found
                remaining = deadline - time.monotonic()
                alive = self._thread is not None and self._thread.is_alive()
                if remaining <= 0 or not alive:
                    raise AssertionError(
                        f"stream condition not met (status {self.status}, error {self.error!r}): "
                        f"{self.messages!r:.1500}"
                    )
                self._cond.wait(min(remaining, 0.1))
