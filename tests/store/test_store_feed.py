"""Snapshots, snapshot and item versions, the change log and change notifications (in-process and, for
PostgreSQL, across connections and processes via LISTEN/NOTIFY)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from store_support import Backend

from vexil.service import AuditQuery, Change, Forbidden, ItemKind, Principal, Service
from vexil.store import PostgresStore

SRC = Path(__file__).resolve().parents[2] / "src"


def test_snapshot_versions_and_item_versions(service: Service, admin: Principal, shop: str) -> None:
    prod = service.get_snapshot(admin, shop, "production")
    dev = service.get_snapshot(admin, shop, "development")
    service.patch_targeting(admin, shop, "checkout", "production", {"on": True})
    prod2 = service.get_snapshot(admin, shop, "production")
    assert prod2.version == prod.version + 1
    assert prod2.document["flags"]["checkout"]["version"] == prod2.version
    assert service.get_snapshot(admin, shop, "development").version == dev.version  # other env untouched
    service.patch_flag(admin, shop, "checkout", {"description": "new flow"})  # definition: every env
    prod3 = service.get_snapshot(admin, shop, "production")
    dev3 = service.get_snapshot(admin, shop, "development")
    assert (prod3.version, dev3.version) == (prod2.version + 1, dev.version + 1)
    assert prod3.document["flags"]["checkout"]["description"] == "new flow"
    assert prod3.document["flags"]["checkout"]["on"] is True
    # Delete then re-create: the new item outranks the tombstone.
    service.delete_flag(admin, shop, "theme")
    tombstone = service.get_snapshot(admin, shop, "production").version
    service.create_flag(admin, shop, {"key": "theme", "variations": ["a", "b"]})
    assert service.get_snapshot(admin, shop, "production").document["flags"]["theme"]["version"] > tombstone


def test_listeners_hear_every_committed_change_in_order(
    service: Service, admin: Principal, shop: str
) -> None:
    heard: list[Change] = []
    unsubscribe = service.subscribe(heard.append)
    prod = service.get_environment(admin, shop, "production")
    dev = service.get_environment(admin, shop, "development")
    service.patch_targeting(admin, shop, "checkout", "production", {"on": True})
    assert len(heard) == 1
    change = heard[0]
    assert (change.environment_id, change.kind, change.key, change.deleted) == (
        prod.id,
        ItemKind.FLAG,
        "checkout",
        False,
    )
    assert change.item is not None and change.item["on"] is True
    assert change.snapshot_version == change.item["version"] == prod.snapshot_version + 1
    service.create_segment(admin, shop, "development", {"key": "beta", "included": ["u1"]})
    service.delete_segment(admin, shop, "development", "beta")
    assert [(c.kind, c.key, c.deleted) for c in heard[1:]] == [
        (ItemKind.SEGMENT, "beta", False),
        (ItemKind.SEGMENT, "beta", True),
    ]
    service.patch_flag(admin, shop, "theme", {"client_side": False})
    assert sorted(c.environment_id for c in heard[3:]) == sorted([prod.id, dev.id])
    # A failed change announces nothing.
    with pytest.raises(Exception, match="validation"):
        service.patch_targeting(admin, shop, "checkout", "production", {"off_variation": 5})
    assert len(heard) == 5
    unsubscribe()
    service.patch_targeting(admin, shop, "checkout", "production", {"on": False})
    assert len(heard) == 5


def test_a_failing_listener_does_not_starve_the_others(service: Service, admin: Principal, shop: str) -> None:
    heard: list[Change] = []

    def broken(change: Change) -> None:
        raise RuntimeError("listener bug")

    service.subscribe(broken)
    service.subscribe(heard.append)
    service.patch_targeting(admin, shop, "checkout", "production", {"on": True})
    assert [c.key for c in heard] == ["checkout"]


def test_changes_since_and_a_pruned_log(backend: Backend, admin: Principal) -> None:
    store = backend.open(change_retention=3)
    try:
        service = Service(store)
        service.create_project(admin, {"key": "p"})
        service.create_flag(admin, "p", {"key": "f", "variations": [False, True]})
        env = service.get_environment(admin, "p", "production")
        for on in (True, False, True, False, True):
            service.patch_targeting(admin, "p", "f", "production", {"on": on})
        current = service.get_environment(admin, "p", "production").snapshot_version
        assert current == env.snapshot_version + 5
        recent = service.changes_since(env.id, current - 2)
        assert recent is not None
        assert [c.snapshot_version for c in recent] == [current - 1, current]
        assert recent[-1].item is not None and recent[-1].item["on"] is True
        assert service.changes_since(env.id, current) == []
        assert service.changes_since(env.id, 0) is None  # older than the retained tail: send a full snapshot
        assert service.changes_since(env.id + 1000, 0) is None
    finally:
        store.close()


def test_sdk_keys_read_their_environment_only(service: Service, admin: Principal, shop: str) -> None:
    keys = [
        service.create_key(admin, {"name": kind, "kind": kind, "project": shop, "environment": "production"})
        for kind in ("server", "client")
    ]
    server, client = (service.authorize(k.secret.reveal()) for k in keys)
    full = service.snapshot_for(server)
    assert sorted(full.document["flags"]) == ["checkout", "theme"]
    assert (full.project, full.environment) == ("shop", "production")
    assert sorted(service.snapshot_for(client).document["flags"]) == ["theme"]
    assert service.snapshot_by_id(full.environment_id) == full
    with pytest.raises(Forbidden):
        service.snapshot_for(admin)
    with pytest.raises(Forbidden):
        service.get_snapshot(server, shop, "production")


def _wait_for(heard: list[Change], event: threading.Event, count: int) -> list[Change]:
    assert event.wait(timeout=10), f"only {len(heard)} of {count} changes arrived"
    return heard


def test_postgres_changes_reach_another_connection(pg_url: str, admin: Principal) -> None:
    """Two stores (two pools) on one database: a write through one is heard by the other's listener."""
    writer_store, reader_store = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        writer, reader = Service(writer_store), Service(reader_store)
        writer.create_project(admin, {"key": "cross"})
        writer.create_flag(admin, "cross", {"key": "f", "variations": [False, True]})
        heard: list[Change] = []
        arrived = threading.Event()

        def listen(change: Change) -> None:
            heard.append(change)
            arrived.set()

        reader.subscribe(listen)
        writer.patch_targeting(admin, "cross", "f", "production", {"on": True})
        change = _wait_for(heard, arrived, 1)[0]
        assert (change.key, change.kind) == ("f", ItemKind.FLAG)
        assert change.item is not None and change.item["on"] is True
    finally:
        writer_store.close()
        reader_store.close()


def test_postgres_changes_reach_another_process(pg_url: str, admin: Principal) -> None:
    store = PostgresStore(pg_url)
    try:
        service = Service(store)
        service.create_project(admin, {"key": "procs"})
        service.create_flag(admin, "procs", {"key": "f", "variations": [False, True]})
        heard: list[Change] = []
        arrived = threading.Event()

        def listen(change: Change) -> None:
            heard.append(change)
            if len(heard) >= 2:
                arrived.set()

        service.subscribe(listen)
        child = textwrap.dedent(
            f"""
            import sys
            from vexil.service import Principal, Service
            from vexil.store import PostgresStore
            store = PostgresStore({pg_url!r})
            service = Service(store)
            actor = Principal.system("child")
            service.patch_targeting(actor, "procs", "f", "production", {{"on": True}})
            service.create_segment(actor, "procs", "development", {{"key": "beta"}})
            store.close()
            """
        )
        subprocess.run([sys.executable, "-c", child], check=True, timeout=60, cwd=SRC.parent)
        changes = _wait_for(heard, arrived, 2)
        assert [(c.kind, c.key) for c in changes] == [(ItemKind.FLAG, "f"), (ItemKind.SEGMENT, "beta")]
        assert service.query_audit(admin, AuditQuery(limit=1)).entries[0].actor == "child"
    finally:
        store.close()
