"""Clause operators (LaunchDarkly semantics): compile clause values into fast one-value predicates.

All parsing happens at compile time; a predicate never raises and never allocates on its fast path.
Values that do not parse for their operator are ignored (they never match). No I/O, no clocks.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping, Sequence

from vexil.engine._regex_safety import MAX_SUBJECT_LENGTH, regex_problem
from vexil.engine._schema import describe_type

__all__ = [
    "MAX_SUBJECT_LENGTH",
    "Matcher",
    "Op",
    "SemVer",
    "compile_matcher",
    "parse_date",
    "parse_semver",
    "regex_problem",
    "value_problem",
]

Matcher = Callable[[object], bool]
# (major, minor, patch, 1 for a release or 0 for a prerelease, prerelease identifiers); identifiers
# are (0, number) or (1, text) so that tuple order is semver 2.0 precedence (section 11).
SemVer = tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]


class Op(enum.StrEnum):
    IN = "in"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    CONTAINS = "contains"
    MATCHES = "matches"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"
    BEFORE = "before"
    AFTER = "after"
    SEMVER_EQ = "semver_eq"
    SEMVER_LT = "semver_lt"
    SEMVER_GT = "semver_gt"
    SEGMENT_MATCH = "segment_match"


# -- parsing ----------------------------------------------------------------------------------------

_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?)?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_semver(s: str) -> SemVer | None:
    """LaunchDarkly's semver: 2.0 syntax, minor and patch optional ("2" is 2.0.0), no "v" prefix.

    Build metadata is validated and then dropped, so versions differing only in it compare equal.
    """
    m = _SEMVER.fullmatch(s) if s.__class__ is str else None
    if m is None:
        return None
    major, minor, patch, pre = m.groups()
    if pre is None:
        return (int(major), int(minor or 0), int(patch or 0), 1, ())
    ids: list[tuple[int, int | str]] = []
    for part in pre.split("."):
        if part.isdigit():
            if len(part) > 1 and part[0] == "0":
                return None  # numeric identifiers must not have leading zeros
            ids.append((0, int(part)))
        else:
            ids.append((1, part))
    return (int(major), int(minor or 0), int(patch or 0), 0, tuple(ids))


def parse_date(v: object) -> float | None:
    """Epoch milliseconds: a number (not a bool) as is, or an RFC 3339 timestamp with a timezone."""
    cls = v.__class__
    if cls is int or cls is float:
        return _millis_from_number(v)  # type: ignore[arg-type]
    if cls is str:
        return _parse_rfc3339(v)  # type: ignore[arg-type]
    w = _exact(v)
    return parse_date(w) if w is not v else None


def _millis_from_number(v: float) -> float | None:
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _parse_rfc3339(s: str) -> float | None:
    m = _RFC3339.fullmatch(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, sign, off_h, off_m = m.groups()
    y, mo, d, h, mi, sec = int(year), int(month), int(day), int(hour), int(minute), int(second)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12 or not 1 <= d <= _MONTH_DAYS[mo - 1] + (leap and mo == 2):
        return None
    if h > 23 or mi > 59 or sec > 59:  # like Go and pyRFC3339, no leap second
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
        millis += int(frac[:9].ljust(9, "0")) / 1_000_000
    return millis


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


# -- JSON values ------------------------------------------------------------------------------------

_NUMBER_TYPES = frozenset({int, float})
_EXACT_TYPES = frozenset({str, int, float, bool, type(None), dict, list})
_INVALID = object()


def _exact(v: object) -> object:
    """Slow path: the value with an exact JSON type (a str subclass becomes a str, an IntEnum an int,
    a tuple a list); anything that is no JSON value comes back unchanged."""
    if v.__class__ in _EXACT_TYPES:
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


def _canon(v: object) -> object:
    """A clause value as an exact JSON value (recursively), or _INVALID."""
    v = _exact(v)
    cls = v.__class__
    if cls is float:
        return v if math.isfinite(v) else _INVALID  # type: ignore[arg-type]
    if cls is list:
        items = [_canon(x) for x in v]  # type: ignore[attr-defined]
        return _INVALID if _INVALID in items else items
    if cls is dict:
        obj = {k: _canon(x) for k, x in v.items()}  # type: ignore[attr-defined]
        ok = all(k.__class__ is str for k in obj) and _INVALID not in obj.values()
        return obj if ok else _INVALID
    return v if cls in _EXACT_TYPES else _INVALID


def _json_eq(a: object, b: object) -> bool:
    """JSON equality of a canonical value `a` and any value `b` (a bool never equals a number)."""
    b = _exact(b)
    ca, cb = a.__class__, b.__class__
    if ca in _NUMBER_TYPES and cb in _NUMBER_TYPES:
        return a == b
    if ca is not cb:
        return False
    if ca is list:
        return len(a) == len(b) and all(map(_json_eq, a, b))  # type: ignore[arg-type,call-overload]
    if ca is dict:
        return a.keys() == b.keys() and all(_json_eq(x, b[k]) for k, x in a.items())  # type: ignore[attr-defined,index]
    return a == b


def _retry(matcher: Matcher, v: object) -> bool:
    """Slow path for a value whose class is not an exact JSON type: retry once with the exact value."""
    w = _exact(v)
    return w is not v and matcher(w)


def _never(v: object) -> bool:
    return False


# -- compiling --------------------------------------------------------------------------------------


def compile_matcher(op: Op, values: Sequence[object]) -> Matcher:
    """A predicate over ONE attribute value (never a list: the caller iterates lists and applies
    negate) that is true when the value matches ANY of the clause values.

    `matches` ignores unsafe patterns (see regex_problem) and never matches a subject longer than
    MAX_SUBJECT_LENGTH characters, which bounds the cost of a regex search.
    """
    builder = _BUILDERS.get(op)
    if builder is None:
        raise ValueError(f"operator {op!r} has no value matcher")
    return builder(op, values)


def _compile_in(op: Op, values: Sequence[object]) -> Matcher:
    strs: set[str] = set()
    nums: set[float] = set()
    bools: set[bool] = set()
    others: list[object] = []  # null, arrays and objects: compared by JSON equality
    for raw in values:
        v = _canon(raw)
        cls = v.__class__
        if cls is str:
            strs.add(v)  # type: ignore[arg-type]
        elif cls is bool:
            bools.add(v)  # type: ignore[arg-type]
        elif cls in _NUMBER_TYPES:
            nums.add(v)  # type: ignore[arg-type]
        elif v is not _INVALID:
            others.append(v)
    if others or (strs and nums) or (bools and (strs or nums)):
        return _in_mixed(frozenset(strs), frozenset(nums), frozenset(bools), tuple(others))
    if strs:
        return _in_strings(frozenset(strs))
    if nums:
        return _in_numbers(frozenset(nums))
    if len(bools) == 2:
        return lambda v: v.__class__ is bool
    if bools:
        only = bools.pop()
        return lambda v: v is only
    return _never


def _in_strings(s: frozenset[str]) -> Matcher:
    if len(s) == 1:
        (x,) = s

        def one(v: object) -> bool:
            return v == x if v.__class__ is str else _retry(one, v)

        return one

    def many(v: object) -> bool:
        return v in s if v.__class__ is str else _retry(many, v)

    return many


def _in_numbers(s: frozenset[float]) -> Matcher:
    if len(s) == 1:
        (x,) = s

        def one(v: object) -> bool:
            c = v.__class__
            return v == x if c is int or c is float else _retry(one, v)

        return one

    def many(v: object) -> bool:
        c = v.__class__
        return v in s if c is int or c is float else _retry(many, v)

    return many


def _in_mixed(
    strs: frozenset[str], nums: frozenset[float], bools: frozenset[bool], others: tuple[object, ...]
) -> Matcher:
    # One set per exact class keeps True apart from 1 (they are equal and hash alike in Python).
    table: dict[type, frozenset[object]] = {str: strs, int: nums, float: nums, bool: bools}
    if None not in others:
        table[type(None)] = frozenset()
    get = table.get

    def mixed(v: object) -> bool:
        s = get(v.__class__)
        if s is not None:
            return v in s
        w = _exact(v)
        if w is not v:
            return mixed(w)
        for c in others:  # noqa: SIM110 -- a loop allocates no generator on the hot path
            if _json_eq(c, w):
                return True
        return False

    return mixed


def _compile_string(op: Op, values: Sequence[object]) -> Matcher:
    texts = tuple(dict.fromkeys(w for w in map(_exact, values) if w.__class__ is str))
    if not texts:
        return _never
    if op is Op.STARTS_WITH:

        def starts(v: object) -> bool:
            return v.startswith(texts) if v.__class__ is str else _retry(starts, v)

        return starts
    if op is Op.ENDS_WITH:

        def ends(v: object) -> bool:
            return v.endswith(texts) if v.__class__ is str else _retry(ends, v)

        return ends
    if len(texts) == 1:
        (x,) = texts

        def contains_one(v: object) -> bool:
            return x in v if v.__class__ is str else _retry(contains_one, v)

        return contains_one

    def contains(v: object) -> bool:
        if v.__class__ is not str:
            return _retry(contains, v)
        for t in texts:  # noqa: SIM110 -- a loop allocates no generator on the hot path
            if t in v:
                return True
        return False

    return contains


def _compile_matches(op: Op, values: Sequence[object]) -> Matcher:
    patterns = dict.fromkeys(w for w in map(_exact, values) if w.__class__ is str)
    searches = tuple(re.compile(p).search for p in patterns if regex_problem(p) is None)
    if not searches:
        return _never
    limit = MAX_SUBJECT_LENGTH
    if len(searches) == 1:
        (search,) = searches

        def one(v: object) -> bool:
            if v.__class__ is not str:
                return _retry(one, v)
            return len(v) <= limit and search(v) is not None

        return one

    def many(v: object) -> bool:
        if v.__class__ is not str:
            return _retry(many, v)
        if len(v) > limit:
            return False
        for search in searches:  # noqa: SIM110 -- a loop allocates no generator on the hot path
            if search(v) is not None:
                return True
        return False

    return many


def _numbers(values: Sequence[object]) -> list[float]:
    out: list[float] = []
    for raw in values:
        v = _exact(raw)
        if v.__class__ in _NUMBER_TYPES and not (v.__class__ is float and math.isnan(v)):
            out.append(v)  # type: ignore[arg-type]
    return out


def _compile_number(op: Op, values: Sequence[object]) -> Matcher:
    nums = _numbers(values)
    if not nums:
        return _never
    # "any clause value" collapses to one bound: v < any(x) <=> v < max(x), and so on.
    if op is Op.LT:
        hi = max(nums)

        def lt(v: object) -> bool:
            c = v.__class__
            return v < hi if c is int or c is float else _retry(lt, v)  # type: ignore[operator]

        return lt
    if op is Op.LTE:
        hi = max(nums)

        def lte(v: object) -> bool:
            c = v.__class__
            return v <= hi if c is int or c is float else _retry(lte, v)  # type: ignore[operator]

        return lte
    lo = min(nums)
    if op is Op.GT:

        def gt(v: object) -> bool:
            c = v.__class__
            return v > lo if c is int or c is float else _retry(gt, v)  # type: ignore[operator]

        return gt

    def gte(v: object) -> bool:
        c = v.__class__
        return v >= lo if c is int or c is float else _retry(gte, v)  # type: ignore[operator]

    return gte


def _compile_date(op: Op, values: Sequence[object]) -> Matcher:
    dates = [d for d in map(parse_date, values) if d is not None]
    if not dates:
        return _never
    if op is Op.BEFORE:
        hi = max(dates)

        def before(v: object) -> bool:
            c = v.__class__
            if c is int or c is float:
                return v < hi  # type: ignore[operator]
            t = parse_date(v)
            return t is not None and t < hi

        return before
    lo = min(dates)

    def after(v: object) -> bool:
        c = v.__class__
        if c is int or c is float:
            return v > lo  # type: ignore[operator]
        t = parse_date(v)
        return t is not None and t > lo

    return after


def _compile_semver(op: Op, values: Sequence[object]) -> Matcher:
    versions = [p for p in map(_semver_of, values) if p is not None]
    if not versions:
        return _never
    if op is Op.SEMVER_EQ:
        wanted = frozenset(versions)

        def eq(v: object) -> bool:
            p = _semver_of(v)
            return p is not None and p in wanted

        return eq
    if op is Op.SEMVER_LT:
        hi = max(versions)

        def lt(v: object) -> bool:
            p = _semver_of(v)
            return p is not None and p < hi

        return lt
    lo = min(versions)

    def gt(v: object) -> bool:
        p = _semver_of(v)
        return p is not None and p > lo

    return gt


def _semver_of(v: object) -> SemVer | None:
    if v.__class__ is not str:
        v = _exact(v)
    return parse_semver(v) if v.__class__ is str else None


_BUILDERS: dict[Op, Callable[[Op, Sequence[object]], Matcher]] = {
    Op.IN: _compile_in,
    Op.STARTS_WITH: _compile_string,
    Op.ENDS_WITH: _compile_string,
    Op.CONTAINS: _compile_string,
    Op.MATCHES: _compile_matches,
    Op.LT: _compile_number,
    Op.LTE: _compile_number,
    Op.GT: _compile_number,
    Op.GTE: _compile_number,
    Op.BEFORE: _compile_date,
    Op.AFTER: _compile_date,
    Op.SEMVER_EQ: _compile_semver,
    Op.SEMVER_LT: _compile_semver,
    Op.SEMVER_GT: _compile_semver,
}


# -- validation -------------------------------------------------------------------------------------


def value_problem(op: Op, value: object) -> str | None:
    """Why a clause value can never work with `op` (it would be silently ignored), else None.

    segment_match values are segment keys, which only the document validator can check.
    """
    if op is Op.SEGMENT_MATCH:
        return None
    v = _exact(value)
    cls = v.__class__
    if op is Op.IN:
        if _canon(v) is _INVALID:
            return f"{describe_type(value)} is not a JSON value"
        return None
    if op in _STRING_OPS:
        if cls is not str:
            return f"{op} needs a string, not {describe_type(value)}"
        return regex_problem(v) if op is Op.MATCHES else None  # type: ignore[arg-type]
    if op in _NUMBER_OPS:
        if cls not in _NUMBER_TYPES:
            return f"{op} needs a number, not {describe_type(value)}"
        return None if math.isfinite(v) else f"{op} needs a finite number"  # type: ignore[arg-type]
    if op in _DATE_OPS:
        if parse_date(v) is None:
            return f"{op} needs epoch milliseconds or an RFC 3339 timestamp with a timezone"
        return None
    if cls is not str or parse_semver(v) is None:  # type: ignore[arg-type]
        return f"{op} needs a semantic version string such as 2.1.0"
    return None


_STRING_OPS = frozenset({Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS, Op.MATCHES})
_NUMBER_OPS = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE})
_DATE_OPS = frozenset({Op.BEFORE, Op.AFTER})
