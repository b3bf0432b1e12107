"""Clause operators: value matching, semver and date parsing, regex safety, value validation.

Semver and date cases are also checked against LaunchDarkly's harness tables in ../shared/conformance.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from vexil.engine._operators import (
    MAX_SUBJECT_LENGTH,
    Op,
    compile_matcher,
    parse_date,
    parse_semver,
    regex_problem,
    value_problem,
)

HARNESS = (
    Path(__file__).resolve().parents[1].parent
    / "shared/conformance/launchdarkly-sdk-test-harness/data/data-files/server-side-eval"
)


def matches(op: Op, values: list[Any], value: object) -> bool:
    return compile_matcher(op, values)(value)


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    ONE = 1


def test_operator_names_are_the_contract_names() -> None:
    expected = ["in", "starts_with", "ends_with", "contains", "matches", "lt", "lte", "gt", "gte"]
    expected += ["before", "after", "semver_eq", "semver_lt", "semver_gt", "segment_match"]
    assert sorted(Op) == sorted(expected)


def test_operators_may_be_given_as_plain_strings() -> None:
    assert compile_matcher("starts_with", ["ab"])("abc")  # type: ignore[arg-type]
    assert not compile_matcher("starts_with", ["ab"])("cab")  # type: ignore[arg-type]
    assert value_problem("lt", "x") is not None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="equals"):
        compile_matcher("equals", [1])  # type: ignore[arg-type]


def test_segment_match_has_no_value_matcher() -> None:
    with pytest.raises(ValueError, match="segment_match"):
        compile_matcher(Op.SEGMENT_MATCH, ["beta"])


# -- in ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "value", "expected"),
    [
        (["a"], "a", True),
        (["a"], "b", False),
        (["a", "b"], "b", True),
        (["a", "b"], "c", False),
        (["a"], "A", False),
        (["1"], 1, False),
        ([1], "1", False),
        ([1], 1, True),
        ([1], 1.0, True),
        ([1.0], 1, True),
        ([1.5, 2.5], 2.5, True),
        ([1, 2], 3, False),
        ([True], True, True),
        ([False], False, True),
        ([True], False, False),
        ([True, False], False, True),
        ([True, False], 0, False),
        ([1], True, False),
        ([1.0], True, False),
        ([0], False, False),
        ([0.0], False, False),
        ([True], 1, False),
        ([False], 0, False),
        ([True], 1.0, False),
        ([0, 1], True, False),
        ([False, True], 1, False),
        (["a", 1, True], True, True),
        (["a", 1, True], 1, True),
        (["a", 1, True], "a", True),
        (["a", 1], True, False),
        (["a", True], 1, False),
        ([None], None, True),
        (["a", None], None, True),
        ([{"a": [1, True]}], {"a": [1.0, True]}, True),
        ([{"a": [1, True]}], {"a": [True, 1]}, False),
        ([{"a": 1}], {"a": True}, False),
        ([[1, "x"]], [1, "x"], True),
        ([[1, "x"]], [1, "x", 2], False),
        ([[True]], [1], False),
        ([{"a": 1}, "b"], "b", True),
        ([], "a", False),
        ([object()], "a", False),
        (["red"], Color.RED, True),
        ([Color.RED], "red", True),
        ([1], Level.ONE, True),
        ([True], Level.ONE, False),
        (["a", 1], Color.RED, False),
        (["a"], ("a",), False),
        ([["a"]], ("a",), True),
    ],
)
def test_in_is_json_equality(values: list[Any], value: object, expected: bool) -> None:
    assert matches(Op.IN, values, value) is expected


def test_in_ignores_non_json_and_non_finite_clause_values() -> None:
    m = compile_matcher(Op.IN, [float("nan"), float("inf"), {1, 2}, "x"])
    assert m("x")
    assert not m(float("nan"))
    assert not m(float("inf"))


@given(st.sets(st.text(max_size=5)), st.one_of(st.text(max_size=5), st.integers(), st.booleans()))
def test_in_with_strings_is_set_membership(values: set[str], value: object) -> None:
    assert matches(Op.IN, sorted(values), value) == (isinstance(value, str) and value in values)


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([0.0, 1.0, 1.5, -2.0]), st.text(max_size=2)
)


def _tagged(v: object) -> tuple[str, object]:
    """An independent reference for JSON equality: compare (JSON type, value) pairs."""
    if isinstance(v, bool):
        return ("bool", v)
    if isinstance(v, int | float):
        return ("number", float(v))
    return (type(v).__name__, v)


@given(st.lists(_json_scalars, max_size=6), _json_scalars)
def test_in_with_mixed_scalars_matches_a_typed_reference(values: list[object], value: object) -> None:
    expected = _tagged(value) in {_tagged(v) for v in values}
    assert matches(Op.IN, values, value) is expected


# -- string operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "values", "value", "expected"),
    [
        (Op.STARTS_WITH, ["prefix"], "prefix", True),
        (Op.STARTS_WITH, ["prefix"], "prefixabc", True),
        (Op.STARTS_WITH, ["prefix"], "notprefix", False),
        (Op.STARTS_WITH, ["prefix"], "Prefixabc", False),
        (Op.STARTS_WITH, ["x", "pre"], "prefix", True),
        (Op.STARTS_WITH, [""], "anything", True),
        (Op.ENDS_WITH, ["suffix"], "abcsuffix", True),
        (Op.ENDS_WITH, ["suffix"], "suffixno", False),
        (Op.ENDS_WITH, ["suffix"], "abcSuffix", False),
        (Op.ENDS_WITH, ["x", "fix"], "suffix", True),
        (Op.CONTAINS, ["substring"], "abcsubstringxyz", True),
        (Op.CONTAINS, ["substring"], "abcsubstxyz", False),
        (Op.CONTAINS, ["substring"], "abcSubstringxyz", False),
        (Op.CONTAINS, ["nope", "str"], "abcsubstringxyz", True),
        (Op.CONTAINS, ["nope", "zzz"], "abcsubstringxyz", False),
        (Op.MATCHES, ["^[A-Za-z]+"], "matchThisName", True),
        (Op.MATCHES, ["^[A-Za-z]+"], "_Don't match This Name", False),
        (Op.MATCHES, ["b+"], "abbbc", True),
        (Op.MATCHES, ["x", "c$"], "abc", True),
        (Op.MATCHES, ["x", "y"], "abc", False),
        (Op.MATCHES, ["["], "[", False),
        (Op.CONTAINS, ["red"], Color.RED, True),
    ],
)
def test_string_operators(op: Op, values: list[Any], value: object, expected: bool) -> None:
    assert matches(op, values, value) is expected


@pytest.mark.parametrize("op", [Op.STARTS_WITH, Op.ENDS_WITH, Op.CONTAINS, Op.MATCHES])
@pytest.mark.parametrize(
    ("clause", "value"), [("true", True), ("99", 99), ("1.5", 1.5), ("{}", {}), ("x", ["x"]), ("x", None)]
)
def test_string_operators_need_strings_on_both_sides(op: Op, clause: str, value: object) -> None:
    assert not matches(op, [clause], value)
    assert not matches(op, [value], clause)


def test_matches_is_a_search_not_a_full_match() -> None:
    assert matches(Op.MATCHES, ["b"], "abc")
    assert not matches(Op.MATCHES, ["^b$"], "abc")


def test_matches_ignores_subjects_longer_than_the_limit() -> None:
    m = compile_matcher(Op.MATCHES, ["a$"])
    assert m("a" * MAX_SUBJECT_LENGTH)
    assert not m("a" * (MAX_SUBJECT_LENGTH + 1))


# -- regex safety -----------------------------------------------------------------------------------

UNSAFE = [
    "(a+)+$",
    "(a*)*b",
    "(x+x+)+y",
    "(a|a)*$",
    r"^(\w+\s?)*$",
    "(a?){30}a{30}",
    "(?=(a+)+b)",
    r"\w+\w+$",
    ".*a.*b",
    r"\d+\d+\d+x",
    r"(\w)\1",
    r"(?P<x>a)(?(x)b|c)",
    r"\d+?(?=.*a)",
    "(?=a)+a",
]
SAFE = [
    "^[A-Za-z]+",
    r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
    r".*@example\.com$",
    ".*foo.*",
    r"^user-\d+$",
    r"Chrome/\d+",
    r"(\d+\.)+x",
    "(foo|far)+",
    "(a|ab)*c",
    r"^\d{1,3}(?:\.\d{1,3}){3}$",
    r"^\w+\w+$",
]


@pytest.mark.parametrize("pattern", UNSAFE)
def test_unsafe_patterns_are_rejected_and_never_match(pattern: str) -> None:
    assert regex_problem(pattern) is not None
    assert value_problem(Op.MATCHES, pattern) is not None
    m = compile_matcher(Op.MATCHES, [pattern])
    for subject in ("a" * 30, "a" * 30 + "b", "x" * 30 + "y", "aa", "abab"):
        assert not m(subject)


def test_rejected_patterns_would_have_matched() -> None:
    # the matcher refuses these patterns; it is not just that the subjects fail to match
    assert re.search("(a+)+$", "aaa")
    assert re.search("(a*)*b", "aab")
    assert re.search("(x+x+)+y", "xxy")


@pytest.mark.parametrize("pattern", SAFE)
def test_common_patterns_are_accepted(pattern: str) -> None:
    assert regex_problem(pattern) is None
    assert value_problem(Op.MATCHES, pattern) is None


def test_invalid_and_overlong_patterns_are_rejected() -> None:
    assert "invalid regex" in (regex_problem("[") or "")
    assert "longer than 1000" in (regex_problem("a" * 1001) or "")
    assert regex_problem("a" * 1000) is None
    assert "backreference" in (regex_problem(r"(a)\1") or "")


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        (r"^\w+\w+$", "a" * (MAX_SUBJECT_LENGTH - 1) + "!", False),
        (r"(\d+\.)+x", "1." * (MAX_SUBJECT_LENGTH // 2), False),
        (r".*@example\.com$", "@" * MAX_SUBJECT_LENGTH, False),
        (
            r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
            "a@" + "a." * (MAX_SUBJECT_LENGTH // 2 - 2) + "!",
            False,
        ),
        (".*foo.*", "fo" * (MAX_SUBJECT_LENGTH // 2 - 2) + "foo", True),
    ],
)
def test_accepted_patterns_finish_on_adversarial_subjects(pattern: str, subject: str, expected: bool) -> None:
    assert len(subject) <= MAX_SUBJECT_LENGTH
    assert regex_problem(pattern) is None
    # No timing assertion: the point is that this returns (pytest-timeout guards the suite).
    assert compile_matcher(Op.MATCHES, [pattern])(subject) is expected


# -- numbers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        (Op.LT, 99, True),
        (Op.LT, 100, False),
        (Op.LT, 100.1, False),
        (Op.LTE, 100, True),
        (Op.LTE, 100.0, True),
        (Op.LTE, 100.1, False),
        (Op.GT, 100, False),
        (Op.GT, 100.1, True),
        (Op.GTE, 100, True),
        (Op.GTE, 99.9, False),
        (Op.LT, "99", False),
        (Op.GTE, "100", False),
        (Op.LT, True, False),
        (Op.GT, True, False),
        (Op.LT, False, False),
        (Op.LT, None, False),
        (Op.LT, float("nan"), False),
        (Op.GT, float("nan"), False),
        (Op.LT, Level.ONE, True),
    ],
)
def test_numeric_operators(op: Op, value: object, expected: bool) -> None:
    assert matches(op, [100], value) is expected


def test_numeric_operators_match_any_clause_value() -> None:
    assert matches(Op.LT, [1, 10], 5)
    assert matches(Op.GT, [10, 1], 5)
    assert not matches(Op.LT, [1, 2], 5)
    assert not matches(Op.GT, [10, 20], 5)


def test_numeric_operators_ignore_non_numbers_in_the_clause() -> None:
    assert not matches(Op.GT, [True], 5)
    assert not matches(Op.GT, ["1"], 5)
    assert not matches(Op.GTE, [float("nan")], 5)
    assert matches(Op.GTE, [float("nan"), "x", 3], 5)


# -- dates ------------------------------------------------------------------------------------------

EPOCH_2017 = 1512543600000


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("2017-12-06T07:00:00Z", EPOCH_2017),
        ("2017-12-06T07:00:00.000Z", EPOCH_2017),
        ("2017-12-06T00:00:00.000-07:00", EPOCH_2017),
        ("2017-12-06T12:30:00+05:30", EPOCH_2017),
        ("2017-12-06t07:00:00z", EPOCH_2017),
        ("2017-12-06T07:00:00.5Z", EPOCH_2017 + 500),
        ("2017-12-06T07:00:00.123456789Z", EPOCH_2017 + 123.456789),
        ("2017-12-06T06:59:60Z", EPOCH_2017),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59Z", -1000),
        ("2016-02-29T00:00:00Z", 1456704000000),
        ("2000-02-29T00:00:00Z", 951782400000),
        (EPOCH_2017, EPOCH_2017),
        (1.5, 1.5),
        (-1, -1),
    ],
)
def test_parse_date(text: object, millis: float) -> None:
    assert parse_date(text) == pytest.approx(millis, abs=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        "2017-12-06X00:00:00.000-07:00",
        "2017-12-06",
        "00:00:00.000-07.00",
        "badstring",
        "",
        "1512543600000",
        "2017-12-06T07:00:00",
        "2017-12-06 07:00:00Z",
        "2017-13-06T07:00:00Z",
        "2017-02-29T07:00:00Z",
        "1900-02-29T07:00:00Z",
        "2017-12-32T07:00:00Z",
        "2017-12-06T24:00:00Z",
        "2017-12-06T07:60:00Z",
        "2017-12-06T07:00:61Z",
        "2017-12-06T07:00:00.1234567890Z",
        "2017-12-06T7:00:00Z",
        "2017-12-06T07:00:00+24:00",
        "2017-12-06T07:00:00.Z",
        "2017-12-06T07:00:00+0700",
        " 2017-12-06T07:00:00Z",
        "2017-12-06T07:00:00Z\n",
        "\u0662017-12-06T07:00:00Z",
        True,
        False,
        None,
        {},
        [EPOCH_2017],
        float("nan"),
        float("inf"),
        10**400,
    ],
)
def test_unparseable_dates(text: object) -> None:
    assert parse_date(text) is None


@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.integers(-23 * 60 - 59, 23 * 60 + 59),
)
def test_parse_date_agrees_with_the_stdlib(moment: dt.datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=dt.timezone(dt.timedelta(minutes=offset_minutes)))
    text = aware.isoformat(timespec="microseconds")
    expected = (aware - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(milliseconds=1)
    # a float holds epoch milliseconds of year 9999 to about 0.03 ms
    assert parse_date(text) == pytest.approx(expected, abs=0.1)
    assert parse_date(text.replace("+00:00", "Z")) == parse_date(text)


def test_before_and_after() -> None:
    later = "2017-12-06T07:01:01Z"
    assert matches(Op.BEFORE, [later], EPOCH_2017)
    assert matches(Op.BEFORE, [later], "2017-12-06T00:00:00.000-07:00")
    assert not matches(Op.AFTER, [later], EPOCH_2017)
    assert matches(Op.AFTER, [EPOCH_2017], later)
    assert not matches(Op.BEFORE, [EPOCH_2017], EPOCH_2017)
    assert not matches(Op.AFTER, [EPOCH_2017], "2017-12-06T07:00:00Z")
    assert matches(Op.BEFORE, ["bad", later], EPOCH_2017)
    assert not matches(Op.BEFORE, ["bad", True, None], EPOCH_2017)
    assert not matches(Op.BEFORE, [later], True)
    assert not matches(Op.BEFORE, [later], str(EPOCH_2017))
    assert not matches(Op.AFTER, [0], {})


# -- semver -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("2.0.0", (2, 0, 0, 1, ())),
        ("2.1", (2, 1, 0, 1, ())),
        ("2", (2, 0, 0, 1, ())),
        ("2-rc", (2, 0, 0, 0, ((1, 0, "rc"),))),
        ("2.0-rc.1", (2, 0, 0, 0, ((1, 0, "rc"), (0, 1, "1")))),
        ("1.2.3+build.007", (1, 2, 3, 1, ())),
        ("1.2.3-0.x-y.0a.10+b", (1, 2, 3, 0, ((0, 1, "0"), (1, 0, "x-y"), (1, 0, "0a"), (0, 2, "10")))),
        ("1.2.3----", (1, 2, 3, 0, ((1, 0, "---"),))),
        ("9223372036854775807.0.0", (2**63 - 1, 0, 0, 1, ())),
        ("0.0.0", (0, 0, 0, 1, ())),
    ],
)
def test_parse_semver(text: str, parsed: tuple[object, ...]) -> None:
    assert parse_semver(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "02.0.0",
        "2.03.4",
        "2.3.04",
        "v2.0.0",
        "2.0.0.0",
        "",
        "2.",
        "2..4",
        ".3.4",
        "2.3.4-",
        "2.3.4-a..b",
        "2.3.4+",
        "2.3.4+a..b",
        "2.3.4-beta1.02",
        "2.3.4-beta1!",
        "2.3.4+build!",
        "2.3.4 ",
        "2.3.4\n",
        "2x.3.4",
        "\u0662.3.4",
        "2.3.4-b\u00e9ta",
        "1" * 20 + ".0.0",
        "1." + "1" * 5000,
    ],
)
def test_unparseable_semvers(text: str) -> None:
    assert parse_semver(text) is None


SPEC_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1-0",
    "1.0.1",
    "1.1",
    "2",
    "10.0.0",
]


def test_semver_precedence_follows_the_spec_example() -> None:
    parsed = [parse_semver(s) for s in SPEC_ORDER]
    assert all(p is not None for p in parsed)
    for (i, a), (j, b) in itertools.combinations(enumerate(SPEC_ORDER), 2):
        assert matches(Op.SEMVER_LT, [b], a), (a, b)
        assert matches(Op.SEMVER_GT, [a], b), (a, b)
        assert not matches(Op.SEMVER_EQ, [b], a), (a, b)
        assert i < j


def test_semver_operators() -> None:
    assert matches(Op.SEMVER_EQ, ["2.0.0+build"], "2")
    assert matches(Op.SEMVER_EQ, ["1.0.0", "2.0"], "2.0.0")
    assert matches(Op.SEMVER_LT, ["bad", "3.0.0"], "2.0.0")
    assert not matches(Op.SEMVER_LT, ["bad"], "2.0.0")
    assert not matches(Op.SEMVER_EQ, ["2.0.0"], 2)
    assert not matches(Op.SEMVER_EQ, [2], "2")
    assert not matches(Op.SEMVER_GT, ["1.0.0"], True)
    assert not matches(Op.SEMVER_GT, ["1.0.0"], None)
    assert matches(Op.SEMVER_GT, ["1.0.0"], Color.RED) is False


_identifier = st.one_of(st.integers(0, 30), st.text("abz-", min_size=1, max_size=3))
_version = st.tuples(
    st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.lists(_identifier, max_size=3)
)


def _render(v: tuple[int, int, int, list[int | str]]) -> str:
    major, minor, patch, pre = v
    return f"{major}.{minor}.{patch}" + ("-" + ".".join(map(str, pre)) if pre else "")


def _spec_compare(a: tuple[int, int, int, list[int | str]], b: tuple[int, int, int, list[int | str]]) -> int:
    """Semver 2.0 section 11, written independently of the engine's tuple encoding."""
    if a[:3] != b[:3]:
        return -1 if a[:3] < b[:3] else 1
    pa, pb = a[3], b[3]
    if not pa or not pb:
        return (not pa) - (not pb)
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return -1 if x < y else 1
        if isinstance(x, int) or isinstance(y, int):
            return -1 if isinstance(x, int) else 1
        return -1 if str(x) < str(y) else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


@given(_version, _version)
def test_semver_order_agrees_with_the_spec(
    a: tuple[int, int, int, list[int | str]], b: tuple[int, int, int, list[int | str]]
) -> None:
    pa, pb = parse_semver(_render(a)), parse_semver(_render(b))
    assert pa is not None
    assert pb is not None
    expected = _spec_compare(a, b)
    assert ((pa > pb) - (pa < pb)) == expected
    assert matches(Op.SEMVER_LT, [_render(b)], _render(a)) is (expected < 0)
    assert matches(Op.SEMVER_EQ, [_render(b)], _render(a)) is (expected == 0)


# -- LaunchDarkly's harness tables ------------------------------------------------------------------


@functools.cache
def _harness_parameters(name: str) -> list[dict[str, Any]]:
    """The parameter rows of one harness file (a list of rows, or a list of lists to permute)."""
    data = yaml.safe_load((HARNESS / name).read_text(encoding="utf-8"))
    params = data["parameters"]
    if params and isinstance(params[0], list):
        return [functools.reduce(lambda a, b: {**a, **b}, combo, {}) for combo in itertools.product(*params)]
    return list(params)


_HARNESS_OPS = {
    "semVerEqual": Op.SEMVER_EQ,
    "semVerLessThan": Op.SEMVER_LT,
    "semVerGreaterThan": Op.SEMVER_GT,
}


def test_harness_semver_tables() -> None:
    checked = 0
    for row in _harness_parameters("operators-semver-equal.yml"):
        assert matches(Op.SEMVER_EQ, [row["VALUE2"]], row["VALUE1"]), row
        assert matches(Op.SEMVER_EQ, [row["VALUE1"]], row["VALUE2"]), row
        checked += 1
    for row in _harness_parameters("operators-semver-unequal.yml"):
        low, high = row["LOWER_VALUE"], row["HIGHER_VALUE"]
        assert matches(Op.SEMVER_LT, [high], low) and matches(Op.SEMVER_GT, [low], high), row
        assert not matches(Op.SEMVER_LT, [low], high) and not matches(Op.SEMVER_GT, [high], low), row
        assert not matches(Op.SEMVER_EQ, [high], low) and not matches(Op.SEMVER_EQ, [low], high), row
        checked += 1
    for row in _harness_parameters("operators-semver-bad-syntax.yml"):
        assert not matches(Op.SEMVER_EQ, [row["VALUE2"]], row["VALUE1"]), row
        assert not matches(Op.SEMVER_EQ, [row["VALUE1"]], row["VALUE2"]), row
        checked += 1
    for row in _harness_parameters("operators-semver-bad-type.yml"):
        op = _HARNESS_OPS[row["OPERATOR"]]
        assert not matches(op, [row["OK_VALUE"]], row["BAD_VALUE"]), row
        assert not matches(op, [row["BAD_VALUE"]], row["OK_VALUE"]), row
        assert value_problem(op, row["BAD_VALUE"]) is not None
        checked += 1
    assert checked == 8 + 12 + 3 + 36


def test_harness_date_tables() -> None:
    checked = 0
    for row in _harness_parameters("operators-date-equal.yml"):
        op = Op(row["OPERATOR"])
        assert not matches(op, [row["VALUE2"]], row["VALUE1"]), row
        checked += 1
    for row in _harness_parameters("operators-date-unequal.yml"):
        low, high = row["LOWER_VALUE"], row["HIGHER_VALUE"]
        assert matches(Op.AFTER, [low], high) and matches(Op.BEFORE, [high], low), row
        assert not matches(Op.AFTER, [high], low) and not matches(Op.BEFORE, [low], high), row
        checked += 1
    for name in ("operators-date-bad-syntax.yml", "operators-date-bad-type.yml"):
        for row in _harness_parameters(name):
            op = Op(row["OPERATOR"])
            assert not matches(op, [row["OK_VALUE"]], row["BAD_VALUE"]), row
            assert not matches(op, [row["BAD_VALUE"]], row["OK_VALUE"]), row
            assert value_problem(op, row["BAD_VALUE"]) is not None
            checked += 1
    assert checked == 32 + 16 + 36 + 18


# -- validation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "value", "fragment"),
    [
        (Op.MATCHES, 5, "needs a string"),
        (Op.MATCHES, "(a+)+$", "unsafe regex"),
        (Op.MATCHES, "(", "invalid regex"),
        (Op.STARTS_WITH, None, "needs a string"),
        (Op.CONTAINS, True, "needs a string"),
        (Op.LT, "5", "needs a number"),
        (Op.GTE, True, "needs a number"),
        (Op.GT, float("nan"), "finite"),
        (Op.BEFORE, "2017-12-06", "RFC 3339"),
        (Op.AFTER, True, "RFC 3339"),
        (Op.SEMVER_EQ, "v1.0.0", "semantic version"),
        (Op.SEMVER_LT, 1, "semantic version"),
        (Op.IN, object(), "not a JSON value"),
        (Op.IN, [1, {2}], "not a JSON value"),
    ],
)
def test_value_problems(op: Op, value: object, fragment: str) -> None:
    problem = value_problem(op, value)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("op", "value"),
    [
        (Op.IN, "a"),
        (Op.IN, 1.5),
        (Op.IN, None),
        (Op.IN, {"a": [1, None]}),
        (Op.MATCHES, "^a"),
        (Op.ENDS_WITH, ""),
        (Op.LTE, 3),
        (Op.LT, -2.5),
        (Op.BEFORE, 0),
        (Op.AFTER, "2017-12-06T07:00:00Z"),
        (Op.SEMVER_GT, "1.2.3-rc.1+b"),
        (Op.SEGMENT_MATCH, "beta-users"),
    ],
)
def test_usable_values_have_no_problem(op: Op, value: object) -> None:
    assert value_problem(op, value) is None
