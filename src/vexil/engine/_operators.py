"""Clause operators (LaunchDarkly semantics): compile clause values into fast one-value predicates.

Clause values are parsed once, at compile time; a predicate never raises, and the common ones never
allocate. Values that do not parse for their operator are ignored (they never match). No I/O.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from vexil.engine._operands import (
    INVALID,
    SemVer,
    canonical,
    exact,
    json_equal,
    parse_date,
    parse_rfc3339,
    parse_semver,
)
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


def _retry(matcher: Matcher, v: object) -> bool:
    """Slow path for a value whose class is not an exact JSON type: retry once with the exact value."""
    w = exact(v)
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
    op = Op(op)  # a plain string would defeat the `is` tests in the builders
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
        v = canonical(raw)
        if isinstance(v, str):
            strs.add(v)
        elif isinstance(v, bool):
            bools.add(v)
        elif isinstance(v, int | float):
            nums.add(v)
        elif v is not INVALID:
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
        w = exact(v)
        if w is not v:
            return mixed(w)
        for c in others:  # noqa: SIM110 -- a loop allocates no generator on the hot path
            if json_equal(c, w):
                return True
        return False

    return mixed


def _compile_string(op: Op, values: Sequence[object]) -> Matcher:
    texts = tuple(dict.fromkeys(w for w in map(exact, values) if w.__class__ is str))
    if not texts:
        return _never
    # str.startswith takes a tuple of prefixes, but a single string is about twice as fast
    affix: str | tuple[str, ...] = texts[0] if len(texts) == 1 else texts
    if op is Op.STARTS_WITH:

        def starts(v: object) -> bool:
            return v.startswith(affix) if v.__class__ is str else _retry(starts, v)

        return starts
    if op is Op.ENDS_WITH:

        def ends(v: object) -> bool:
            return v.endswith(affix) if v.__class__ is str else _retry(ends, v)

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
    patterns = dict.fromkeys(w for w in map(exact, values) if w.__class__ is str)
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
        v = exact(raw)
        if isinstance(v, int | float) and not isinstance(v, bool) and not math.isnan(v):
            out.append(v)
    return out


def _compile_number(op: Op, values: Sequence[object]) -> Matcher:
    nums = _numbers(values)
    if not nums:
        return _never
    # "any clause value" collapses to one bound: v < any(x) <=> v < max(x), and so on.
    if op is Op.LT:
        hi = max(nums)

        def lt(v: object) -> bool:
            return v < hi if v.__class__ is int or v.__class__ is float else _retry(lt, v)

        return lt
    if op is Op.LTE:
        hi = max(nums)

        def lte(v: object) -> bool:
            return v <= hi if v.__class__ is int or v.__class__ is float else _retry(lte, v)

        return lte
    lo = min(nums)
    if op is Op.GT:

        def gt(v: object) -> bool:
            return v > lo if v.__class__ is int or v.__class__ is float else _retry(gt, v)

        return gt

    def gte(v: object) -> bool:
        return v >= lo if v.__class__ is int or v.__class__ is float else _retry(gte, v)

    return gte


def _compile_date(op: Op, values: Sequence[object]) -> Matcher:
    dates = [d for d in map(parse_date, values) if d is not None]
    if not dates:
        return _never
    date = _cached(parse_rfc3339)
    inf = math.inf  # numbers take the fast path; the bounds keep them consistent with parse_date
    if op is Op.BEFORE:
        hi = max(dates)

        def before(v: object) -> bool:
            if v.__class__ is int or v.__class__ is float:
                return -inf < v < hi
            t = date(v) if v.__class__ is str else parse_date(v)
            return t is not None and t < hi

        return before
    lo = min(dates)

    def after(v: object) -> bool:
        if v.__class__ is int or v.__class__ is float:
            return lo < v < inf
        t = date(v) if v.__class__ is str else parse_date(v)
        return t is not None and t > lo

    return after


def _compile_semver(op: Op, values: Sequence[object]) -> Matcher:
    versions = [p for p in map(_semver_of, values) if p is not None]
    if not versions:
        return _never
    parse = _cached(parse_semver)

    if op is Op.SEMVER_EQ:
        wanted = frozenset(versions)

        def eq(v: object) -> bool:
            p = parse(v) if v.__class__ is str else _semver_of(v)
            return p is not None and p in wanted

        return eq
    if op is Op.SEMVER_LT:
        hi = max(versions)

        def lt(v: object) -> bool:
            p = parse(v) if v.__class__ is str else _semver_of(v)
            return p is not None and p < hi

        return lt
    lo = min(versions)

    def gt(v: object) -> bool:
        p = parse(v) if v.__class__ is str else _semver_of(v)
        return p is not None and p > lo

    return gt


def _semver_of(v: object) -> SemVer | None:
    w = v if v.__class__ is str else exact(v)
    return parse_semver(w) if isinstance(w, str) else None


_T = TypeVar("_T")
# Attribute values such as app versions and dates repeat a lot across evaluations.
_CACHE_SIZE = 1024


def _cached(parse: Callable[[str], _T | None]) -> Callable[[str], _T | None]:
    """`parse` behind a small cache owned by one matcher (never shared between snapshots)."""
    cache: dict[str, _T | None] = {}

    def cached(s: str) -> _T | None:
        try:
            return cache[s]
        except KeyError:
            parsed = parse(s)
            if len(cache) >= _CACHE_SIZE:
                cache.clear()  # crude but bounded, and no bookkeeping on a hit
            cache[s] = parsed
            return parsed

    return cached


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
    op = Op(op)
    if op is Op.SEGMENT_MATCH:
        return None
    v = exact(value)
    if op is Op.IN:
        if canonical(v) is INVALID:
            return f"{describe_type(value)} is not a JSON value"
        return None
    if op in _STRING_OPS:
        if not isinstance(v, str):
            return f"{op} needs a string, not {describe_type(value)}"
        return regex_problem(v) if op is Op.MATCHES else None
    if op in _NUMBER_OPS:
        if not isinstance(v, int | float) or isinstance(v, bool):
            return f"{op} needs a number, not {describe_type(value)}"
        return None if math.isfinite(v) else f"{op} needs a finite number"
    if op in _DATE_OPS:
        if parse_date(v) is None:
            return f"{op} needs epoch milliseconds or an RFC 3339 timestamp with a timezone"
        return None
    if not isinstance(v, str) or parse_semver(v) is None:
        return f"{op} needs a semantic version string such as 2.1.0"
    return None


_STRING_OPS = frozenset({Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS, Op.MATCHES})
_NUMBER_OPS = frozenset({Op.LT, Op.LTE, Op.GT, Op.GTE})
_DATE_OPS = frozenset({Op.BEFORE, Op.AFTER})
