"""Operand parsing for clause operators: exact JSON values, semantic versions and dates.

Pure functions over plain values; no I/O, no clocks, and nothing here may raise on odd input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

# (major, minor, patch, 1 for a release or 0 for a prerelease, prerelease identifiers), ordered so
# that tuple order is semver 2.0 precedence (section 11). A numeric identifier is (0, length, digits):
# without leading zeros, numeric order is length-then-text order, and no int() is ever needed.
# An alphanumeric identifier is (1, 0, text), after every numeric one.
SemVer = tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]
# Version numbers are capped at 19 digits (LaunchDarkly's Go SDK keeps them in an int64).
_SEMVER = re.compile(
    r"(0|[1-9][0-9]{0,18})(?:\.(0|[1-9][0-9]{0,18})(?:\.(0|[1-9][0-9]{0,18}))?)?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
# As LaunchDarkly's Go SDK: "T" or "t", "Z" or "z", at most 9 fractional digits. Unlike it, the
# calendar day, a 2-digit hour and an offset of at most 23:59 are enforced, as RFC 3339 requires.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_semver(s: str) -> SemVer | None:
    """LaunchDarkly's semver: 2.0 syntax, minor and patch optional ("2" is 2.0.0), no "v" prefix.

    Build metadata is validated and then dropped, so versions differing only in it compare equal.
    """
    m = _SEMVER.fullmatch(s) if isinstance(s, str) else None
    if m is None:
        return None
    major, minor, patch, pre = m.groups()
    if pre is None:
        return (int(major), int(minor or 0), int(patch or 0), 1, ())
    ids: list[tuple[int, int, str]] = []
    for part in pre.split("."):
        if part.isdigit():
            if len(part) > 1 and part[0] == "0":
                return None  # numeric identifiers must not have leading zeros
            ids.append((0, len(part), part))
        else:
            ids.append((1, 0, part))
    return (int(major), int(minor or 0), int(patch or 0), 0, tuple(ids))


def parse_date(v: object) -> float | None:
    """Epoch milliseconds: a number (not a bool) as is, or an RFC 3339 timestamp with a timezone."""
    if v.__class__ is str:
        return parse_rfc3339(v)
    if v.__class__ is int or v.__class__ is float:
        return _millis_from_number(v)
    w = exact(v)
    return parse_date(w) if w is not v else None


def _millis_from_number(v: float) -> float | None:
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def parse_rfc3339(s: str) -> float | None:
    """Epoch milliseconds of an RFC 3339 date-time with a timezone, else None."""
    m = _RFC3339.fullmatch(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, sign, off_h, off_m = m.groups()
    y, mo, d, h, mi, sec = int(year), int(month), int(day), int(hour), int(minute), int(second)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12 or not 1 <= d <= _MONTH_DAYS[mo - 1] + (leap and mo == 2):
        return None
    if h > 23 or mi > 59 or sec > 60:  # a leap second counts as the next second, as in Go
        return None
    offset = 0
    if sign is not None:
        oh, om = int(off_h), int(off_m)
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * (60 if sign == "+" else -60)
    seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset
    millis = float(seconds * 1000)
    if frac:
        millis += int(frac.ljust(9, "0")) / 1_000_000
    return millis


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


NUMBER_TYPES = frozenset({int, float})
EXACT_TYPES = frozenset({str, int, float, bool, type(None), dict, list})
INVALID = object()


def exact(v: object) -> object:
    """Slow path: the value with an exact JSON type (a str subclass becomes a str, an IntEnum an int,
    a tuple a list); anything that is no JSON value comes back unchanged."""
    if v.__class__ in EXACT_TYPES:
        return v
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, int):  # bool cannot be subclassed, so this is never a bool
        return int.__int__(v)
    if isinstance(v, float):
        return float.__float__(v)
    if isinstance(v, Mapping):
        return dict(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def canonical(v: object) -> object:
    """A clause value as an exact JSON value (recursively), or INVALID."""
    v = exact(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else INVALID
    if isinstance(v, list):
        items = [canonical(x) for x in v]
        return INVALID if INVALID in items else items
    if isinstance(v, dict):
        obj = {k: canonical(x) for k, x in v.items()}
        ok = all(k.__class__ is str for k in obj) and INVALID not in obj.values()
        return obj if ok else INVALID
    return v if v.__class__ in EXACT_TYPES else INVALID


def json_equal(a: object, b: object) -> bool:
    """JSON equality of a canonical value `a` and any value `b` (a bool never equals a number)."""
    b = exact(b)
    ca, cb = a.__class__, b.__class__
    if ca in NUMBER_TYPES and cb in NUMBER_TYPES:
        return a == b
    if ca is not cb:
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(x, b[k]) for k, x in a.items())
    return a == b
