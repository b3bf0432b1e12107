"""The OFREP vocabulary: resolution reasons and error codes as typed enums, and the request-level error.

Names only (the values are the OFREP 0.3.0 spelling); mapping vexil results onto them is `_ofrep_results`.
"""

from __future__ import annotations

import enum


class OfrepReason(enum.StrEnum):
    """`evaluationSuccess.reason`: the spec's enum, nothing else (it has no DEFAULT and no ERROR)."""

    STATIC = "STATIC"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    UNKNOWN = "UNKNOWN"


class OfrepErrorCode(enum.StrEnum):
    """`errorCode` of failures. TYPE_MISMATCH is not here: the server does not know the type a caller
    asked for, so providers raise it themselves (the spec removed it from the wire for that reason)."""

    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    PARSE_ERROR = "PARSE_ERROR"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    GENERAL = "GENERAL"


class OfrepRequestError(Exception):
    """A request the server cannot evaluate at all (bad body or context): HTTP 400 with this code."""

    def __init__(self, code: OfrepErrorCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
