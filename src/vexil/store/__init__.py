"""Storage backends for the service: SQLite (default, embedded) and PostgreSQL, behind `vexil.service.Store`.

`open_store` picks one from a database URL; nothing is opened at import time.
"""

from __future__ import annotations

from pathlib import Path

from vexil.service import Store

from .postgres import PostgresStore
from .sqlite import SqliteStore

#: The SQLite database file inside the data directory.
SQLITE_FILE = "vexil.db"


def open_store(database_url: str | None, data_dir: str | Path) -> Store:
    """PostgreSQL for `postgresql://` / `postgres://` URLs, else SQLite (`sqlite:///path` or the data dir).

    Runs pending migrations; raises when the database cannot be reached.
    """
    url = (database_url or "").strip()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url:
        raise ValueError("the database URL must start with postgresql://, postgres:// or sqlite:///")
    return SqliteStore(Path(data_dir) / SQLITE_FILE)


__all__ = ["SQLITE_FILE", "PostgresStore", "SqliteStore", "open_store"]
