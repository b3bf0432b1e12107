"""`vexil serve`: open the store, bootstrap on first start, run the app under uvicorn, shut down gracefully.

Process wiring only (settings, files, signals, worker processes); the HTTP behaviour lives in `vexil.server`.
It never prints a secret: the first admin key goes to a 0600 file and only that file's path is shown.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import click
import psycopg
import uvicorn
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from vexil.server import ServerSettings, SettingsError, create_app
from vexil.service import Principal, Service, Store
from vexil.store import open_store

from ._supervisor import Supervisor

ADMIN_KEY_FILE = "admin.key"
#: uvicorn gets this much less than the shutdown budget, leaving time for the lifespan and store to close.
_SHUTDOWN_MARGIN_SECONDS = 2


class _Closable(Protocol):
    def close(self) -> None: ...


def database_label(url: str | None, data_dir: Path) -> str:
    """Where the data lives, for humans, without the credentials a URL may carry."""
    if url and url.startswith(("postgresql://", "postgres://")):
        host = url.split("@")[-1].split("?")[0]
        return f"PostgreSQL at {host}"
    return f"SQLite in {data_dir.resolve()}"


def write_admin_key(data_dir: Path, secret: str) -> Path:
    """Write the key readable by its owner only (0600), atomically; returns the path."""
    path = data_dir / ADMIN_KEY_FILE
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the file already existed with other permissions
        os.write(fd, secret.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


def find_hub(app: Starlette) -> _Closable | None:
    """The app's SDK hub: `app.state.hub`, else the one the stream route holds."""
    hub = getattr(app.state, "hub", None)
    if hub is not None:
        return hub  # type: ignore[no-any-return]
    for route in app.routes:
        hub = getattr(getattr(route, "endpoint", None), "hub", None)
        if hub is not None:
            return hub  # type: ignore[no-any-return]
    return None


class GracefulServer(uvicorn.Server):
    """On shutdown: stop accepting, end SSE streams at once (clients reconnect elsewhere), then let uvicorn
    finish in-flight requests within its graceful timeout. `on_started` runs once it accepts connections."""

    def __init__(
        self, config: uvicorn.Config, hub: _Closable | None, on_started: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self._hub = hub
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        if self._hub is not None:
            self._hub.close()
        await super().shutdown(sockets)


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it; the shutdown was clean by then: exit status 0."""


def _open(settings: ServerSettings) -> Store:
    try:
        return open_store(settings.database_url, settings.data_dir)
    except (OSError, ValueError, sqlite3.Error, psycopg.Error) as exc:  # unreachable or unusable database
        raise click.ClickException(
            f"cannot open the database ({database_label(settings.database_url, settings.data_dir)}): {exc}"
        ) from exc


def _bootstrap(service: Service, settings: ServerSettings) -> None:
    data_dir = settings.data_dir
    boot = service.ensure_default()
    click.echo(f"vexil: data in {database_label(settings.database_url, data_dir)}")
    if boot.admin_secret is not None:
        path = write_admin_key(data_dir, boot.admin_secret.reveal())
        click.echo(f"vexil: created the first admin key; it is in {path.resolve()} (readable only by you)")
    elif (data_dir / ADMIN_KEY_FILE).exists():
        click.echo(f"vexil: the first admin key is in {(data_dir / ADMIN_KEY_FILE).resolve()}")
    if settings.demo:
        created = service.load_demo(Principal.system("demo"), project="default")
        click.echo(f"vexil: demo data loaded in project 'default' ({len(created)} new flags)")


def _uvicorn_config(app: Any, settings: ServerSettings) -> uvicorn.Config:
    """The same settings for one process and for each worker (building it also configures logging)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_level=settings.log_level,
        access_log=settings.log_level in {"debug", "trace"},
        server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_seconds) - _SHUTDOWN_MARGIN_SECONDS),
    )


def _serve(
    service: Service,
    settings: ServerSettings,
    sockets: list[socket.socket] | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    app = create_app(service, settings)
    config = _uvicorn_config(app, settings)
    signal.signal(signal.SIGTERM, _after_shutdown)
    signal.signal(signal.SIGINT, _after_shutdown)
    GracefulServer(config, find_hub(app), on_started).run(sockets=sockets)


def run(settings: ServerSettings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = _open(settings)
    try:
        service = Service(store)
        _bootstrap(service, settings)
        if settings.workers == 1:
            _serve(service, settings)
            return
    finally:
        store.close()
    # Several workers: the parent forks with nothing open but the listening socket.
    _serve_workers(settings)


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The parent of several workers serves nothing; its uvicorn config only sets up logging."""


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket that forked workers share (connections queue until one accepts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(backlog)
    return sock


def _serve_workers(settings: ServerSettings) -> None:
    _uvicorn_config(_no_app, settings)
    # Stream links signed by one worker must verify on the others (the same key for all, unless configured).
    if not os.environ.get("VEXIL_OFREP_STREAM_SECRET", "").strip():
        os.environ["VEXIL_OFREP_STREAM_SECRET"] = secrets.token_urlsafe(32)
    sock = bind_socket(settings.host, settings.port)
    address = f"[{settings.host}]" if ":" in settings.host else settings.host
    port = sock.getsockname()[1]

    def work(ready: Callable[[], None]) -> int:
        store = _open(settings)
        try:
            _serve(Service(store), settings, [sock], ready)
        finally:
            store.close()
        return 0

    def announce(pids: list[int]) -> None:
        log = logging.getLogger("uvicorn.error")
        log.info("Started %d worker processes %s", len(pids), pids)
        log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", address, port)

    supervisor = Supervisor(
        settings.workers,
        work,
        shutdown_seconds=settings.shutdown_seconds,
        on_ready=announce,
        on_stop=sock.close,
    )
    status = supervisor.run()
    if status:
        raise SystemExit(status)


@click.command("serve")
@click.option("--host", default=None, help="Interface to listen on [default: 127.0.0.1; VEXIL_HOST].")
@click.option(
    "--port", default=None, type=click.IntRange(0, 65535), help="TCP port [default: 7070; VEXIL_PORT]."
)
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the SQLite database and admin.key live [default: ./.vexil; VEXIL_DATA_DIR].",
)
@click.option(
    "--demo", is_flag=True, default=None, help="Add demo flags to the default project [VEXIL_DEMO]."
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes sharing the port [default: 1; VEXIL_WORKERS].",
)
@click.option(
    "--log-level",
    default=None,
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    help="Log verbosity [default: info; VEXIL_LOG_LEVEL].",
)
def serve_command(**options: Any) -> None:
    """Run the vexil server (SQLite by default; PostgreSQL when VEXIL_DATABASE_URL=postgresql://...)."""
    try:
        settings = ServerSettings.from_env_and_args(**options)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    run(settings)


@click.command("migrate")
@click.option(
    "--data-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="The SQLite data directory [default: ./.vexil; VEXIL_DATA_DIR].",
)
def migrate_command(data_dir: Path | None) -> None:
    """Apply pending database migrations (VEXIL_DATABASE_URL, else SQLite in the data directory)."""
    try:
        settings = ServerSettings.from_env_and_args(data_dir=data_dir)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = open_store(settings.database_url, settings.data_dir)
    try:
        applied = store.migrate()  # opening the store already migrates; this reports and double-checks
        where = database_label(settings.database_url, settings.data_dir)
        click.echo(
            f"vexil: {where}: schema at version {store.schema_version()}{' (applied now)' if applied else ''}"
        )
    finally:
        store.close()
