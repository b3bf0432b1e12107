"""Change notices across processes sharing one SQLite file: a thread polls `PRAGMA data_version`.

`data_version` moves whenever another connection commits; only then are the environments' snapshot versions
read (one small query) and the new ones announced. Reads only; it never writes or holds a lock between polls.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

#: A gap longer than this (the default change-log retention) is announced by its last version only: the
#: dispatcher then finds the log pruned and says so, as it would for a missed PostgreSQL notice.
MAX_GAP = 1000
_VERSIONS_SQL = "SELECT id, snapshot_version FROM environments WHERE snapshot_version > 0"


class VersionLedger:
    """The last snapshot version announced per environment, shared by the local writers and the poller, so
    a commit is announced once, by whichever of the two sees it first. The caller serialises calls."""

    def __init__(self) -> None:
        self._announced: dict[int, int] = {}

    def fresh(self, versions: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Record `versions` and return the notices not announced yet, oldest first.

        Every version since the last announced one is returned, not just the newest: the poller may see
        several commits at once, and a listener new to an environment starts reading at its first notice.
        """
        out: list[tuple[int, int]] = []
        for environment_id, version in versions:
            last = self._announced.get(environment_id, 0)
            if version <= last:
                continue
            self._announced[environment_id] = version
            first = max(last + 1, version - MAX_GAP + 1)
            out += [(environment_id, v) for v in range(first, version + 1)]
        return out

    def baseline(self, versions: Iterable[tuple[int, int]]) -> None:
        """Mark versions committed before anyone watched as announced (nobody needs them)."""
        for environment_id, version in versions:
            self._announced[environment_id] = max(version, self._announced.get(environment_id, 0))


Versions = list[tuple[int, int]]


class ChangePoller:
    """Reads `(environment_id, snapshot_version)` pairs after each commit by any connection, on its thread:
    the first read goes to `baseline`, every later one to `changed` (which announces what is new)."""

    def __init__(
        self,
        path: Path,
        *,
        baseline: Callable[[Versions], None],
        changed: Callable[[Versions], None],
        interval: float = 0.02,
        busy_timeout_ms: int = 1000,
    ) -> None:
        self._path = path
        self._baseline = baseline
        self._changed = changed
        self._interval = interval
        self._busy_timeout_ms = busy_timeout_ms
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start polling; returns once the baseline is read, so no later commit can be missed."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vexil-sqlite-changes", daemon=True)
            self._thread.start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        last: int | None = None  # data_version at the previous poll; None until the baseline is read
        reconnected = False  # a new connection restarts data_version: compare the versions themselves once
        failing = False
        try:
            while not self._stop.is_set():
                try:
                    if conn is None:
                        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
                        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                    # data_version first: a commit between the two reads moves it again, so it is re-read.
                    current = conn.execute("PRAGMA data_version").fetchone()[0]
                    if last is None:
                        self._baseline(_versions(conn))
                    elif current != last or reconnected:
                        self._changed(_versions(conn))
                    last, reconnected = current, False
                    if failing:
                        logger.info("reading the SQLite database for changes again")
                    failing = False
                except sqlite3.Error:
                    if not failing:
                        logger.warning("cannot read the SQLite database for changes; retrying", exc_info=True)
                    failing = True
                    if conn is not None:
                        conn.close()
                        conn = None
                    reconnected = last is not None
                finally:
                    self._ready.set()
                self._stop.wait(self._interval)
        finally:
            if conn is not None:
                conn.close()


def _versions(conn: sqlite3.Connection) -> Versions:
    return [(int(row[0]), int(row[1])) for row in conn.execute(_VERSIONS_SQL).fetchall()]
