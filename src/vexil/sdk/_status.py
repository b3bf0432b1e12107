"""The SDK's small public value types: evaluation details, value types, data-source states and client status.

Plain immutable values only; nothing here does I/O or knows how the data arrives.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from vexil.engine import ErrorKind, Reason, ReasonKind


class ValueType(enum.StrEnum):
    """What a typed accessor accepts: `bool`, `str`, a number (int or float, never bool) or any JSON value."""

    BOOL = "bool"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


#: The exact classes each value type accepts (exact, so that bool never passes as a number).
VALUE_CLASSES: dict[ValueType, frozenset[type]] = {
    ValueType.BOOL: frozenset({bool}),
    ValueType.STRING: frozenset({str}),
    ValueType.NUMBER: frozenset({int, float}),
    ValueType.JSON: frozenset({bool, str, int, float, list, dict}),
}


class Detail(NamedTuple):
    """One evaluation as the caller sees it: unpacks as `value, variation, reason`."""

    value: Any
    variation: int | None
    reason: Reason

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "variation": self.variation, "reason": self.reason.to_dict()}


def error_reason(kind: ErrorKind) -> Reason:
    return Reason(ReasonKind.ERROR, error_kind=kind)


class State(enum.StrEnum):
    """Where a client's data stands."""

    INITIALIZING = "INITIALIZING"  # no data from the source yet
    VALID = "VALID"  # connected and current
    INTERRUPTED = "INTERRUPTED"  # a problem; retrying, serving the last data meanwhile
    OFF = "OFF"  # the source gave up for good (for example a rejected SDK key); serving the last data
    CLOSED = "CLOSED"  # close() was called


class SourceErrorKind(enum.StrEnum):
    UNAUTHORIZED = "UNAUTHORIZED"  # 401 or 403: the SDK key is wrong, revoked or of the wrong kind
    NETWORK = "NETWORK"  # connection refused, reset, timed out, stream ended
    HTTP = "HTTP"  # an unexpected HTTP status
    MALFORMED = "MALFORMED"  # the server (or a file) sent something that is not the protocol
    FILE = "FILE"  # a flag file is missing or unreadable


@dataclass(frozen=True, slots=True)
class SourceError:
    """The last problem a data source met; `status` is the HTTP status when there was one."""

    kind: SourceErrorKind
    message: str
    status: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """A snapshot of `client.status()`.

    `ready`: the client has flags to serve (live, cached or from a file). `stale`: they came from the
    `cache_path` file at start and nothing newer has arrived since. `version`: the snapshot version held.
    """

    state: State
    ready: bool
    stale: bool
    source: str
    version: int | None
    flags: int
    updated_at: datetime | None
    error: SourceError | None
    events_sent: int
    events_dropped: int
