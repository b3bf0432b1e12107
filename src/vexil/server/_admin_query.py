"""Strict query-string parsing for the admin routes: known names only, no repeats, typed values.

Each bad parameter is a 400 problem naming it; nothing here knows what the values are used for.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta, timezone

from starlette.requests import Request

from ._problems import ProblemError, ProblemType

KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _bad(name: str, message: str) -> ProblemError:
    return ProblemError.at(ProblemType.MALFORMED_REQUEST, name, message)


class Query:
    """The request's query parameters, restricted to `allowed` names, each given at most once."""

    def __init__(self, request: Request, allowed: Collection[str]) -> None:
        params = request.query_params
        for name in params:
            if name not in allowed:
                raise _bad(name, f"unknown query parameter (known: {', '.join(sorted(allowed))})")
            if len(params.getlist(name)) > 1:
                raise _bad(name, "must be given at most once")
        self._params = params

    def text(self, name: str, max_length: int = 1000) -> str | None:
        value = self._params.get(name)
        if value is not None and len(value) > max_length:
            raise _bad(name, f"must be at most {max_length} characters")
        return value

    def key(self, name: str) -> str | None:
        value = self._params.get(name)
        if value is not None and not KEY_RE.fullmatch(value):
            raise _bad(name, f"must be a key matching ^{KEY_RE.pattern}$")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._params.get(name)
        if value is None:
            return default
        if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
            raise _bad(name, f"must be an integer from {low} to {high}")
        return int(value)

    def day(self, name: str) -> date | None:
        value = self._params.get(name)
        if value is None:
            return None
        match = _DAY.fullmatch(value)
        try:
            if match is None:
                raise ValueError(value)
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise _bad(name, "must be a date such as 2024-05-31") from None

    def time(self, name: str) -> datetime | None:
        """An RFC 3339 date-time with an offset, as UTC (clamped to what a datetime can hold)."""
        value = self._params.get(name)
        if value is None:
            return None
        match = _RFC3339.fullmatch(value)
        try:
            if match is None:
                raise ValueError(value)
            return _utc(match)
        except ValueError:
            raise _bad(
                name, "must be an RFC 3339 date-time with an offset, such as 2024-05-31T12:00:00Z"
            ) from None


def _utc(match: re.Match[str]) -> datetime:
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    fraction = int((match[7] or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if match[9] is not None:
        hours, minutes = int(match[10]), int(match[11])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if match[9] == "-" else 1)
    # RFC 3339 allows a leap second (:60); a datetime cannot hold it, so it becomes the last microsecond.
    leap = second == 60
    moment = datetime(
        year,
        month,
        day,
        hour,
        minute,
        59 if leap else second,
        999_999 if leap else fraction,
        tzinfo=timezone(offset),
    )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if moment.year == 1 else _LATEST
