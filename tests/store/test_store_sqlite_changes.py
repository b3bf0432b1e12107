"""SQLite change notices across processes: the `data_version` poller hears commits of other processes (and of
other stores on the same file), fills gaps when several land between two polls, and never announces a
commit of its own process twice."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from vexil.service import Change, ItemKind, Principal, Service
from vexil.store import SqliteStore

SRC = Path(__file__).resolve().parents[2] / "src"


def _wait(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_another_process_commits_reach_this_process_listeners(tmp_path: Path, admin: Principal) -> None:
    path = tmp_path / "vexil.db"
    store = SqliteStore(path)
    try:
        service = Service(store)
        service.create_project(admin, {"key": "procs"})
        service.create_flag(admin, "procs", {"key": "f", "variations": [False, True]})
        heard: list[Change] = []
        service.subscribe(heard.append)
        child = textwrap.dedent(
            f"""
            from vexil.service import Principal, Service
            from vexil.store import SqliteStore
            store = SqliteStore({str(path)!r})
            service = Service(store)
            actor = Principal.system("child")
            service.patch_targeting(actor, "procs", "f", "production", {{"on": True}})
            service.create_segment(actor, "procs", "development", {{"key": "beta"}})
            service.patch_targeting(actor, "procs", "f", "production", {{"on": False}})
            store.close()
            """
        )
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", child], check=True, timeout=60, cwd=SRC.parent)
        _wait(lambda: len(heard) >= 3)
        print(f"\nchild process commits heard {time.monotonic() - started:.2f} s after starting it")
        time.sleep(0.1)  # nothing more (no duplicates) arrives
        # In order per environment; the two environments' changes may interleave either way.
        assert sorted((c.kind, c.key) for c in heard) == [
            (ItemKind.FLAG, "f"),
            (ItemKind.FLAG, "f"),
            (ItemKind.SEGMENT, "beta"),
        ]
        prod = [c for c in heard if c.kind is ItemKind.FLAG]
        assert [c.item["on"] if c.item else None for c in prod] == [True, False]
        assert prod[1].snapshot_version == prod[0].snapshot_version + 1
    finally:
        store.close()


def test_local_commits_are_announced_once_and_gaps_are_filled(tmp_path: Path, admin: Principal) -> None:
    path = tmp_path / "vexil.db"
    # A slow poller here, so that both of the other store's commits land between two of its polls.
    local, other = SqliteStore(path, poll_interval=0.3), SqliteStore(path)
    try:
        mine, theirs = Service(local), Service(other)
        mine.create_project(admin, {"key": "shop"})
        mine.create_flag(admin, "shop", {"key": "f", "variations": [False, True]})
        notices: list[tuple[int, int]] = []
        lock = threading.Lock()

        def record(environment_id: int, version: int) -> None:
            with lock:
                notices.append((environment_id, version))

        local.watch(record)
        heard: list[Change] = []
        mine.subscribe(heard.append)
        for on in (True, False, True):
            mine.patch_targeting(admin, "shop", "f", "production", {"on": on})
        time.sleep(0.7)  # two polls of the poller, which also sees data_version move for these commits
        with lock:
            assert len(notices) == len(set(notices)) == 3, notices
        assert len(heard) == 3
        theirs.patch_targeting(admin, "shop", "f", "production", {"on": False})
        theirs.patch_targeting(admin, "shop", "f", "production", {"on": True})
        _wait(lambda: len(heard) >= 5)
        versions = [c.snapshot_version for c in heard]
        assert versions == list(range(versions[0], versions[0] + 5)), versions
        with lock:
            assert len(notices) == len(set(notices)) == 5, notices
    finally:
        local.close()
        other.close()
