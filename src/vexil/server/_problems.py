"""RFC 9457 problem responses: the one shape every error of the HTTP API has, and the exception handlers.

Maps `ServiceError`s and Starlette's HTTP exceptions to problems; it decides statuses, never business rules.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vexil.service import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:vexil:problem:"


class ProblemType(enum.Enum):
    """Each problem type: its `type` URI suffix, HTTP status and fixed title."""

    MALFORMED_REQUEST = ("malformed-request", 400, "The request is malformed")
    UNAUTHORIZED = ("unauthorized", 401, "A valid API key is required")
    FORBIDDEN = ("forbidden", 403, "The key may not do this")
    NOT_FOUND = ("not-found", 404, "No such resource")
    METHOD_NOT_ALLOWED = ("method-not-allowed", 405, "Method not allowed")
    ALREADY_EXISTS = ("already-exists", 409, "The resource already exists")
    VERSION_CONFLICT = ("version-conflict", 409, "The resource changed since it was read")
    BODY_TOO_LARGE = ("body-too-large", 413, "The request body is too large")
    VALIDATION_FAILED = ("validation-failed", 422, "The request is not valid")
    INTERNAL_ERROR = ("internal-error", 500, "Internal server error")
    UNAVAILABLE = ("unavailable", 503, "The database is unavailable; retry shortly")

    def __init__(self, slug: str, status: int, title: str) -> None:
        self.slug = slug
        self.status = status
        self.title = title

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.slug


@dataclass(frozen=True, slots=True)
class FieldError:
    """What is wrong (`message`) and where: a body path, or a header, query or path parameter name."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ProblemError(Exception):
    """Raised by the HTTP layer itself (bad headers, bodies, query strings); rendered by `problem_handler`."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        errors: Iterable[FieldError] = (),
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    @classmethod
    def at(cls, kind: ProblemType, path: str, message: str, **extra: Any) -> ProblemError:
        """A problem with one field error, whose message is also the detail."""
        return cls(
            kind, message if not path else f"{path}: {message}", [FieldError(path, message)], extra=extra
        )

    def response(self) -> Response:
        body: dict[str, Any] = {
            "type": self.kind.uri,
            "title": self.kind.title,
            "status": self.kind.status,
            "detail": self.detail,
            "errors": [e.to_dict() for e in self.errors],
            **self.extra,
        }
        return JSONResponse(
            body, status_code=self.kind.status, headers=self.headers, media_type=PROBLEM_MEDIA_TYPE
        )


#: Which URL path parameter names the resource a `NotFound` is about.
_NOT_FOUND_PATH = {
    "project": "project",
    "environment": "env",
    "flag": "flag",
    "targeting": "env",
    "segment": "segment",
    "key": "id",
}

BEARER_CHALLENGE = 'Bearer realm="vexil"'


def from_service_error(exc: ServiceError, *, version_source: str = "version") -> ProblemError:
    """The problem for a use-case error; `version_source` names where the stale version came from."""
    if isinstance(exc, ValidationFailed):
        errors = [FieldError(p.path or "body", p.message) for p in exc.problems] or [
            FieldError("body", exc.message)
        ]
        return ProblemError(ProblemType.VALIDATION_FAILED, exc.message, errors)
    if isinstance(exc, Conflict):
        return ProblemError(
            ProblemType.VERSION_CONFLICT,
            exc.message,
            [
                FieldError(
                    version_source, f"expected version {exc.expected_version}, current {exc.current_version}"
                )
            ],
            headers={"ETag": f'"{exc.current_version}"'},
            extra={"current_version": exc.current_version},
        )
    if isinstance(exc, NotFound):
        return ProblemError.at(ProblemType.NOT_FOUND, _NOT_FOUND_PATH.get(exc.kind, exc.kind), exc.message)
    if isinstance(exc, AlreadyExists):
        return ProblemError.at(ProblemType.ALREADY_EXISTS, "key", exc.message)
    if isinstance(exc, Unauthorized):
        return unauthorized(exc.message, invalid_token=True)
    if isinstance(exc, Forbidden):
        return ProblemError.at(ProblemType.FORBIDDEN, "Authorization", exc.message)
    if isinstance(exc, Unavailable):
        return unavailable(exc.message)
    # Another subclass (say a batch conflict): its code still decides the status, never a 500.
    return ProblemError.at(_BY_CODE.get(exc.code, ProblemType.VALIDATION_FAILED), "body", exc.message)


_BY_CODE = {
    ErrorCode.NOT_FOUND: ProblemType.NOT_FOUND,
    ErrorCode.ALREADY_EXISTS: ProblemType.ALREADY_EXISTS,
    ErrorCode.CONFLICT: ProblemType.VERSION_CONFLICT,
    ErrorCode.VALIDATION_FAILED: ProblemType.VALIDATION_FAILED,
    ErrorCode.FORBIDDEN: ProblemType.FORBIDDEN,
    ErrorCode.UNAUTHORIZED: ProblemType.UNAUTHORIZED,
    ErrorCode.UNAVAILABLE: ProblemType.UNAVAILABLE,
}


def unavailable(message: str, *, retry_after: int = 1) -> ProblemError:
    """503 with Retry-After: the request may well succeed shortly (database restarting, locked, ...)."""
    problem = ProblemError.at(ProblemType.UNAVAILABLE, "database", message)
    problem.headers["Retry-After"] = str(retry_after)
    return problem


def unauthorized(message: str, *, invalid_token: bool) -> ProblemError:
    challenge = BEARER_CHALLENGE + (', error="invalid_token"' if invalid_token else "")
    problem = ProblemError.at(ProblemType.UNAUTHORIZED, "Authorization", message)
    problem.headers["WWW-Authenticate"] = challenge
    return problem


async def problem_handler(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for `ProblemError`, `ServiceError` and `HTTPException`."""
    if isinstance(exc, ProblemError):
        return exc.response()
    if isinstance(exc, ServiceError):
        source = "If-Match" if "if-match" in request.headers else "version"
        return from_service_error(exc, version_source=source).response()
    if isinstance(exc, HTTPException):
        return _from_http_exception(request, exc).response()
    raise exc  # registered only for the types above


def _from_http_exception(request: Request, exc: HTTPException) -> ProblemError:
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = headers.get("Allow", "")
        problem = ProblemError.at(
            ProblemType.METHOD_NOT_ALLOWED,
            "method",
            f"{request.method} is not allowed here (allowed: {allowed})",
        )
    elif exc.status_code == 404:
        problem = ProblemError.at(ProblemType.NOT_FOUND, "url", f"no resource at {request.url.path}")
    else:
        kind = next((k for k in ProblemType if k.status == exc.status_code), ProblemType.MALFORMED_REQUEST)
        problem = ProblemError.at(kind, "request", str(exc.detail))
    problem.headers.update(headers)
    return problem


def internal_error() -> Response:
    return ProblemError(
        ProblemType.INTERNAL_ERROR,
        "an unexpected error occurred; it has been logged",
        [FieldError("request", "the server failed to handle this request")],
    ).response()
