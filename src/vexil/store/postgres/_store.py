"""`PostgresStore`: psycopg 3 with a connection pool; changes reach every process through LISTEN/NOTIFY.

Writers of one project serialise on the project row (`SELECT ... FOR UPDATE`); notices carry only
`environment_id:snapshot_version` and listeners re-read the change log. No business rules here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from vexil.service import Notice, Tx, Unavailable

from .._migrations import apply_pending, current_version
from .._sql import SqlTx
from .._sql_base import Dialect
from .._watchers import Watchers
from ._schema import MIGRATIONS

logger = logging.getLogger(__name__)

CHANNEL = "vexil_changes"
_MIGRATION_LOCK = 0x7665_7801
_GLOBAL_LOCK = 0x7665_7802


def _unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, psycopg.errors.UniqueViolation)


DIALECT = Dialect(
    name="postgresql",
    placeholder="%s",
    for_update=" FOR UPDATE",
    global_lock_sql=f"SELECT pg_advisory_xact_lock({_GLOBAL_LOCK})",
    notify_sql=f"SELECT pg_notify('{CHANNEL}', ?)",
    is_unique_violation=_unique_violation,
)


class PostgresStore:
    """Connects (failing fast when the database is unreachable) and migrates on construction."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 10.0,
        change_retention: int = 1000,
    ) -> None:
        self._conninfo = conninfo
        self._retention = change_retention
        self._pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            timeout=timeout,
            open=False,
            name="vexil",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout:
            self._pool.close()
            raise
        self._watchers = Watchers()
        self._listener: threading.Thread | None = None
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._start_lock = threading.Lock()
        self.migrate()

    @contextmanager
    def _transaction(self, first: str | None) -> Iterator[SqlTx]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                if first:
                    conn.execute(first)
                tx = SqlTx(conn, DIALECT, change_retention=self._retention)
                yield tx
        except psycopg.OperationalError as exc:  # PoolTimeout and PoolClosed included
            # Connection lost, server down or restarting, no free connection, deadlock: all worth a retry.
            raise Unavailable() from exc
        # Local watchers hear of the commit at once; other processes via NOTIFY (duplicates are fine).
        self._watchers.fire(tx.notices)

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._transaction(None) as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY") as tx:
            yield tx

    def watch(self, callback: Notice) -> Callable[[], None]:
        """Add a watcher; the first one starts the LISTEN thread and returns once it is listening."""
        remove = self._watchers.add(callback)
        with self._start_lock:
            if self._listener is None:
                self._listener = threading.Thread(target=self._listen, name="vexil-pg-listen", daemon=True)
                self._listener.start()
        self._listening.wait(timeout=10)
        return remove

    def _listen(self) -> None:
        reconnect = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if reconnect:
                        self._resync(conn)
                        logger.warning("listening for PostgreSQL change notices again")
                    reconnect = False
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.2):
                            self._dispatch(note.payload)
            except psycopg.Error as exc:
                if not reconnect:  # once per outage, not at every retry
                    logger.warning("lost the PostgreSQL LISTEN connection; reconnecting", exc_info=True)
                else:
                    logger.debug("cannot listen for PostgreSQL change notices yet: %s", exc)
                reconnect = True
                self._stop.wait(0.5)

    def _dispatch(self, payload: str) -> None:
        environment_id, _, version = payload.partition(":")
        if environment_id.isdigit() and version.isdigit():
            self._watchers.fire([(int(environment_id), int(version))])

    def _resync(self, conn: psycopg.Connection[tuple[int, int]]) -> None:
        """After a reconnect, notices may have been missed: announce every environment's current version."""
        rows = conn.execute(
            "SELECT id, snapshot_version FROM environments WHERE snapshot_version > 0"
        ).fetchall()
        self._watchers.fire([(int(r[0]), int(r[1])) for r in rows])

    def migrate(self) -> list[int]:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            return apply_pending(conn, MIGRATIONS, "%s")

    def schema_version(self) -> int:
        with self._pool.connection() as conn:
            return current_version(conn)

    def ping(self) -> bool:
        try:
            with self._pool.connection(timeout=2.0) as conn:
                row = conn.execute("SELECT 1").fetchone()
                return row is not None and row[0] == 1
        except (psycopg.Error, PoolTimeout):
            return False

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._pool.close()

    def __repr__(self) -> str:
        params = conninfo_to_dict(self._conninfo)
        return f"PostgresStore(host={params.get('host')!r}, dbname={params.get('dbname')!r})"
