"""Bearer-key authentication: `Authorization: Bearer KEY` -> `Principal` via `service.authorize`, cached.

The cache is keyed by a hash of the secret, never the secret; nothing here logs or echoes a key. One
authenticator serves the whole app (admin API, SDK data plane, OFREP), so a revocation here applies to all.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from vexil.service import Principal, Unauthorized, Unavailable

from ._backend import KeyDirectory
from ._problems import unauthorized, unavailable

_RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires: float


def bearer_secret(connection: HTTPConnection) -> str:
    """The key in the Authorization header; raises a 401 problem when there is none."""
    header = connection.headers.get("authorization")
    if header is None:
        raise unauthorized("an Authorization: Bearer header with an API key is required", invalid_token=False)
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise unauthorized('the Authorization header must be "Bearer <API key>"', invalid_token=True)
    return secret


class Authenticator:
    """Turns a request's bearer key into a `Principal`; a revoked key stops working within `ttl` seconds.

    Revocations made through this process take effect at once (`forget`); other processes sharing the
    database notice within `ttl`. Failures are not cached, so a fixed key works on the next request. While
    the database is unavailable, a key seen before keeps its last known principal (the data plane keeps
    serving cached snapshots); an unknown key gets a 503.
    """

    def __init__(
        self,
        service: KeyDirectory,
        *,
        ttl: float = 5.0,
        max_entries: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._service = service
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[bytes, _Entry] = OrderedDict()
        self._forget_listeners: list[Callable[[int], object]] = []
        #: After the database failed, known keys are not looked up again before this (each try may hang
        #: for the store's connection timeout).
        self._retry_at = 0.0

    async def principal(self, connection: HTTPConnection) -> Principal:
        """Who sent this request; a 401 `ProblemError` for a missing, malformed, unknown or revoked key."""
        return await self.authorize(bearer_secret(connection))

    async def authorize(self, secret: str) -> Principal:
        digest = hashlib.sha256(secret.encode("utf-8")).digest()
        now = self._clock()
        entry = self._cache.get(digest)
        if entry is not None and (entry.expires > now or now < self._retry_at):
            return entry.principal
        try:
            principal = await run_in_threadpool(self._service.authorize, secret)
        except Unauthorized as exc:
            self._cache.pop(digest, None)
            raise unauthorized(exc.message, invalid_token=True) from None
        except Unavailable as exc:
            self._retry_at = self._clock() + _RETRY_SECONDS
            entry = self._cache.get(digest)
            if entry is None:
                raise unavailable(exc.message) from None
            return entry.principal  # known before the outage; checked again once the database answers
        if self._ttl > 0:
            self._cache[digest] = _Entry(principal, now + self._ttl)
            self._cache.move_to_end(digest)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return principal

    def on_forget(self, listener: Callable[[int], object]) -> None:
        """Call `listener(key_id)` on each `forget` (the data plane ends that key's streams)."""
        self._forget_listeners.append(listener)

    def forget(self, key_id: int) -> None:
        """Drop cached principals of one key (after it was revoked) and tell the listeners."""
        for digest in [d for d, e in self._cache.items() if e.principal.key_id == key_id]:
            del self._cache[digest]
        for listener in self._forget_listeners:
            listener(key_id)
