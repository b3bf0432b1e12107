"""Shared plumbing of the SDK endpoints: raw header lookup, SDK-key authentication, sending problems.

The data plane uses raw ASGI for speed, so this stays allocation-light; it holds no business rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

from vexil.service import KeyKind, Principal

from ._auth import Authenticator
from ._problems import ProblemError, ProblemType, unauthorized


@dataclass(frozen=True, slots=True)
class SdkTarget:
    """What an SDK key reads: one environment, whole or client-side flags only."""

    principal: Principal
    environment_id: int
    client_side: bool


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header (`name` lower-case), decoded as Latin-1 as HTTP requires."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def sdk_target(scope: Scope, auth: Authenticator) -> SdkTarget:
    """Authenticate a server or client SDK key; raises a 401/403 `ProblemError` otherwise."""
    return await sdk_key_target(header(scope, b"authorization"), auth)


async def sdk_key_target(raw: str | None, auth: Authenticator) -> SdkTarget:
    """`sdk_target` for an Authorization header value already read (None: there was none)."""
    if raw is None:
        raise unauthorized("an Authorization: Bearer header with an SDK key is required", invalid_token=False)
    scheme, _, secret = raw.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise unauthorized('the Authorization header must be "Bearer <SDK key>"', invalid_token=True)
    principal = await auth.authorize(secret)
    if principal.kind is KeyKind.ADMIN or principal.environment_id is None:
        raise ProblemError.at(
            ProblemType.FORBIDDEN,
            "Authorization",
            "the SDK endpoints need a server or client SDK key of an environment, not an admin key",
        )
    return SdkTarget(principal, principal.environment_id, principal.kind is KeyKind.CLIENT)


async def send_problem(problem: ProblemError, scope: Scope, receive: Receive, send: Send) -> None:
    await problem.response()(scope, receive, send)
