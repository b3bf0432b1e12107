"""The one error the wire format raises for malformed input, with a typed reason and a path.

Decoders raise only this (never KeyError, TypeError, ...) so that a peer's bad bytes cannot crash a caller.
"""

from __future__ import annotations

import enum


class ProtocolErrorKind(enum.StrEnum):
    """Why a payload was rejected; `UNKNOWN_KIND` lets a client skip items newer than itself."""

    INVALID_JSON = "invalid_json"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_KIND = "unknown_kind"
    TOO_LARGE = "too_large"
    CLOSED = "closed"


class ProtocolError(ValueError):
    """A malformed stream or message. `path` points into the JSON payload (`[3].count`, `document.flags`)."""

    def __init__(self, message: str, *, kind: ProtocolErrorKind, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.kind = kind
        self.path = path
