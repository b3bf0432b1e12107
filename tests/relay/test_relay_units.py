"""The relay's parts in-process: settings, key matching, the mirror's version rules and diffs, the disk cache,
the event buffer, and the readiness rules."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from vexil.protocol import Delete, ItemKind, Patch, Put, SummaryEvent, WireEvent
from vexil.sdk import Client
from vexil.server import RelaySettings, SettingsError, parse_client_keys
from vexil.server._relay_backend import RelayBackend
from vexil.server._relay_cache import CacheWriter, cache_path, read_environment, write_environment
from vexil.server._relay_events import EventBuffer
from vexil.server._relay_keys import RelayKeys
from vexil.server._relay_mirror import Mirror, client_projection, diff
from vexil.server._relay_status import readiness
from vexil.service import Change, EnvironmentSnapshot, KeyKind, NotFound, Unavailable
from vexil.service import ItemKind as ChangeKind

SERVER_A, SERVER_B = "vxs_" + "a" * 43, "vxs_" + "b" * 43
CLIENT_A = "vxc_" + "c" * 43


def settings(**overrides: Any) -> RelaySettings:
    values: dict[str, Any] = {
        "upstream": "http://upstream.test/",
        "sdk_keys": (SERVER_A, SERVER_B),
        "client_keys": ((CLIENT_A, SERVER_A),),
    }
    return RelaySettings(**{**values, **overrides})


def flag(key: str, version: int, *, on: bool = True, client_side: bool = False) -> dict[str, Any]:
    return {
        "key": key,
        "on": on,
        "variations": [False, True],
        "off_variation": 0,
        "fallthrough": {"variation": 1},
        "version": version,
        "client_side": client_side,
    }


def document(*flags: dict[str, Any]) -> dict[str, Any]:
    return {"flags": {f["key"]: f for f in flags}, "segments": {}}


# -- settings


def test_settings_normalise_and_hide_keys() -> None:
    relay = settings()
    assert relay.upstream == "http://upstream.test"
    assert SERVER_A not in repr(relay) and CLIENT_A not in repr(relay)
    assert parse_client_keys([f" {CLIENT_A} = {SERVER_A} "]) == ((CLIENT_A, SERVER_A),)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"upstream": "upstream.test"}, r"http\(s\) URL"),
        ({"sdk_keys": ()}, "at least one --sdk-key"),
        ({"sdk_keys": (CLIENT_A,), "client_keys": ()}, "server SDK keys"),
        ({"sdk_keys": (SERVER_A, SERVER_A)}, "twice"),
        ({"client_keys": ((SERVER_B, SERVER_A),)}, "not a client-side key"),
        ({"client_keys": ((CLIENT_A, "vxs_other"),)}, "must also be given as --sdk-key"),
        ({"backoff_max": 0.5}, "backoff-max"),
        ({"events_capacity": 0}, "events-capacity"),
    ],
)
def test_settings_refuse_what_cannot_work(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        settings(**overrides)


@pytest.mark.parametrize("value", ["vxc_only", "=vxs_x", "vxc_x="])
def test_client_key_mapping_syntax(value: str) -> None:
    with pytest.raises(SettingsError, match="CLIENT_KEY=SERVER_KEY"):
        parse_client_keys([value])


# -- keys


def test_keys_match_only_configured_secrets_and_map_client_keys() -> None:
    keys = RelayKeys(settings())
    a, b, c = keys.match(SERVER_A), keys.match(SERVER_B), keys.match(CLIENT_A)
    assert a is not None and (a.key_id, a.kind, a.environment_id, a.prefix) == (
        1,
        KeyKind.SERVER,
        1,
        "vxs_aaaa",
    )
    assert b is not None and (b.key_id, b.environment_id) == (2, 2)
    assert c is not None and (c.key_id, c.kind, c.environment_id) == (3, KeyKind.CLIENT, 1)
    assert keys.match(SERVER_A[:-1]) is None and keys.match("") is None
    assert keys.environment_ids == [1, 2]
    assert keys.upstream_secrets == {1: SERVER_A, 2: SERVER_B}
    assert keys.client_keys_of(1) == [(3, CLIENT_A)] and keys.client_keys_of(2) == []
    keys.reject(3)
    assert keys.rejected(3) and keys.rejected_ids == {3}
    keys.accept(3)
    assert not keys.rejected(3)


# -- mirror


def test_mirror_applies_the_protocol_version_rules() -> None:
    mirror = Mirror([1])
    seen: list[Change] = []
    mirror.subscribe(seen.append)
    with pytest.raises(Unavailable):
        mirror.snapshot_by_id(1)
    with pytest.raises(NotFound):
        mirror.snapshot_by_id(2)
    assert not mirror.apply(1, Patch(3, ItemKind.FLAG, "a", flag("a", 3)))  # nothing before the first put

    assert mirror.apply(1, Put(5, document(flag("b", 4), flag("d", 5))))
    assert seen == []  # a first put has nothing to tell listeners that already held nothing
    assert not mirror.apply(1, Patch(4, ItemKind.FLAG, "b", flag("b", 4, on=False)))  # not newer
    assert mirror.apply(1, Patch(6, ItemKind.FLAG, "a", flag("a", 6)))
    current = mirror.snapshot_by_id(1)
    assert current.version == 6
    assert list(current.document["flags"]) == ["a", "b", "d"]  # by key, as the upstream lists them
    assert mirror.apply(1, Delete(7, ItemKind.FLAG, "a"))
    assert not mirror.apply(1, Patch(6, ItemKind.FLAG, "a", flag("a", 6)))  # the tombstone holds
    assert mirror.apply(1, Patch(8, ItemKind.FLAG, "a", flag("a", 8)))  # re-created later: applies
    assert [(c.snapshot_version, c.key, c.deleted) for c in seen] == [
        (6, "a", False),
        (7, "a", True),
        (8, "a", False),
    ]
    assert all(c.kind is ChangeKind.FLAG and c.environment_id == 1 for c in seen)

    earlier = mirror.snapshot_by_id(1)
    assert mirror.apply(1, Patch(9, ItemKind.SEGMENT, "s", {"key": "s", "version": 9}))
    assert earlier.document["segments"] == {}  # published documents are never changed in place
    assert mirror.snapshot_by_id(1).document["segments"] == {"s": {"key": "s", "version": 9}}


def test_a_put_after_a_reconnect_becomes_the_changes_missed() -> None:
    mirror = Mirror([1])
    mirror.apply(1, Put(5, document(flag("a", 2), flag("b", 5))))
    seen: list[Change] = []
    mirror.subscribe(seen.append)
    assert mirror.apply(1, Put(9, document(flag("a", 2), flag("b", 8, on=False), flag("c", 9))))
    assert [(c.snapshot_version, c.key, c.deleted) for c in seen] == [(8, "b", False), (9, "c", False)]
    seen.clear()
    assert mirror.apply(1, Put(10, document(flag("b", 8, on=False))))
    assert [(c.snapshot_version, c.key, c.deleted) for c in seen] == [(10, "a", True), (10, "c", True)]
    seen.clear()
    assert not mirror.apply(1, Put(10, document(flag("b", 8, on=False))))  # the same state: nothing to do
    assert seen == []


def test_diff_is_ordered_by_version() -> None:
    old = document(flag("a", 1), flag("b", 2))
    new = document(flag("a", 7), flag("c", 3))
    changes = diff(old, new, 4, 9)
    assert [(c.snapshot_version, c.key, c.item is None) for c in changes] == [
        (3, "c", False),
        (7, "a", False),
        (9, "b", True),
    ]
    assert {c.environment_id for c in changes} == {4}


def test_client_projection_and_names() -> None:
    mirror = Mirror([1])
    mirror.apply(1, Put(3, document(flag("a", 1, client_side=True), flag("b", 2))))
    assert (
        client_projection(mirror.snapshot_by_id(1).document)
        == mirror.snapshot_by_id(1, client_side_only=True).document
    )
    assert list(mirror.snapshot_by_id(1, client_side_only=True).document["flags"]) == ["a"]
    assert mirror.names(1) == ("", "")
    mirror.set_names(1, "shop", "production")
    assert (mirror.snapshot_by_id(1).project, mirror.snapshot_by_id(1).environment) == ("shop", "production")


def test_loading_from_the_cache_marks_the_source() -> None:
    mirror = Mirror([1])
    mirror.load(1, 4, document(flag("a", 4)), synced_at=1000.0)
    status = mirror.status(1)
    assert (status.source, status.last_sync, status.connected) == ("cache", 1000.0, False)
    mirror.apply(1, Put(4, document(flag("a", 4))))
    assert status.source == "upstream"


# -- disk cache


def test_cache_files_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = cache_path(tmp_path, SERVER_A)
    assert SERVER_A not in path.name and path.name.startswith("env-")
    assert "no cache file" in str(read_environment(path))
    snapshot = EnvironmentSnapshot(1, "shop", "production", 7, document(flag("a", 7)))
    write_environment(path, snapshot, 1234.5)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    cached = read_environment(path)
    assert not isinstance(cached, str)
    assert (cached.version, cached.document, cached.project, cached.environment, cached.synced_at) == (
        7,
        snapshot.document,
        "shop",
        "production",
        1234.5,
    )
    assert path.stat().st_mode & 0o777 == 0o600
    # The file is a snapshot body too: the SDK reads it as a flag file.
    with Client.from_file(path) as client:
        assert client.bool("a", {"key": "u"}, False) is True
    path.write_text('{"version": "x"}')
    assert "not a snapshot" in str(read_environment(path))


def test_cache_writer_keeps_the_latest_state(tmp_path: Path) -> None:
    path = tmp_path / "env.json"

    async def scenario() -> None:
        writer = CacheWriter(path)
        for version in range(1, 20):
            writer.schedule(
                EnvironmentSnapshot(1, "p", "e", version, document(flag("a", version))), float(version)
            )
        await writer.aclose()

    asyncio.run(scenario())
    assert json.loads(path.read_text())["version"] == 19


def test_cache_writer_survives_an_unwritable_directory(tmp_path: Path) -> None:
    async def scenario() -> int:
        writer = CacheWriter(tmp_path / "missing" / "env.json")
        writer.schedule(EnvironmentSnapshot(1, "p", "e", 1, document()), 1.0)
        await writer.aclose()
        return writer.failures

    assert asyncio.run(scenario()) == 1


# -- events


def _events(n: int) -> list[WireEvent]:
    now = datetime.now(UTC)
    return [SummaryEvent(f"f{i}", 0, 1, 1, now, now) for i in range(n)]


def _flag(event: WireEvent) -> str:
    assert isinstance(event, SummaryEvent)
    return event.flag


def test_event_buffer_is_bounded_and_counts_drops() -> None:
    buffer = EventBuffer(capacity=5)
    assert buffer.add(1, _events(3)) == 0
    assert buffer.add(2, _events(4)) == 2  # 2 of 4 fit
    assert (buffer.size, buffer.counts.dropped) == (5, 2)
    batch = buffer.take(1, 2)
    assert [_flag(e) for e in batch] == ["f0", "f1"]
    buffer.add(2, _events(1))
    buffer.give_back(1, batch)  # one slot left: the oldest goes back, the other is dropped
    assert (buffer.size, buffer.counts.dropped) == (5, 3)
    assert [_flag(e) for e in buffer.take(1, 10)] == ["f0", "f2"]
    assert buffer.environments() == [2]


# -- readiness


def _backend() -> RelayBackend:
    keys = RelayKeys(settings())
    return RelayBackend(Mirror(keys.environment_ids), keys, EventBuffer(10))


def test_readiness_is_degraded_not_failing_while_a_copy_is_served() -> None:
    backend = _backend()
    mirror = backend.mirror
    status, body = readiness(backend, closing=False, clock=lambda: 100.0)
    assert (status, body["status"]) == (503, "unavailable")
    mirror.apply(1, Put(1, document()))
    mirror.load(2, 3, document(), synced_at=40.0)
    status, body = readiness(backend, closing=False, clock=lambda: 100.0)
    assert (status, body["status"]) == (200, "degraded")
    assert [e["last_sync_age_seconds"] for e in body["environments"]] == [None, 60.0]
    assert [e["key_prefix"] for e in body["environments"]] == ["vxs_aaaa", "vxs_bbbb"]
    for environment_id in (1, 2):
        mirror.status(environment_id).connected = True
        mirror.status(environment_id).last_sync = 99.5
    status, body = readiness(backend, closing=False, clock=lambda: 100.0)
    assert (status, body["status"]) == (200, "ready")
    assert SERVER_A not in json.dumps(body)
    assert readiness(backend, closing=True)[0] == 503
