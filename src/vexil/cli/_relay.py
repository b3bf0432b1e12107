"""`vexil relay`: a read-only local mirror of upstream environments, served with the server's SDK protocol,
OFREP and event ingestion, that keeps serving from memory or its disk cache while the upstream is down.

Process wiring only (options, logging, uvicorn, signals); the behaviour lives in `vexil.server`. Keys come
from options or `VEXIL_RELAY_*` variables (better: not visible in `ps`) and are never printed.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import FrameType

import click
import uvicorn

from vexil.server import RelaySettings, ServerSettings, SettingsError, create_relay_app, parse_client_keys

from ._serve import GracefulServer

_SHUTDOWN_MARGIN_SECONDS = 2


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it; the shutdown was clean by then: exit status 0."""


def _log_to_stderr(level: str) -> None:
    """The relay's own messages (sync state, cache, events) next to uvicorn's, at the chosen level."""
    log = logging.getLogger("vexil")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if level == "trace" else level.upper())
    log.propagate = False


@click.command("relay")
@click.option("--upstream", required=True, envvar="VEXIL_RELAY_UPSTREAM", help="The vexil server to mirror.")
@click.option(
    "--sdk-key",
    "sdk_keys",
    multiple=True,
    envvar="VEXIL_RELAY_SDK_KEYS",
    help="A server SDK key per environment to mirror; repeatable [VEXIL_RELAY_SDK_KEYS, space-separated].",
)
@click.option(
    "--client-key",
    "client_keys",
    multiple=True,
    envvar="VEXIL_RELAY_CLIENT_KEYS",
    metavar="CLIENT_KEY=SERVER_KEY",
    help="Also accept a client-side key, for the given --sdk-key's environment [VEXIL_RELAY_CLIENT_KEYS].",
)
@click.option("--host", default="127.0.0.1", envvar="VEXIL_RELAY_HOST", show_default=True, help="Interface.")
@click.option(
    "--port", default=7071, type=click.IntRange(0, 65535), envvar="VEXIL_RELAY_PORT", show_default=True
)
@click.option(
    "--cache-dir",
    default=Path(".vexil-relay"),
    type=click.Path(file_okay=False, path_type=Path),
    envvar="VEXIL_RELAY_CACHE_DIR",
    show_default=True,
    help="Where the last copy of each environment is kept (served when the upstream is unreachable).",
)
@click.option(
    "--backoff-max",
    default=30.0,
    type=click.FloatRange(min=1.0),
    envvar="VEXIL_RELAY_BACKOFF_MAX",
    show_default=True,
    help="Longest wait between reconnection attempts, in seconds.",
)
@click.option(
    "--poll-interval",
    default=30.0,
    type=click.FloatRange(min=0.1),
    envvar="VEXIL_RELAY_POLL_INTERVAL",
    show_default=True,
    help="Snapshot polling interval while streaming from the upstream keeps failing.",
)
@click.option(
    "--events-interval",
    default=10.0,
    type=click.FloatRange(min=0.1),
    envvar="VEXIL_RELAY_EVENTS_INTERVAL",
    show_default=True,
    help="How often buffered SDK events are forwarded upstream, in seconds.",
)
@click.option(
    "--events-capacity",
    default=100_000,
    type=click.IntRange(min=1),
    envvar="VEXIL_RELAY_EVENTS_CAPACITY",
    show_default=True,
    help="Events buffered at most while the upstream is unreachable (more are dropped and counted).",
)
@click.option(
    "--log-level",
    default=None,
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    help="Log verbosity [default: info; VEXIL_LOG_LEVEL].",
)
def relay_command(
    upstream: str,
    sdk_keys: tuple[str, ...],
    client_keys: tuple[str, ...],
    host: str,
    port: int,
    cache_dir: Path,
    backoff_max: float,
    poll_interval: float,
    events_interval: float,
    events_capacity: int,
    log_level: str | None,
) -> None:
    """Mirror environments of a vexil server and serve them locally (SDK protocol, OFREP, events).

    Clients use the same SDK keys as with the server. Only the server keys given here and the client-side
    keys mapped with --client-key are accepted. /readyz answers 200 "degraded" while the upstream is
    unreachable (the relay keeps serving its last copy), 503 only when it has no copy at all.

    \b
    Examples:
      vexil relay --upstream https://flags.example.com --sdk-key "$PROD_KEY" --port 7071
      VEXIL_RELAY_SDK_KEYS="$PROD_KEY $STAGING_KEY" vexil relay --upstream https://flags.example.com
      vexil relay --upstream https://flags.example.com --sdk-key "$PROD_KEY" \\
        --client-key "$WEB_KEY=$PROD_KEY" --cache-dir /var/lib/vexil-relay
    """
    try:
        relay = RelaySettings(
            upstream=upstream,
            sdk_keys=tuple(sdk_keys),
            client_keys=parse_client_keys(client_keys),
            cache_dir=cache_dir,
            backoff_max=backoff_max,
            poll_interval=poll_interval,
            events_interval=events_interval,
            events_capacity=events_capacity,
        )
        settings = ServerSettings.from_env_and_args(host=host, port=port, log_level=log_level)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    _log_to_stderr(settings.log_level)
    click.echo(
        f"vexil relay: mirroring {len(relay.sdk_keys)} environment(s) of {relay.upstream}; "
        f"disk cache in {relay.cache_dir.resolve()}"
    )
    app = create_relay_app(relay, settings)
    config = uvicorn.Config(
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
    signal.signal(signal.SIGTERM, _after_shutdown)
    signal.signal(signal.SIGINT, _after_shutdown)
    GracefulServer(config, app.state.hub).run()
