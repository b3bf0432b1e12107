"""Fixtures for the one store test suite that runs against both backends (SQLite and PostgreSQL).

PostgreSQL: a fresh `vexil_test_<random>` database per test session (per xdist worker), truncated
between tests and dropped at the end; unreachable -> the tests FAIL when CI=true, else they skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from store_support import Backend, FakeClock

from vexil.service import Principal, Service, Store
from vexil.store import PostgresStore, SqliteStore

PG_ADMIN_URL = os.environ.get("VEXIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"vexil_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = str(tmp_path / "vexil.db")
        yield Backend("sqlite", path, lambda **kw: SqliteStore(path, **kw))
        return
    url: str = request.getfixturevalue("pg_url")
    first = PostgresStore(url)  # migrates the session database once
    with psycopg.connect(url, autocommit=True) as conn:
        # DELETE, not TRUNCATE: ten times faster on small tables; everything else cascades from these three.
        for table in ("audit", "api_keys", "projects"):
            conn.execute(f"DELETE FROM {table}")
    first.close()
    yield Backend("postgres", url, lambda **kw: PostgresStore(url, **kw))


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def service(store: Store, clock: FakeClock) -> Service:
    return Service(store, clock=clock)


@pytest.fixture
def admin() -> Principal:
    return Principal.system("tester")


@pytest.fixture
def shop(service: Service, admin: Principal) -> str:
    """A project `shop` with a boolean flag `checkout` and a string flag `theme`."""
    service.create_project(admin, {"key": "shop", "name": "Shop"})
    service.create_flag(admin, "shop", {"key": "checkout", "variations": [False, True]})
    service.create_flag(admin, "shop", {"key": "theme", "variations": ["light", "dark"], "client_side": True})
    return "shop"
