"""Request and response plumbing shared by the admin routes: bounded JSON bodies, If-Match, comments, ETags.

Turns HTTP details into use-case arguments and results into JSON; no permission or business rule here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vexil.service import KeyKind, Principal, Service

from ._auth import Authenticator
from ._problems import FieldError, ProblemError, ProblemType
from ._settings import ServerSettings

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]

JSON_MEDIA_TYPE = "application/json"
MERGE_PATCH_MEDIA_TYPE = "application/merge-patch+json"
COMMENT_HEADER = "X-Vexil-Comment"
MAX_COMMENT_LENGTH = 2000
#: Deeper JSON is refused before it reaches recursive code (merge patch, validation, storage).
MAX_JSON_DEPTH = 64
_STRONG_ETAG = re.compile(r'"([0-9]{1,16})"')
#: What If-Match accepts, as a JSON Schema pattern (for the OpenAPI document): `*` or `_STRONG_ETAG`.
IF_MATCH_PATTERN = r'^(\*|"[0-9]{1,16}")$'


@dataclass(frozen=True, slots=True)
class AdminContext:
    """What every admin route needs, passed explicitly (no globals)."""

    service: Service
    settings: ServerSettings
    auth: Authenticator


class Versioned(Protocol):
    @property
    def version(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Write:
    """A parsed write request: the body without `comment`, the expected version and the audit comment."""

    body: dict[str, Any]
    expected_version: int | None
    comment: str | None


def resource_route(path: str, handlers: Mapping[str, Handler], name: str) -> Route:
    """One route per path, dispatching on the method, so a wrong method gets 405 with a complete Allow."""
    table = dict(handlers)
    if "GET" in table:
        table["HEAD"] = table["GET"]

    async def endpoint(request: Request) -> Response:
        return await table[request.method](request)

    return Route(path, endpoint, methods=list(handlers), name=name)


async def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking use case in the thread pool."""
    return await run_in_threadpool(function, *args, **kwargs)


def param(request: Request, name: str) -> str:
    value = request.path_params[name]
    assert isinstance(value, str)
    return value


# -- bodies


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds `limit` (declared or while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ProblemError:
    return ProblemError.at(ProblemType.BODY_TOO_LARGE, "body", f"the body must not exceed {limit} bytes")


def _malformed(path: str, message: str) -> ProblemError:
    return ProblemError.at(ProblemType.MALFORMED_REQUEST, path, message)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def json_object(
    request: Request, settings: ServerSettings, *, merge_patch: bool = False
) -> dict[str, Any]:
    """The body as a JSON object; 400 for a wrong content type, bad JSON or a non-object, 413 when too big."""
    allowed = (JSON_MEDIA_TYPE, MERGE_PATCH_MEDIA_TYPE) if merge_patch else (JSON_MEDIA_TYPE,)
    media_type = _media_type(request)
    if media_type not in allowed:
        shown = media_type or "none"
        raise _malformed("Content-Type", f"must be {' or '.join(allowed)}, not {shown}")
    raw = await read_body(request, settings.max_body_bytes)
    value = parse_json(raw)
    if not isinstance(value, dict):
        raise _malformed("body", f"must be a JSON object, not {_json_type(value)}")
    return value


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, no overflowing numbers, bounded nesting; 400/422 otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed("body", f"is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise _malformed("body", "is empty; a JSON object is required")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _malformed("body", f"nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise _malformed("body", f"is not valid JSON: {exc}") from None
    problems = list(_unstorable(value))
    if problems:
        raise ProblemError(
            ProblemType.VALIDATION_FAILED, f"validation failed: {problems[0].message}", problems
        )
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is out of range")
    return number


def _unstorable(value: Any) -> Iterable[FieldError]:
    """Too-deep nesting and strings that cannot be stored (NUL, unpaired surrogates), with their paths."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            yield FieldError(path or "body", f"nests deeper than {MAX_JSON_DEPTH} levels")
            continue
        if isinstance(item, str):
            if not _storable(item):
                yield FieldError(path or "body", "must not contain NUL characters or unpaired surrogates")
        elif isinstance(item, dict):
            for name, child in item.items():
                child_path = f"{path}.{name}" if path else name
                if not _storable(name):
                    yield FieldError(
                        child_path, "names must not contain NUL characters or unpaired surrogates"
                    )
                stack.append((child, child_path, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


# -- writes: version preconditions and comments


def if_match(request: Request) -> int | None:
    """The version If-Match requires (None when absent or `*`); 400 for anything but a strong ETag."""
    header = request.headers.get("if-match")
    if header is None or header == "*":
        return None
    # HTTP servers strip optional whitespace around header values; what is left must match exactly.
    match = _STRONG_ETAG.fullmatch(header)
    if match is None:
        raise _malformed("If-Match", 'must be a strong entity tag such as "3" (as sent in ETag) or *')
    return int(match.group(1))


def header_comment(request: Request) -> str | None:
    raw = request.headers.get(COMMENT_HEADER)
    if raw is None:
        return None
    if len(raw) > MAX_COMMENT_LENGTH:
        raise _malformed(COMMENT_HEADER, f"must be at most {MAX_COMMENT_LENGTH} characters")
    if not _storable(raw):
        raise _malformed(COMMENT_HEADER, "must not contain NUL characters")
    try:
        # Clients send UTF-8 bytes; Starlette decodes header bytes as Latin-1.
        text = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = raw
    return text.strip() or None


def write_options(request: Request, body: Mapping[str, Any] | None = None) -> Write:
    """Split a write into body, expected version (If-Match, else an integer `version` field) and comment."""
    kept = dict(body or {})
    comment = header_comment(request)
    if "comment" in kept:
        value = kept.pop("comment")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_COMMENT_LENGTH):
            raise ProblemError.at(
                ProblemType.VALIDATION_FAILED,
                "comment",
                f"must be a string of at most {MAX_COMMENT_LENGTH} characters",
            )
        if isinstance(value, str) and value.strip():
            comment = value.strip()
    expected = if_match(request)
    version = kept.get("version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ProblemError.at(
            ProblemType.VALIDATION_FAILED, "version", "must be a non-negative integer or null"
        )
    if expected is None and isinstance(version, int):
        expected = version
    return Write(kept, expected, comment)


# -- responses


def etag(version: int) -> str:
    return f'"{version}"'


def resource(item: Versioned, *, status: int = 200, location: str | None = None) -> Response:
    headers = {"ETag": etag(item.version)}
    if location is not None:
        headers["Location"] = location
    return JSONResponse(item.to_dict(), status_code=status, headers=headers)


def listing(items: Iterable[Any], **extra: Any) -> Response:
    return JSONResponse({"items": [item.to_dict() for item in items], **extra})


def no_content() -> Response:
    return Response(status_code=204)


def url(*parts: str) -> str:
    """An API path from raw segments, each percent-encoded."""
    return "/api/v1/" + "/".join(quote(part, safe="") for part in parts)


async def actor(ctx: AdminContext, request: Request) -> Principal:
    """The caller, who must hold an admin key: SDK keys are refused here even where a use case would
    merely filter (listing projects), so the admin API never answers them."""
    who = await ctx.auth.principal(request)
    if who.kind is not KeyKind.ADMIN:
        raise ProblemError.at(
            ProblemType.FORBIDDEN, "Authorization", f"{who.kind.value} SDK keys cannot use the admin API"
        )
    return who
