"""Compile clauses (attribute, operator, values, negate) into predicates over a context's kinds.

Specialised closures for the common shapes keep the hot path to a couple of dict lookups and one
operator call; nothing here allocates per evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vexil.engine._attributes import Getter, compile_getter, plain_name
from vexil.engine._operators import Op, compile_matcher

Kinds = Mapping[str, Mapping[str, Any]]
# (kinds, tables, segment stack) -> matched; `tables` is the snapshot (see _compile.Tables).
ClauseFn = Callable[[Kinds, Any, tuple[str, ...]], bool]


def _never(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
    return False


def compile_clauses(clauses: list[Any]) -> ClauseFn:
    """All clauses must match (an empty list matches everything, as in LaunchDarkly)."""
    return all_of([compile_clause(c) for c in clauses])


def all_of(clauses: Sequence[ClauseFn]) -> ClauseFn:
    fns = tuple(clauses)
    if len(fns) == 1:
        return fns[0]
    if not fns:
        return lambda kinds, tables, stack: True

    def every(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
        return all(fn(kinds, tables, stack) for fn in fns)

    return every


def compile_clause(clause: object) -> ClauseFn:
    if not isinstance(clause, Mapping):
        return _never
    values = clause.get("values")
    values = values if isinstance(values, list) else []
    negate = clause.get("negate") is True
    try:
        op = Op(str(clause.get("op")))
    except ValueError:
        return _never  # an unknown operator never matches (LaunchDarkly semantics)
    if op is Op.SEGMENT_MATCH:
        return _segment_clause(tuple(v for v in values if isinstance(v, str)), negate)
    matcher = compile_matcher(op, values)
    attribute = clause.get("attribute")
    if attribute == "kind":
        return _kind_clause(matcher, negate)
    kind = clause.get("context_kind", "user")
    kind = kind if isinstance(kind, str) else "user"
    name = plain_name(attribute)
    if name is not None:
        return _named_clause(kind, name, matcher, negate)
    return _getter_clause(kind, compile_getter(attribute), matcher, negate)


def _named_clause(kind: str, name: str, m: Callable[[object], bool], negate: bool) -> ClauseFn:
    if not negate:

        def clause(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
            attrs = kinds.get(kind)
            if attrs is None:
                return False
            v = attrs.get(name)
            if v is None:
                return False
            if v.__class__ is list:
                return any(m(x) for x in v)
            return m(v)

        return clause

    def negated(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
        attrs = kinds.get(kind)
        if attrs is None:
            return False
        v = attrs.get(name)
        if v is None:
            return False
        if v.__class__ is list:
            return not any(m(x) for x in v)
        return not m(v)

    return negated


def _getter_clause(kind: str, get: Getter, m: Callable[[object], bool], negate: bool) -> ClauseFn:
    def clause(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
        attrs = kinds.get(kind)
        if attrs is None:
            return False
        v = get(attrs)
        if v is None:
            return False
        hit = any(m(x) for x in v) if v.__class__ is list else m(v)
        return hit != negate

    return clause


def _kind_clause(m: Callable[[object], bool], negate: bool) -> ClauseFn:
    def clause(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
        return any(m(k) for k in kinds) != negate

    return clause


def _segment_clause(keys: tuple[str, ...], negate: bool) -> ClauseFn:
    def clause(kinds: Kinds, tables: Any, stack: tuple[str, ...]) -> bool:
        segments = tables.segment_table
        for key in keys:
            segment = segments.get(key)
            if segment is not None and segment.contains(kinds, tables, stack):
                return not negate
        return negate

    return clause
