"""LaunchDarkly clauses -> vexil clauses: operator names, attribute references and clause values.

Part of the LaunchDarkly importer (see launchdarkly.py for the whole mapping); pure conversion, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from vexil.engine import validate_document

# (path, message): how conversion reports what it could not carry over as is.
Warn = Callable[[str, str], None]

OPERATORS: Mapping[str, str] = {
    "in": "in",
    "endsWith": "ends_with",
    "startsWith": "starts_with",
    "matches": "matches",
    "contains": "contains",
    "lessThan": "lt",
    "lessThanOrEqual": "lte",
    "greaterThan": "gt",
    "greaterThanOrEqual": "gte",
    "before": "before",
    "after": "after",
    "segmentMatch": "segment_match",
    "semVerEqual": "semver_eq",
    "semVerLessThan": "semver_lt",
    "semVerGreaterThan": "semver_gt",
}

_CLAUSE_FIELDS = frozenset({"attribute", "op", "values", "negate", "contextKind"})


def attribute_ref(attribute: object, context_kind: object) -> object:
    """LaunchDarkly reads `attribute` as a literal name unless the clause names a context kind."""
    if isinstance(attribute, str) and not context_kind and attribute.startswith("/"):
        return "/" + attribute.replace("~", "~0").replace("/", "~1")
    return attribute


_NEVER_MATCHES = "LaunchDarkly never matches it either"
_PROBE_VALUES = "flags.probe.rules[0].clauses[0].values["


def _unusable_values(op: str, values: list[Any]) -> dict[int, str]:
    """Which scalar values vexil's validator rejects for `op`, by index, with its message."""
    clause = {"attribute": "a", "op": op, "values": values}
    rule = {"clauses": [clause], "serve": {"variation": 0}}
    probe = {"flags": {"probe": {"variations": [0], "fallthrough": {"variation": 0}, "rules": [rule]}}}
    out = {}
    for problem in validate_document(probe):
        index = problem.path.removeprefix(_PROBE_VALUES).removesuffix("]")
        if problem.path.startswith(_PROBE_VALUES) and index.isdigit():
            out[int(index)] = problem.message
    return out


def convert_clause(warn: Warn, c: object, path: str) -> object:
    if not isinstance(c, Mapping):
        warn(path, "not an object; kept as is (invalid)")
        return c
    for name in c:
        if name not in _CLAUSE_FIELDS:
            warn(f"{path}.{name}", "unknown LaunchDarkly field; dropped")
    op = c.get("op")
    values = c.get("values")
    values = values if isinstance(values, list) else []
    kind = c.get("contextKind")
    out: dict[str, Any] = {}
    if op == "segmentMatch":
        # LaunchDarkly ignores the attribute here and skips values that cannot name a segment.
        out["op"] = "segment_match"
        out["values"] = [v for v in values if isinstance(v, str)]
    else:
        attribute = attribute_ref(c.get("attribute"), kind)
        if attribute is not None:
            out["attribute"] = attribute
        if not attribute:
            warn(f"{path}.attribute", "missing: MALFORMED_FLAG when reached, as in LaunchDarkly")
        if kind:
            out["context_kind"] = kind
        mapped = OPERATORS.get(op) if isinstance(op, str) else None
        if mapped is None:
            warn(
                f"{path}.op",
                f"unknown operator {op!r}: LaunchDarkly never matches it, so it becomes an "
                '"in" clause with no values (negate kept), which behaves the same',
            )
            out["op"], out["values"] = "in", []
        else:
            out["op"], out["values"] = mapped, _values(warn, mapped, values, path)
    if c.get("negate") is True:
        out["negate"] = True
    return out


def _values(warn: Warn, op: str, values: list[Any], path: str) -> list[Any]:
    """Drop the values vexil rejects for `op`: LaunchDarkly ignores them (they never match), except
    that it compares objects and arrays with `in`, and its regex engine is not Python's."""
    kept: list[tuple[int, Any]] = []
    for i, v in enumerate(values):
        if v is None or isinstance(v, str | int | float | bool):
            kept.append((i, v))
        elif op == "in":
            warn(
                f"{path}.values[{i}]",
                f"{json.dumps(v)} dropped: vexil clause values are scalars, and LaunchDarkly "
                "would match an attribute equal to it",
            )
        else:
            warn(f"{path}.values[{i}]", f"{json.dumps(v)} dropped: {_NEVER_MATCHES}")
    if op == "in":
        return [v for _, v in kept]
    unusable = _unusable_values(op, [v for _, v in kept])
    out = []
    for k, (i, v) in enumerate(kept):
        problem = unusable.get(k)
        if problem is None:
            out.append(v)
        elif op == "matches" and isinstance(v, str):
            warn(
                f"{path}.values[{i}]",
                f"{json.dumps(v)} dropped: {problem}; LaunchDarkly's regex engine may accept it, "
                "so results can differ",
            )
        else:
            warn(f"{path}.values[{i}]", f"{json.dumps(v)} dropped: {problem}; {_NEVER_MATCHES}")
    return out
