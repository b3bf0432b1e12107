"""The events-ingestion body (`POST /events/v1/bulk`): evaluation summaries and custom events as JSON.

Values and their strict JSON codec only; aggregation and storage belong to the service.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vexil.protocol import _json
from vexil.protocol._errors import ProtocolError, ProtocolErrorKind

_MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_MAX_TIME_TEXT = 64


class EventKind(enum.StrEnum):
    SUMMARY = "summary"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class SummaryEvent:
    """`count` evaluations of `flag` that served `variation` (None: the caller's default) in a time window."""

    flag: str
    variation: int | None
    version: int | None
    count: int
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True, slots=True)
class CustomEvent:
    """A custom (metric) event; `value` is optional and summed by the server, `count` defaults to 1."""

    key: str
    time: datetime
    value: float | None = None
    count: int = 1


WireEvent = SummaryEvent | CustomEvent


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds: `2025-01-31T12:00:00.000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: Any, path: str) -> datetime:
    """An RFC 3339 string with an offset, or an integer of epoch milliseconds; always returned in UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= _MAX_EPOCH_MS:
            _json.fail(path, f"epoch milliseconds out of range: {value}")
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if not isinstance(value, str) or len(value) > _MAX_TIME_TEXT:
        _json.fail(path, "expected an RFC 3339 time or epoch milliseconds")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _json.fail(path, f"not an RFC 3339 time: {value!r}")
    if moment.tzinfo is None:
        _json.fail(path, f"a time needs an offset or Z: {value!r}")
    return moment.astimezone(UTC)


def _event_json(event: WireEvent) -> dict[str, Any]:
    if isinstance(event, SummaryEvent):
        return {
            "kind": EventKind.SUMMARY.value,
            "flag": event.flag,
            "variation": event.variation,
            "version": event.version,
            "count": event.count,
            "window_start": format_time(event.window_start),
            "window_end": format_time(event.window_end),
        }
    body: dict[str, Any] = {"kind": EventKind.CUSTOM.value, "key": event.key, "time": format_time(event.time)}
    if event.value is not None:
        body["value"] = event.value
    if event.count != 1:
        body["count"] = event.count
    return body


def encode_events(events: Iterable[WireEvent]) -> bytes:
    """A bulk body: a JSON array of event objects."""
    return _json.dumps([_event_json(event) for event in events])


def _summary(data: Mapping[str, Any], path: str) -> SummaryEvent:
    start = parse_time(_json.field(data, "window_start", path), f"{path}.window_start")
    end = parse_time(_json.field(data, "window_end", path), f"{path}.window_end")
    if end < start:
        _json.fail(f"{path}.window_end", "the window ends before it starts")
    return SummaryEvent(
        flag=_json.key(_json.field(data, "flag", path), f"{path}.flag"),
        variation=_json.optional_integer(data.get("variation"), f"{path}.variation"),
        version=_json.optional_integer(data.get("version"), f"{path}.version"),
        count=_json.integer(_json.field(data, "count", path), f"{path}.count", minimum=1),
        window_start=start,
        window_end=end,
    )


def _custom(data: Mapping[str, Any], path: str) -> CustomEvent:
    value = data.get("value")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        _json.fail(f"{path}.value", "expected a finite number")
    if isinstance(value, int) and abs(value) > _json.MAX_INT:
        _json.fail(f"{path}.value", "number out of range")
    return CustomEvent(
        key=_json.key(_json.field(data, "key", path), f"{path}.key"),
        time=parse_time(_json.field(data, "time", path), f"{path}.time"),
        value=None if value is None else float(value),
        count=_json.integer(data.get("count", 1), f"{path}.count", minimum=1),
    )


def decode_events(payload: bytes | str) -> list[WireEvent]:
    """Parse a bulk body. Unknown event kinds are skipped (newer SDKs); anything else malformed raises
    `ProtocolError` with the path of the first problem (`[3].count`). Unknown fields are ignored."""
    items = _json.loads(payload)
    if not isinstance(items, list):
        raise ProtocolError("expected a JSON array of events", kind=ProtocolErrorKind.INVALID_FIELD)
    out: list[WireEvent] = []
    for index, item in enumerate(items):
        path = f"[{index}]"
        data = _json.obj(item, path)
        kind = _json.field(data, "kind", path)
        if kind == EventKind.SUMMARY:
            out.append(_summary(data, path))
        elif kind == EventKind.CUSTOM:
            out.append(_custom(data, path))
        elif not isinstance(kind, str):
            _json.fail(f"{path}.kind", "expected a string")
    return out
