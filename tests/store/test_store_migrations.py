"""Schema migrations are versioned and idempotent; `open_store` picks the backend from the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_support import Backend

from vexil.service import Store
from vexil.store import SQLITE_FILE, PostgresStore, SqliteStore, open_store
from vexil.store.postgres import MIGRATIONS as PG_MIGRATIONS
from vexil.store.sqlite import MIGRATIONS as SQLITE_MIGRATIONS


def test_migrations_run_once_and_are_idempotent(backend: Backend, store: Store) -> None:
    expected = max(m.version for m in (SQLITE_MIGRATIONS if backend.name == "sqlite" else PG_MIGRATIONS))
    assert store.schema_version() == expected
    assert store.migrate() == []
    assert store.migrate() == []
    again = backend.open()
    try:
        assert again.migrate() == [] and again.schema_version() == expected and again.ping()
    finally:
        again.close()


def test_a_fresh_sqlite_database_gets_every_migration(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "deep" / "dir" / "v.db")
    try:
        assert store.schema_version() == len(SQLITE_MIGRATIONS)
        assert (tmp_path / "deep" / "dir" / "v.db").exists()
    finally:
        store.close()
    assert not store.ping()
    assert [m.version for m in SQLITE_MIGRATIONS] == [m.version for m in PG_MIGRATIONS]


def test_open_store_picks_the_backend(tmp_path: Path, pg_url: str) -> None:
    sqlite = open_store(None, tmp_path)
    postgres = open_store(pg_url, tmp_path)
    explicit = open_store(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
    try:
        assert isinstance(sqlite, SqliteStore) and (tmp_path / SQLITE_FILE).exists()
        assert isinstance(postgres, PostgresStore) and postgres.ping()
        assert isinstance(explicit, SqliteStore) and (tmp_path / "other.db").exists()
        assert "password" not in repr(postgres)
    finally:
        for store in (sqlite, postgres, explicit):
            store.close()
    with pytest.raises(ValueError, match="database URL"):
        open_store("mysql://x", tmp_path)
