"""Typed errors raised by the use cases; the HTTP layer maps each `ErrorCode` to one status.

Errors carry data (current version, problems), never secrets, and know nothing about HTTP.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from vexil.engine import Problem


class ErrorCode(enum.StrEnum):
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    CONFLICT = "conflict"
    VALIDATION_FAILED = "validation_failed"
    FORBIDDEN = "forbidden"
    UNAUTHORIZED = "unauthorized"
    UNAVAILABLE = "unavailable"


class ServiceError(Exception):
    """Base of every error a use case raises on purpose."""

    code: ErrorCode = ErrorCode.NOT_FOUND

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):  # noqa: N818 -- the outcome names are the API
    code = ErrorCode.NOT_FOUND

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class AlreadyExists(ServiceError):  # noqa: N818 -- the outcome names are the API
    code = ErrorCode.ALREADY_EXISTS

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class Conflict(ServiceError):  # noqa: N818 -- the outcome names are the API
    """The caller's `expected_version` is stale; `current_version` is what is stored now."""

    code = ErrorCode.CONFLICT

    def __init__(self, kind: str, key: str, expected_version: int, current_version: int) -> None:
        super().__init__(
            f"{kind} {key!r} is at version {current_version}, not {expected_version}: re-read and retry"
        )
        self.kind = kind
        self.key = key
        self.expected_version = expected_version
        self.current_version = current_version


class ValidationFailed(ServiceError):  # noqa: N818 -- the outcome names are the API
    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"validation failed: {first}{more}")


class Forbidden(ServiceError):  # noqa: N818 -- the outcome names are the API
    code = ErrorCode.FORBIDDEN


class Unauthorized(ServiceError):  # noqa: N818 -- the outcome names are the API
    """No such key, or a revoked one; deliberately does not say which."""

    code = ErrorCode.UNAUTHORIZED

    def __init__(self, message: str = "invalid or revoked API key") -> None:
        super().__init__(message)


class Unavailable(ServiceError):  # noqa: N818 -- the outcome names are the API
    """The database cannot be reached right now (down, locked, out of connections): retry later.

    Raised by the stores in place of their drivers' connection errors; the message never carries them.
    """

    code = ErrorCode.UNAVAILABLE

    def __init__(self, message: str = "the database is unavailable; retry shortly") -> None:
        super().__init__(message)
