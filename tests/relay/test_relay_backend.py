"""The data-plane interface: the server's `Service` and the relay's `RelayBackend` both satisfy it, and the
relay's implementation answers like the server's (principals, keys, events, revocations)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from vexil.protocol import CustomEvent as WireCustomEvent
from vexil.protocol import Put, SummaryEvent
from vexil.server import RelaySettings
from vexil.server._backend import DataPlaneBackend, EventSink, KeyDirectory, SnapshotFeed
from vexil.server._relay_backend import RelayBackend
from vexil.server._relay_events import EventBuffer
from vexil.server._relay_keys import RelayKeys
from vexil.server._relay_mirror import Mirror
from vexil.service import (
    CustomEvent,
    EvaluationSummary,
    Forbidden,
    KeyKind,
    NotFound,
    Principal,
    Service,
    Unauthorized,
)

SERVER, CLIENT = "vxs_" + "s" * 43, "vxc_" + "c" * 43


def as_backends(service: Service, relay: RelayBackend) -> list[DataPlaneBackend]:
    """Checked by mypy (which runs on the tests): both are structurally `DataPlaneBackend`s."""
    return [service, relay]


def _members() -> list[str]:
    protocols = (SnapshotFeed, KeyDirectory, EventSink, DataPlaneBackend)
    return sorted(
        {
            name
            for p in protocols
            for name, value in vars(p).items()
            if inspect.isfunction(value) and not name.startswith("_")
        }
    )


def _shape(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("implementation", [Service, RelayBackend])
@pytest.mark.parametrize("member", _members())
def test_implementations_match_the_protocol_signatures(implementation: type, member: str) -> None:
    protocol = next(p for p in (SnapshotFeed, KeyDirectory, EventSink, DataPlaneBackend) if member in vars(p))
    assert _shape(getattr(implementation, member)) == _shape(getattr(protocol, member))


def test_the_protocol_covers_what_the_data_plane_calls() -> None:
    assert _members() == [
        "authorize",
        "get_key",
        "inactive_keys",
        "ping",
        "record_events",
        "snapshot_by_id",
        "subscribe",
    ]


def backend() -> RelayBackend:
    relay = RelaySettings(upstream="http://up.test", sdk_keys=(SERVER,), client_keys=((CLIENT, SERVER),))
    keys = RelayKeys(relay)
    return RelayBackend(Mirror(keys.environment_ids), keys, EventBuffer(100))


def test_principals_and_keys() -> None:
    relay = backend()
    relay.mirror.set_names(1, "shop", "production")
    server, client = relay.authorize(SERVER), relay.authorize(CLIENT)
    assert (server.kind, server.key_id, server.environment_id, server.project, server.environment) == (
        KeyKind.SERVER,
        1,
        1,
        "shop",
        "production",
    )
    assert (client.kind, client.key_id, client.environment_id) == (KeyKind.CLIENT, 2, 1)
    for secret in ("vxs_unknown", "", SERVER + "x"):
        with pytest.raises(Unauthorized):
            relay.authorize(secret)
    key = relay.get_key(Principal.system(), 2)
    assert (key.kind, key.environment_id, key.prefix, key.revoked) == (KeyKind.CLIENT, 1, "vxc_cccc", False)
    with pytest.raises(NotFound):
        relay.get_key(Principal.system(), 3)
    assert relay.inactive_keys([1, 2, 3]) == {3}
    relay.keys.reject(2)  # the upstream refused the client key
    with pytest.raises(Unauthorized):
        relay.authorize(CLIENT)
    assert relay.inactive_keys([1, 2]) == {2}
    assert relay.get_key(Principal.system(), 2).revoked


def test_ping_and_snapshots() -> None:
    relay = backend()
    assert relay.ping() is False
    relay.mirror.apply(1, Put(2, {"flags": {}, "segments": {}}))
    assert relay.ping() is True
    assert relay.snapshot_by_id(1).version == 2
    seen: list[object] = []
    unsubscribe = relay.subscribe(seen.append)
    unsubscribe()
    relay.mirror.apply(1, Put(3, {"flags": {"a": {"key": "a", "version": 3}}, "segments": {}}))
    assert seen == []


def test_events_are_queued_for_the_upstream_as_wire_events() -> None:
    relay = backend()
    now = datetime.now(UTC)
    principal = relay.authorize(CLIENT)
    relay.record_events(
        principal, [EvaluationSummary("a", 1, 3, 5, now, now)], [CustomEvent("paid", now, 9.5)]
    )
    assert relay.events.take(1, 10) == [
        SummaryEvent("a", 1, 3, 5, now, now),
        WireCustomEvent("paid", now, 9.5),
    ]
    with pytest.raises(Forbidden):
        relay.record_events(Principal.system(), [])
