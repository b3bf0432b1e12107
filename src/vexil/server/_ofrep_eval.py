"""`POST /ofrep/v1/evaluate/flags/{key}` and the bulk `POST /ofrep/v1/evaluate/flags` (raw ASGI, hot path).

Evaluates with the compiled snapshot of the key's environment (`ViewCache`); it never compiles, reads the
database or serialises a document per request, and answers client keys for client-side flags only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from vexil.engine import Context
from vexil.service import NotFound

from ._auth import Authenticator
from ._ofrep_cache import EnvironmentView, ViewCache
from ._ofrep_codes import OfrepRequestError
from ._ofrep_context import parse_body, request_context, to_vexil
from ._ofrep_http import (
    Caller,
    authenticate,
    method_not_allowed,
    rate_limited,
    read_body,
    send_json,
    send_problem,
)
from ._ofrep_limit import RateLimiter
from ._ofrep_links import StreamLinks
from ._ofrep_results import encode, failure, flag_not_found
from ._problems import ProblemError, unauthorized
from ._sdk_http import header

#: Bumped when the mapping of results to OFREP changes, so ETags from an older server never match.
MAPPING_REVISION = b"1"


@dataclass(frozen=True, slots=True)
class OfrepDeps:
    """What both evaluation endpoints share (one per app)."""

    auth: Authenticator
    views: ViewCache
    limiter: RateLimiter
    links: StreamLinks
    max_body_bytes: int
    freshness_wait_seconds: float


@dataclass(frozen=True, slots=True)
class _Request:
    caller: Caller
    context: Context
    raw_context: dict[str, Any]


async def _prepare(
    deps: OfrepDeps, scope: Scope, receive: Receive, send: Send, key: str | None
) -> _Request | None:
    """Authenticate, rate-limit, parse; on failure answer (401/403/429/400) and return None."""
    if scope["method"] != "POST":
        await method_not_allowed("POST", scope, receive, send)
        return None
    try:
        caller = await authenticate(scope, deps.auth)
    except ProblemError as problem:
        await send_problem(problem, scope, receive, send)
        return None
    if await rate_limited(deps.limiter, caller, send):
        return None
    try:
        raw = request_context(parse_body(await read_body(receive, deps.max_body_bytes)))
        context = to_vexil(raw)
    except OfrepRequestError as exc:
        await send_json(send, 400, failure(key, exc.code, exc.details))
        return None
    return _Request(caller, context, raw)


async def _gone(scope: Scope, receive: Receive, send: Send) -> None:
    # The key's environment was deleted (its keys with it); a cached principal may outlive it briefly.
    await send_problem(
        unauthorized("the key's environment no longer exists", invalid_token=True), scope, receive, send
    )


class EvaluateFlagEndpoint:
    """One flag for one context: 200 success, 400 failure, 404 FLAG_NOT_FOUND."""

    def __init__(self, deps: OfrepDeps) -> None:
        self._deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key: str = scope["path_params"]["key"]
        request = await _prepare(self._deps, scope, receive, send, key)
        if request is None:
            return
        try:
            view = await self._deps.views.view(request.caller.environment_id)
        except NotFound:
            await _gone(scope, receive, send)
            return
        info = view.flags.get(key)
        if info is None or (request.caller.client_side and not info.client_side):
            # A server-only flag does not exist for client keys.
            await send_json(send, 404, flag_not_found(key))
            return
        status, body = info.item(view.snapshot.evaluate(key, request.context))
        await send_json(send, status, body)


class EvaluateFlagsEndpoint:
    """Every flag the key may see for one context, with an ETag (304 on a match) and the stream link."""

    def __init__(self, deps: OfrepDeps) -> None:
        self._deps = deps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        deps = self._deps
        request = await _prepare(deps, scope, receive, send, None)
        if request is None:
            return
        caller = request.caller
        try:
            view = await deps.views.fresh_view(
                caller.environment_id, _wanted_version(scope), deps.freshness_wait_seconds
            )
        except NotFound:
            await _gone(scope, receive, send)
            return
        token, streams = deps.links.entry(caller.environment_id, caller.key_id)
        etag = _etag(view, caller, token, request.raw_context)
        etag_header = (b"etag", etag.encode())
        if _matches(header(scope, b"if-none-match"), etag):
            await send({"type": "http.response.start", "status": 304, "headers": [etag_header]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send_json(send, 200, _bulk_body(view, caller, request.context, streams), [etag_header])


def _bulk_body(view: EnvironmentView, caller: Caller, context: Context, streams: bytes) -> bytes:
    snapshot, flags = view.snapshot, view.flags
    if caller.client_side:
        items = [flags[key].item(snapshot.evaluate(key, context))[1] for key in view.client_keys]
    else:
        items = [flags[key].item(result)[1] for key, result in snapshot.evaluate_all(context).items()]
    metadata = encode({"project": view.project, "environment": view.environment})
    return b'{"flags":[%s],"eventStreams":%s,"metadata":%s}' % (b",".join(items), streams, metadata)


def _etag(view: EnvironmentView, caller: Caller, token: str, raw_context: dict[str, Any]) -> str:
    """`"<snapshot version>.<hash>"`: the hash covers the snapshot's content, who asks (the key decides the
    flag set and the stream link) and the context in canonical JSON, so equal tags mean equal bodies."""
    digest = hashlib.blake2b(digest_size=12)
    digest.update(
        b"%s|%s|%d|%d|%s|"
        % (MAPPING_REVISION, view.digest.encode(), caller.key_id, caller.client_side, token.encode())
    )
    digest.update(json.dumps(raw_context, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    return f'"{view.version}.{digest.hexdigest()}"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    return any(
        tag.strip() in ("*", etag) or tag.strip().removeprefix("W/") == etag
        for tag in if_none_match.split(",")
    )


def _wanted_version(scope: Scope) -> int:
    """The snapshot version a stream event's `flagConfigEtag` (`<version>-<digest>`) names; 0 when absent."""
    query = scope.get("query_string", b"")
    if b"flagConfigEtag" not in query:
        return 0
    for name, value in parse_qsl(query.decode("latin-1")):
        if name == "flagConfigEtag":
            version, _, _ = value.partition("-")
            return int(version) if version.isdigit() and len(version) < 19 else 0
    return 0
