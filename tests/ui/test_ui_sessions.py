"""Console sessions: random ids, idle and absolute expiry, revoked keys end their sessions, bounded size."""

from __future__ import annotations

from pathlib import Path

import pytest

from vexil.service import Principal, Service
from vexil.store import SQLITE_FILE, SqliteStore
from vexil.ui._sessions import SessionStore

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_sessions_expire_and_follow_revocation(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / SQLITE_FILE, synchronous="NORMAL")
    try:
        service = Service(store)
        service.ensure_default()
        created = service.create_key(Principal.system(), {"name": "w", "kind": "admin", "role": "writer"})
        secret = created.secret.reveal()
        clock = Clock()
        sessions = SessionStore(service, idle=60, absolute=600, recheck=5, max_sessions=3, clock=clock)
        first = sessions.create(secret, service.authorize(secret))
        second = sessions.create(secret, service.authorize(secret))
        assert first.id != second.id and first.csrf != second.csrf and len(first.id) >= 43
        assert secret not in repr(first)
        assert await sessions.get(first.id) is first
        assert await sessions.get("unknown") is None and await sessions.get(None) is None
        clock.now += 61  # idle too long
        assert await sessions.get(first.id) is None
        third = sessions.create(secret, service.authorize(secret))
        clock.now += 30
        assert await sessions.get(third.id) is third  # re-checked with the service: still valid
        service.revoke_key(Principal.system(), created.key.id)
        assert await sessions.get(third.id) is third  # within the re-check interval
        clock.now += 6
        assert await sessions.get(third.id) is None  # revoked: signed out
        for _ in range(5):
            sessions.create(secret, Principal.system())
        assert len(sessions) == 3
    finally:
        store.close()


async def test_absolute_lifetime(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / SQLITE_FILE, synchronous="NORMAL")
    try:
        service = Service(store)
        secret = service.ensure_default().admin_secret
        assert secret is not None
        clock = Clock()
        sessions = SessionStore(service, idle=100, absolute=250, recheck=1000, clock=clock)
        session = sessions.create(secret.reveal(), service.authorize(secret.reveal()))
        for _ in range(2):
            clock.now += 90
            assert await sessions.get(session.id) is session
        clock.now += 90
        assert await sessions.get(session.id) is None
    finally:
        store.close()
