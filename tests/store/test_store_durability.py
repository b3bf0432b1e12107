"""SQLite durability: a writer killed with SIGKILL mid-write, several times; every write it acknowledged
(printed after commit) is present afterwards and the database is intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from vexil.service import Principal, Service
from vexil.store import SqliteStore

WRITER = Path(__file__).resolve().parent / "durability_writer.py"


def _run_and_kill(db: Path, start: int, acks_before_kill: int) -> list[str]:
    child = subprocess.Popen(
        [sys.executable, str(WRITER), str(db), str(start)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < acks_before_kill:
            line = child.stdout.readline()
            assert line, f"writer exited early with {child.poll()}"
            acknowledged.append(line.strip())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()  # lines printed before the kill are acknowledged too
        child.wait(timeout=10)
        child.stdout.close()
    acknowledged += [line for line in rest.splitlines() if line]
    assert child.returncode == -signal.SIGKILL
    return acknowledged


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "vexil.db"
    rng = random.Random(7)
    acknowledged: list[str] = []
    for round_number in range(3):
        # Each round numbers its keys apart: the write in flight at the kill may or may not have committed.
        acknowledged += _run_and_kill(db, 1000 * round_number, rng.randint(5, 25))
    store = SqliteStore(db)
    try:
        stored = {f.key for f in Service(store).list_flags(Principal.system(), "durable")}
    finally:
        store.close()
    assert len(acknowledged) >= 15
    assert set(acknowledged) <= stored
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
