"""Compile flag and segment documents into closures that evaluate a context with no parsing left.

Tolerant by design: whatever the document holds, compiling never raises; a malformed part evaluates
to ERROR/MALFORMED_FLAG when (and only when) an evaluation reaches it, as LaunchDarkly's SDKs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from vexil.engine._attributes import Malformed, compile_getter, plain_name
from vexil.engine._bucketing import BUCKETS, NATIVE, bucketable, hasher, native_seed
from vexil.engine._codegen import FlagFn, Plan, RolloutPlan, RulePlan, ServePlan, generate
from vexil.engine._compile_clause import ClauseFn, Kinds, all_of, compile_clause, compile_clauses
from vexil.engine._result import ErrorKind, Reason, ReasonKind, Result, error_result

MALFORMED = error_result(ErrorKind.MALFORMED_FLAG)
_OFF = Reason(ReasonKind.OFF)
_FALLTHROUGH = Reason(ReasonKind.FALLTHROUGH)
_FALLTHROUGH_EXP = Reason(ReasonKind.FALLTHROUGH, in_experiment=True)
_TARGET = Reason(ReasonKind.TARGET_MATCH)


class Tables(Protocol):
    """What evaluation needs from a snapshot: the other flags (prerequisites) and the segments."""

    flag_table: Mapping[str, CompiledFlag]
    segment_table: Mapping[str, CompiledSegment]


class CompiledFlag:
    __slots__ = ("evaluate", "key", "on", "variations", "version")

    def __init__(self, key: str, on: bool, version: int, variations: list[Any], evaluate: FlagFn) -> None:
        self.key = key
        self.on = on
        self.version = version
        self.variations = variations
        self.evaluate = evaluate


class CompiledSegment:
    __slots__ = ("contains", "key", "version")

    def __init__(self, key: str, version: int, contains: ClauseFn) -> None:
        self.key = key
        self.version = version
        self.contains = contains


def _int(value: object) -> int | None:
    return value if value.__class__ is int else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object, default: str) -> str:
    return value if isinstance(value, str) else default


class _Variations:
    """Builds the shared Result objects of one flag."""

    def __init__(self, variations: list[Any]) -> None:
        self.values = variations

    def result(self, index: object, reason: Reason) -> Result:
        i = _int(index)
        if i is None or not 0 <= i < len(self.values):
            return MALFORMED
        return Result(self.values[i], i, reason)


def compile_flag(key: str, doc: object, *, generate_code: bool = True) -> CompiledFlag:
    """Compile one flag; `generate_code=False` keeps the closure path only (tests compare the two)."""
    if not isinstance(doc, Mapping):
        return CompiledFlag(key, False, 0, [], lambda kinds, tables, stack: MALFORMED)
    variations = _Variations(_list(doc.get("variations")))
    on = doc.get("on") is True
    version = _int(doc.get("version")) or 0
    salt = _str(doc.get("salt"), key)
    off_index = doc.get("off_variation")
    off = Result(None, None, _OFF) if off_index is None else variations.result(off_index, _OFF)
    if not on:
        return CompiledFlag(key, on, version, variations.values, lambda kinds, tables, stack: off)

    fallthrough = _compile_serve(
        doc.get("fallthrough"), variations, key, salt, _FALLTHROUGH, _FALLTHROUGH_EXP
    )
    targets = _compile_targets(_list(doc.get("targets")), variations)
    rule_plans = _compile_rules(_list(doc.get("rules")), variations, key, salt)
    rules = [(all_of([fn for _, fn in r.clauses]), r.serve.fn) for r in rule_plans]
    prereqs = _compile_prerequisites(_list(doc.get("prerequisites")), variations, off_index)
    serve_fallthrough = fallthrough.fn

    def evaluate(kinds: Kinds, tables: Tables, stack: tuple[str, ...]) -> Result:
        if prereqs:
            inner = (*stack, key)
            for prereq_key, required, failed in prereqs:
                prereq = tables.flag_table.get(prereq_key)
                if prereq is None:
                    return failed
                if prereq_key in inner:
                    raise Malformed(f"prerequisite cycle through {prereq_key!r}")
                got = prereq.evaluate(kinds, tables, inner)
                if not prereq.on or got.variation != required:
                    return failed
        for kind, keys, result in targets:
            attrs = kinds.get(kind)
            if attrs is not None and attrs["key"] in keys:
                return result
        for match, serve in rules:
            if match(kinds, tables, ()):
                return serve(kinds)
        return serve_fallthrough(kinds)

    if prereqs or not generate_code:
        return CompiledFlag(key, on, version, variations.values, evaluate)
    # The generated function is the hot path; `evaluate` stays as its exact fallback.
    fast = generate(key, Plan(targets, rule_plans, fallthrough), evaluate)
    return CompiledFlag(key, on, version, variations.values, fast)


def _compile_prerequisites(
    prereqs: list[Any], variations: _Variations, off_index: object
) -> list[tuple[str, int | None, Result]]:
    out: list[tuple[str, int | None, Result]] = []
    for p in prereqs:
        p_key = p.get("flag") if isinstance(p, Mapping) else None
        if not isinstance(p_key, str):
            out.append(("", None, MALFORMED))  # an unnamed prerequisite can never be satisfied
            continue
        reason = Reason(ReasonKind.PREREQUISITE_FAILED, prerequisite_key=p_key)
        failed = Result(None, None, reason) if off_index is None else variations.result(off_index, reason)
        out.append((p_key, _int(p.get("variation")), failed))
    return out


def _compile_targets(targets: list[Any], variations: _Variations) -> list[tuple[str, frozenset[str], Result]]:
    out = []
    for t in targets:
        if not isinstance(t, Mapping):
            continue
        keys = frozenset(v for v in _list(t.get("values")) if isinstance(v, str))
        kind = _str(t.get("context_kind"), "user")
        out.append((kind, keys, variations.result(t.get("variation"), _TARGET)))
    return out


def _compile_rules(rules: list[Any], variations: _Variations, key: str, salt: str) -> list[RulePlan]:
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        rule_id = rule.get("id") if isinstance(rule.get("id"), str) else None
        reason = Reason(ReasonKind.RULE_MATCH, rule_index=i, rule_id=rule_id)
        reason_exp = Reason(ReasonKind.RULE_MATCH, rule_index=i, rule_id=rule_id, in_experiment=True)
        serve = _compile_serve(rule.get("serve"), variations, key, salt, reason, reason_exp)
        clauses = tuple((c, compile_clause(c)) for c in _list(rule.get("clauses")))
        out.append(RulePlan(clauses, serve))
    return out


def _compile_serve(
    serve: object, variations: _Variations, key: str, salt: str, reason: Reason, reason_exp: Reason
) -> ServePlan:
    if isinstance(serve, Mapping):
        rollout = serve.get("rollout")
        if isinstance(rollout, Mapping) and "variation" not in serve:
            return _compile_rollout(rollout, variations, key, salt, reason, reason_exp)
        if "variation" in serve and rollout is None:
            result = variations.result(serve["variation"], reason)
            return ServePlan(lambda kinds: result)
    return ServePlan(lambda kinds: MALFORMED)


def _compile_rollout(
    rollout: Mapping[str, Any],
    variations: _Variations,
    key: str,
    salt: str,
    reason: Reason,
    reason_exp: Reason,
) -> ServePlan:
    entries = [e for e in _list(rollout.get("variations")) if isinstance(e, Mapping)]
    experiment = rollout.get("kind") == "experiment"
    try:
        bucket_of = hasher(_str(rollout.get("algorithm"), NATIVE), key, salt, _int(rollout.get("seed")))
    except KeyError:
        entries = []
    if not entries:
        return ServePlan(lambda kinds: MALFORMED)
    # Experiments always bucket by key, so that analysis units are contexts, not attribute values.
    by = "key" if experiment else rollout.get("bucket_by", "key")
    kind = _str(rollout.get("context_kind"), "user")
    name = plain_name(by)
    get = compile_getter(by)

    table: list[tuple[int, Result, Result]] = []
    cumulative = 0
    for e in entries:
        cumulative += _int(e.get("weight")) or 0
        tracked = experiment and e.get("untracked") is not True
        plain = variations.result(e.get("variation"), reason)
        table.append(
            (cumulative, variations.result(e.get("variation"), reason_exp) if tracked else plain, plain)
        )
    table[-1] = (BUCKETS + 1, table[-1][1], table[-1][2])  # a bucket past the end lands in the last entry
    algorithm = _str(rollout.get("algorithm"), NATIVE)
    plan = None
    if algorithm == NATIVE and not experiment and name is not None:
        seed = native_seed(salt, _int(rollout.get("seed")))
        plan = RolloutPlan(kind, name, seed, tuple((limit, result) for limit, result, _ in table))

    def pick(b: int, attrs_found: bool) -> Result:
        for limit, tracked_result, plain_result in table:
            if b < limit:
                return tracked_result if attrs_found else plain_result
        raise AssertionError("unreachable: the last limit exceeds every bucket")

    if len(table) == 2 and name is not None:
        limit0, r0, p0 = table[0]
        _, r1, p1 = table[1]

        def serve2(kinds: Kinds) -> Result:
            attrs = kinds.get(kind)
            if attrs is None:
                return p0 if limit0 > 0 else p1
            v = attrs.get(name)
            if v.__class__ is not str:
                v = bucketable(v)
                if v is None:
                    return r0 if limit0 > 0 else r1
            return r0 if bucket_of(v) < limit0 else r1

        return ServePlan(serve2, plan)

    def serve(kinds: Kinds) -> Result:
        attrs = kinds.get(kind)
        if attrs is None:
            return pick(0, False)
        value = bucketable(get(attrs))
        return pick(0 if value is None else bucket_of(value), True)

    return ServePlan(serve, plan)


def compile_segment(key: str, doc: object) -> CompiledSegment:
    if not isinstance(doc, Mapping):

        def broken(kinds: Kinds, tables: Tables, stack: tuple[str, ...]) -> bool:
            raise Malformed(f"segment {key!r} is malformed")

        return CompiledSegment(key, 0, broken)
    version = _int(doc.get("version")) or 0
    salt = _str(doc.get("salt"), key)
    included = frozenset(v for v in _list(doc.get("included")) if isinstance(v, str))
    excluded = frozenset(v for v in _list(doc.get("excluded")) if isinstance(v, str))
    included_ctx = _kind_targets(doc.get("included_contexts"))
    excluded_ctx = _kind_targets(doc.get("excluded_contexts"))
    rules = [_compile_segment_rule(r, key, salt) for r in _list(doc.get("rules")) if isinstance(r, Mapping)]

    def contains(kinds: Kinds, tables: Tables, stack: tuple[str, ...]) -> bool:
        if key in stack:
            raise Malformed(f"segment cycle through {key!r}")
        user = kinds.get("user")
        if user is not None and user["key"] in included:
            return True
        for kind, keys in included_ctx:
            attrs = kinds.get(kind)
            if attrs is not None and attrs["key"] in keys:
                return True
        if user is not None and user["key"] in excluded:
            return False
        for kind, keys in excluded_ctx:
            attrs = kinds.get(kind)
            if attrs is not None and attrs["key"] in keys:
                return False
        if rules:
            inner = (*stack, key)
            for rule in rules:
                if rule(kinds, tables, inner):
                    return True
        return False

    return CompiledSegment(key, version, contains)


def _kind_targets(value: object) -> list[tuple[str, frozenset[str]]]:
    out = []
    for t in _list(value):
        if isinstance(t, Mapping):
            keys = frozenset(v for v in _list(t.get("values")) if isinstance(v, str))
            out.append((_str(t.get("context_kind"), "user"), keys))
    return out


def _compile_segment_rule(rule: Mapping[str, Any], segment_key: str, salt: str) -> ClauseFn:
    match = compile_clauses(_list(rule.get("clauses")))
    weight = _int(rule.get("weight"))
    if rule.get("weight") is None:
        return match
    if weight is None:
        return lambda kinds, tables, stack: False
    try:
        bucket_of = hasher(_str(rule.get("algorithm"), NATIVE), segment_key, salt, None)
    except KeyError:
        return lambda kinds, tables, stack: False
    kind = _str(rule.get("rollout_context_kind"), "user")
    get = compile_getter(rule.get("bucket_by", "key"))

    def weighted(kinds: Kinds, tables: Tables, stack: tuple[str, ...]) -> bool:
        if not match(kinds, tables, stack):
            return False
        attrs = kinds.get(kind)
        value = None if attrs is None else bucketable(get(attrs))
        return (0 if value is None else bucket_of(value)) < weight

    return weighted
