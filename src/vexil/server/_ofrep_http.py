"""Shared raw-ASGI plumbing of the OFREP endpoints: who is calling, the request body, sending JSON.

Transport only; what a request means is in `_ofrep_eval` and `_ofrep_stream`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from vexil.service import KeyKind

from ._auth import Authenticator
from ._ofrep_codes import OfrepErrorCode, OfrepRequestError
from ._ofrep_limit import RateLimiter
from ._ofrep_results import encode
from ._problems import ProblemError, ProblemType, unauthorized
from ._sdk_http import header

JSON_HEADERS = [(b"content-type", b"application/json"), (b"cache-control", b"private, no-cache")]


@dataclass(frozen=True, slots=True)
class Caller:
    """An SDK key's view: one environment, all flags (server key) or client-side ones (client key)."""

    key_id: int
    environment_id: int
    client_side: bool


def _secret(scope: Scope) -> str:
    """`Authorization: Bearer KEY`, or the spec's alternative `X-API-Key: KEY`."""
    raw = header(scope, b"authorization")
    if raw is not None:
        scheme, _, secret = raw.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthorized('the Authorization header must be "Bearer <SDK key>"', invalid_token=True)
        return secret.strip()
    api_key = header(scope, b"x-api-key")
    if api_key is not None and api_key.strip():
        return api_key.strip()
    raise unauthorized("an Authorization: Bearer header with an SDK key is required", invalid_token=False)


async def authenticate(scope: Scope, auth: Authenticator) -> Caller:
    """The calling SDK key; a 401/403 `ProblemError` for none, an unknown one or an admin key."""
    principal = await auth.authorize(_secret(scope))
    if principal.kind is KeyKind.ADMIN or principal.environment_id is None or principal.key_id is None:
        raise ProblemError.at(
            ProblemType.FORBIDDEN,
            "Authorization",
            "OFREP needs a server or client SDK key of an environment, not an admin key",
        )
    return Caller(principal.key_id, principal.environment_id, principal.kind is KeyKind.CLIENT)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; PARSE_ERROR once it exceeds `limit` bytes (OFREP has no 413)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise OfrepRequestError(OfrepErrorCode.PARSE_ERROR, f"the request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body)), *(extra or ())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_problem(problem: ProblemError, scope: Scope, receive: Receive, send: Send) -> None:
    await problem.response()(scope, receive, send)


async def rate_limited(limiter: RateLimiter, caller: Caller, send: Send) -> bool:
    """Take a token for the caller's key; when there is none, answer 429 with `Retry-After` and say so."""
    wait = limiter.take(caller.key_id)
    if not wait:
        return False
    body = encode({"errorDetails": f"rate limit of this key exceeded; retry after {wait} s"})
    await send_json(send, 429, body, [(b"retry-after", b"%d" % wait)])
    return True


async def method_not_allowed(allowed: str, scope: Scope, receive: Receive, send: Send) -> None:
    problem = ProblemError.at(
        ProblemType.METHOD_NOT_ALLOWED,
        "method",
        f"{scope['method']} is not allowed here (allowed: {allowed})",
    )
    problem.headers["Allow"] = allowed
    await send_problem(problem, scope, receive, send)
