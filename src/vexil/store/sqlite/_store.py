"""`SqliteStore`: the embedded default: one WAL-mode database file, a small pool, one writer at a time.

Durability: `synchronous=FULL`: a returned transaction survives power loss. Change notices reach this
process's watchers at once, and those of other processes sharing the file through their `data_version` poller.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from vexil.service import Notice, Tx, Unavailable

from .._migrations import apply_pending, current_version
from .._sql import SqlTx
from .._sql_base import Dialect
from .._watchers import Watchers
from ._poller import ChangePoller, VersionLedger, Versions
from ._schema import MIGRATIONS

Synchronous = Literal["FULL", "NORMAL", "EXTRA"]


def _unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


#: Primary result codes meaning "cannot use the database right now" rather than a bug in a statement:
#: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
_UNAVAILABLE_CODES = frozenset({5, 6, 8, 10, 13, 14})


def _unavailable(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _UNAVAILABLE_CODES


DIALECT = Dialect(
    name="sqlite",
    placeholder="?",
    for_update="",
    global_lock_sql=None,
    notify_sql=None,
    is_unique_violation=_unique_violation,
)


class SqliteStore:
    """Open (creating the file and running migrations) on construction; `close()` when done."""

    def __init__(
        self,
        path: str | Path,
        *,
        pool_size: int = 4,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 10_000,
        change_retention: int = 1000,
        poll_interval: float = 0.02,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._retention = change_retention
        self._idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max(2, pool_size))
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # SQLite allows one writer; queueing writers here is fairer and faster than its busy-retry loop.
        self._write_lock = threading.Lock()
        self._watchers = Watchers()
        # One announcer at a time, so notices of one environment reach watchers in version order.
        self._announce_lock = threading.RLock()
        self._ledger = VersionLedger()
        self._poller = ChangePoller(
            self.path, baseline=self._baseline, changed=self._announce, interval=poll_interval
        )
        self._closed = False
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._all_lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise Unavailable("the database is closed (the server is shutting down)")
        self._slots.acquire()
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                yield conn
            finally:
                self._idle.put(conn)
        finally:
            self._slots.release()

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[SqlTx]:
        try:
            with self._connection() as conn:
                conn.execute(begin)
                tx = SqlTx(conn, DIALECT, change_retention=self._retention)
                committed = False
                try:
                    yield tx
                    conn.execute("COMMIT")
                    committed = True
                finally:
                    if not committed and conn.in_transaction:
                        conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if _unavailable(exc):
                raise Unavailable() from exc
            raise

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._write_lock, self._transaction("BEGIN IMMEDIATE") as tx:
            yield tx
        # Outside the writer lock and with the connection back in the pool: listeners may read.
        self._announce(tx.notices)

    def _announce(self, versions: Versions) -> None:
        """Tell watchers of versions not announced yet: a local commit, or one the poller found."""
        with self._announce_lock:
            self._watchers.fire(self._ledger.fresh(versions))

    def _baseline(self, versions: Versions) -> None:
        with self._announce_lock:
            self._ledger.baseline(versions)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._transaction("BEGIN") as tx:
            yield tx

    def watch(self, callback: Notice) -> Callable[[], None]:
        """Add a watcher; the first one starts the poller and returns once its baseline is read.

        The baseline comes first: a writer announcing to a watcher that waits for this call to return
        (the dispatcher holds its lock meanwhile) would block the poller's baseline behind it.
        """
        self._poller.start()
        return self._watchers.add(callback)

    def migrate(self) -> list[int]:
        with self._write_lock, self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            applied: list[int] | None = None
            try:
                applied = apply_pending(conn, MIGRATIONS, "?")
                conn.execute("COMMIT")
            finally:
                if applied is None:
                    conn.execute("ROLLBACK")
            return applied

    def schema_version(self) -> int:
        with self._connection() as conn:
            return current_version(conn)

    def ping(self) -> bool:
        try:
            with self._connection() as conn:
                return bool(conn.execute("SELECT 1").fetchone() == (1,))
        except (sqlite3.Error, Unavailable):
            return False

    def close(self) -> None:
        self._closed = True
        self._poller.stop()
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"
