"""Run real `vexil serve` processes and the real `vexil` console script for the CLI tests (not collected),
and open the stores the bulk-apply tests use (SQLite, PostgreSQL).

Each server gets a temporary data directory and a kernel-chosen port (read from its log); each `Cli` its
own config directory, so tests never touch the user's profiles.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from vexil.service import Store
from vexil.store import PostgresStore, SqliteStore

_LISTENING = re.compile(r"Uvicorn running on http://[^:]+:(\d+)")
PG_ADMIN_URL = os.environ.get("VEXIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def vexil_executable() -> str:
    beside = Path(sys.executable).parent / "vexil"
    found = str(beside) if beside.exists() else shutil.which("vexil")
    assert found, "the vexil console script is not installed: pip install -e ."
    return found


def clean_env() -> dict[str, str]:
    """The environment without VEXIL_* settings, so nothing ambient redirects a test."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VEXIL_")}


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

    def api(self) -> httpx.Client:
        """A plain HTTP client with the admin key, to arrange and check state behind the CLI's back."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_key}"}, timeout=30
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(data_dir: Path, *args: str, timeout: float = 30.0) -> Server:
    log = data_dir / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [vexil_executable(), "serve", "--data-dir", str(data_dir / "data"), "--port", "0", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**clean_env(), "VEXIL_LOG_LEVEL": "info"},
        )
    server = Server(proc, data_dir, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            server.port = int(found.group(1))
            server.admin_key = (data_dir / "data" / "admin.key").read_text().strip()
            return server
        if proc.poll() is not None:
            raise AssertionError(
                f"vexil serve exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        time.sleep(0.05)
    server.stop()
    raise AssertionError(f"vexil serve did not start in {timeout} s:\n{log.read_text(errors='replace')}")


@contextlib.contextmanager
def running_server(data_dir: Path, *args: str) -> Iterator[Server]:
    server = start_server(data_dir, *args)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def open_store(kind: str, tmp_path: Path) -> Iterator[Store]:
    """A fresh store: SQLite in `tmp_path`, or a new PostgreSQL database dropped afterwards (unreachable:
    the test FAILS when CI=true, else it is skipped)."""
    if kind == "sqlite":
        sqlite = SqliteStore(str(tmp_path / "vexil.db"))
        try:
            yield sqlite
        finally:
            sqlite.close()
        return
    name = f"vexil_cli_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        postgres = PostgresStore(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
        try:
            yield postgres
        finally:
            postgres.close()
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        command = " ".join(self.args)
        return f"vexil {command} -> {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@dataclass
class Cli:
    """`cli("flags", "list")` runs the console script; `expect` is the exit status it must have."""

    config_dir: Path
    cwd: Path
    extra_env: dict[str, str]

    def __call__(
        self, *args: str, expect: int | None = 0, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        full_env = {**clean_env(), "XDG_CONFIG_HOME": str(self.config_dir), **self.extra_env, **(env or {})}
        done = subprocess.run(
            [vexil_executable(), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            cwd=self.cwd,
            timeout=60,
            check=False,
        )
        result = Result(args, done.returncode, done.stdout, done.stderr)
        if expect is not None:
            assert result.returncode == expect, str(result)
        # A user mistake or a refusal is one readable line, never a traceback.
        assert "Traceback" not in result.stderr, str(result)
        return result


def login(server: Server, config_dir: Path) -> Cli:
    config_dir.mkdir(parents=True, exist_ok=True)
    cli = Cli(config_dir, config_dir, {})
    out = cli("login", "--url", server.url, "--key", "-", stdin=server.admin_key + "\n")
    assert "Logged in" in out.stdout
    return cli
