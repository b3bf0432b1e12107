"""`RelaySettings`: what `vexil relay` mirrors and how (upstream, keys, cache, reconnects, event forwarding).

Plain values and their validation only; it opens no files or sockets and never prints a key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from vexil.service import KEY_PREFIXES, KeyKind

from ._settings import SettingsError

_SERVER_PREFIX = KEY_PREFIXES[KeyKind.SERVER]
_CLIENT_PREFIX = KEY_PREFIXES[KeyKind.CLIENT]


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """One mirrored environment per server SDK key; client-side keys map onto one of those environments.

    Secrets stay out of `repr` (the settings may end up in a log line or a traceback).
    """

    upstream: str
    #: Server SDK keys (`vxs_...`), one per environment, in the order given.
    sdk_keys: tuple[str, ...] = field(repr=False)
    #: (client-side key, the server key of its environment): the relay cannot ask the upstream which
    #: environment a client key belongs to, so the operator says.
    client_keys: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    cache_dir: Path = Path(".vexil-relay")
    #: Reconnection backoff: 0.5-1 s doubling up to `backoff_max` (randomised), as the protocol advises.
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    #: Snapshot polling interval once streaming keeps failing (the stream is retried after a good poll).
    poll_interval: float = 30.0
    #: No bytes for this long on the upstream stream (heartbeats come every 15 s) means a dead connection.
    stream_read_timeout: float = 45.0
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    #: Events posted to the relay are sent upstream every `events_interval` seconds in batches of at most
    #: `events_batch` events; at most `events_capacity` wait (more are dropped and counted).
    events_interval: float = 10.0
    events_batch: int = 2_000
    events_capacity: int = 100_000

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise SettingsError(f"--upstream must be an http(s) URL, not {self.upstream!r}")
        object.__setattr__(self, "upstream", self.upstream.rstrip("/"))
        if not self.sdk_keys:
            raise SettingsError(
                "give at least one --sdk-key (a server SDK key of each environment to mirror)"
            )
        for key in self.sdk_keys:
            if not key.startswith(_SERVER_PREFIX):
                raise SettingsError(
                    f"--sdk-key needs server SDK keys ({_SERVER_PREFIX}...): the relay mirrors whole "
                    "environments; map client-side keys with --client-key CLIENT_KEY=SERVER_KEY"
                )
        if len(set(self.sdk_keys)) != len(self.sdk_keys):
            raise SettingsError("the same --sdk-key was given twice")
        clients = [client for client, _ in self.client_keys]
        if len(set(clients)) != len(clients):
            raise SettingsError("the same --client-key was given twice")
        for client, server in self.client_keys:
            if not client.startswith(_CLIENT_PREFIX):
                raise SettingsError(
                    f"--client-key: {client[:4]}... is not a client-side key ({_CLIENT_PREFIX}...)"
                )
            if server not in self.sdk_keys:
                raise SettingsError(
                    f"--client-key {client[:8]}...: the server key after '=' must also be given as --sdk-key"
                )
        for name in (
            "backoff_initial",
            "backoff_max",
            "poll_interval",
            "stream_read_timeout",
            "events_interval",
        ):
            if not getattr(self, name) > 0:
                raise SettingsError(f"{name.replace('_', '-')} must be a positive number of seconds")
        if self.backoff_max < self.backoff_initial:
            raise SettingsError("backoff-max must not be below backoff-initial")
        if self.events_batch < 1 or self.events_capacity < 1:
            raise SettingsError("events-batch and events-capacity must be positive")


def parse_client_keys(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`CLIENT_KEY=SERVER_KEY` items (as given to `--client-key`) as pairs; `SettingsError` for bad ones."""
    pairs: list[tuple[str, str]] = []
    for value in values:
        client, sep, server = value.strip().partition("=")
        if not sep or not client.strip() or not server.strip():
            raise SettingsError("--client-key takes CLIENT_KEY=SERVER_KEY (the client key's environment)")
        pairs.append((client.strip(), server.strip()))
    return tuple(pairs)
