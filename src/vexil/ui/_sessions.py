"""Console sessions: kept in this process's memory, keyed by a random id that is the only thing in the cookie.

A restart signs everyone out (documented). The admin key stays server-side (as a `Secret`) so a revoked
key ends its sessions within `recheck` seconds; nothing here logs a key or a session id.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from vexil.service import Principal, Secret, Service, Unauthorized

COOKIE_NAME = "vexil_session"
#: The contexts typed into the debugger that each session remembers, newest first.
RECENT_CONTEXTS = 8


@dataclass
class Session:
    id: str
    secret: Secret
    principal: Principal
    csrf: str
    created: float
    seen: float
    checked: float
    project: str | None = None
    environment: str | None = None
    flash: str | None = None
    recent_contexts: list[str] = field(default_factory=list)

    def remember_context(self, text: str) -> None:
        self.recent_contexts = [text, *(c for c in self.recent_contexts if c != text)][:RECENT_CONTEXTS]

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        return message


class SessionStore:
    """Sessions in memory; all methods run on the event loop (only `authorize` goes to a thread).

    `idle` and `absolute` bound a session's life in seconds; the oldest sessions go beyond `max_sessions`.
    """

    def __init__(
        self,
        service: Service,
        *,
        idle: float = 8 * 3600,
        absolute: float = 7 * 24 * 3600,
        recheck: float = 5.0,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._idle = idle
        self._absolute = absolute
        self._recheck = recheck
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, secret: str, principal: Principal) -> Session:
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            secret=Secret(secret),
            principal=principal,
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
            checked=now,
        )
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    async def get(self, session_id: str | None) -> Session | None:
        """The live session for a cookie value; None when unknown, expired or its key was revoked."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self._idle or now - session.created > self._absolute:
            self.drop(session_id)
            return None
        if now - session.checked > self._recheck:
            try:
                session.principal = await run_in_threadpool(self._service.authorize, session.secret.reveal())
            except Unauthorized:
                self.drop(session_id)
                return None
            session.checked = now
        session.seen = now
        self._sessions.move_to_end(session_id)
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def drop_key(self, key_id: int) -> None:
        """End every session signed in with a key (it was just revoked here)."""
        for sid in [s.id for s in self._sessions.values() if s.principal.key_id == key_id]:
            self.drop(sid)

    def __len__(self) -> int:
        return len(self._sessions)
