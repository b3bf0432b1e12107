"""`GET /sdk/v1/snapshot`: the key's environment document from pre-serialised bytes, with ETag/304 and gzip.

Raw ASGI on the hot path: no per-request serialisation, compression or database access (the hub caches).
While the database is down it keeps answering the last good snapshot (pollers catch up on the next poll).
"""

from __future__ import annotations

import functools

from starlette.types import Receive, Scope, Send

from vexil.service import NotFound, Unavailable

from ._auth import Authenticator
from ._hub import CachedSnapshot, Hub
from ._problems import ProblemError, ProblemType, unavailable
from ._sdk_http import sdk_key_target, send_problem


@functools.lru_cache(maxsize=256)  # clients send a handful of distinct Accept-Encoding values
def wants_gzip(accept_encoding: str | None) -> bool:
    """True when `gzip` (or `x-gzip`) is listed with a non-zero quality."""
    for part in (accept_encoding or "").split(","):
        coding, *params = part.split(";")
        if coding.strip().lower() not in {"gzip", "x-gzip"}:
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def etag_matches(if_none_match: str | None, snapshot: CachedSnapshot) -> bool:
    """RFC 9110 weak comparison against either representation (plain or gzip) of the current snapshot."""
    if not if_none_match:
        return False
    if if_none_match in (snapshot.etag, snapshot.gzip_etag):
        return True  # what SDKs send: the ETag they got, verbatim
    if if_none_match.strip() == "*":
        return True
    current = (snapshot.etag, snapshot.gzip_etag)
    return any(tag.strip().removeprefix("W/") in current for tag in if_none_match.split(","))


class SnapshotEndpoint:
    def __init__(self, hub: Hub, auth: Authenticator) -> None:
        self._hub = hub
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = accept_encoding = if_none_match = None
        for name, value in scope["headers"]:  # one pass over the headers; the first of each counts
            if name == b"authorization":
                authorization = authorization or value
            elif name == b"accept-encoding":
                accept_encoding = accept_encoding or value
            elif name == b"if-none-match":
                if_none_match = if_none_match or value
        try:
            target = await sdk_key_target(_text(authorization), self._auth)
            snapshot = await self._hub.snapshot(
                target.environment_id, client_side=target.client_side, allow_stale=True
            )
        except ProblemError as problem:
            await send_problem(problem, scope, receive, send)
            return
        except Unavailable as exc:  # no snapshot of this environment was ever built, and none can be now
            await send_problem(unavailable(exc.message), scope, receive, send)
            return
        except NotFound:
            gone = ProblemError.at(
                ProblemType.NOT_FOUND, "Authorization", "the key's environment no longer exists"
            )
            await send_problem(gone, scope, receive, send)
            return
        gzipped = wants_gzip(_text(accept_encoding))
        if etag_matches(_text(if_none_match), snapshot):
            headers = snapshot.not_modified_headers[gzipped]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b"" if scope["method"] == "HEAD" else snapshot.gzip_body if gzipped else snapshot.body
        await send({"type": "http.response.start", "status": 200, "headers": snapshot.headers[gzipped]})
        await send({"type": "http.response.body", "body": body})


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
