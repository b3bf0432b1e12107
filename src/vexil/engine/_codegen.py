"""Generate one specialised Python function per flag for the common shapes of the hot path.

Only trusted shapes are inlined (string `in`/prefix/suffix/contains on plain attributes, fixed serves,
native murmur3 rollouts); every other part calls the closure the compiler already built. Values reach
the generated code only as bound constants, never as source text, so a document cannot inject code.
An unhashable attribute value (a list, an object) raises TypeError in an inlined set lookup; the
generated function then re-evaluates through the closure path, which handles every type exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import mmh3

from vexil.engine._attributes import plain_name
from vexil.engine._compile_clause import ClauseFn, Kinds
from vexil.engine._result import Result

# (kinds, tables, prerequisite stack) -> result; `tables` is the snapshot (see _compile.Tables).
FlagFn = Callable[[Kinds, Any, tuple[str, ...]], Result]
ServeFn = Callable[[Kinds], Result]


@dataclass(frozen=True)
class RolloutPlan:
    """A native-murmur3, non-experiment rollout on a plain attribute: inlinable."""

    kind: str
    attribute: str
    seed: int
    limits: tuple[tuple[int, Result], ...]  # (cumulative weight, result); the last limit exceeds all


@dataclass(frozen=True)
class ServePlan:
    fn: ServeFn
    rollout: RolloutPlan | None = None


@dataclass(frozen=True)
class RulePlan:
    clauses: tuple[tuple[object, ClauseFn], ...]  # (clause document, its closure)
    serve: ServePlan


@dataclass
class Plan:
    """What the compiler learned about a flag's on-path, in evaluation order."""

    targets: list[tuple[str, frozenset[str], Result]] = field(default_factory=list)
    rules: list[RulePlan] = field(default_factory=list)
    fallthrough: ServePlan | None = None


class _Source:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, object] = {"_E": {}, "_H": mmh3.hash}
        self.kinds: dict[str, str] = {}

    def const(self, value: object) -> str:
        name = f"_k{len(self.env)}"
        self.env[name] = value
        return name

    def kind_var(self, kind: str) -> str:
        if kind not in self.kinds:
            self.kinds[kind] = f"_a{len(self.kinds)}"
        return self.kinds[kind]

    def emit(self, line: str) -> None:
        self.lines.append(line)


def _inline_clause(src: _Source, clause: object, exact: ClauseFn) -> str | None:
    """A Python expression for a clause, or None when it must go through its closure."""
    if not isinstance(clause, Mapping) or clause.get("negate") is True:
        return None
    name = plain_name(clause.get("attribute"))
    kind = clause.get("context_kind", "user")
    values = clause.get("values")
    if name is None or name == "kind" or not isinstance(kind, str) or not isinstance(values, list):
        return None
    if not values or not all(v.__class__ is str for v in values):
        return None
    get = f"{src.kind_var(kind)}.get({src.const(name)})"
    op = clause.get("op")
    if op == "in":
        # Strings only: a number or bool never equals a string, None is simply absent.
        return f"{get} in {src.const(frozenset(values))}"
    # String operators inline strings only; lists and other types take the clause's exact closure.
    fallback = f"_v is not None and {src.const(exact)}(kinds, tables, ())"
    if op in ("starts_with", "ends_with"):
        method = "startswith" if op == "starts_with" else "endswith"
        return f"_v.{method}({src.const(tuple(values))}) if (_v := {get}).__class__ is str else {fallback}"
    if op == "contains" and len(values) == 1:
        return f"{src.const(values[0])} in _v if (_v := {get}).__class__ is str else {fallback}"
    return None


def _serve(src: _Source, serve: ServePlan, pad: str) -> None:
    fn = src.const(serve.fn)
    plan = serve.rollout
    if plan is None:
        src.emit(f"{pad}return {fn}(kinds)")
        return
    src.emit(f"{pad}_v = {src.kind_var(plan.kind)}.get({src.const(plan.attribute)})")
    # Missing kinds, integers and other types take the exact closure path.
    src.emit(f"{pad}if _v.__class__ is not str:")
    src.emit(f"{pad}    return {fn}(kinds)")
    src.emit(f"{pad}_b = _H(_v, {plan.seed}, signed=False) % 100000")
    for limit, result in plan.limits[:-1]:
        src.emit(f"{pad}if _b < {int(limit)}:")
        src.emit(f"{pad}    return {src.const(result)}")
    src.emit(f"{pad}return {src.const(plan.limits[-1][1])}")


def generate(key: str, plan: Plan, slow: FlagFn) -> FlagFn:
    """Build the fast function for an on flag without prerequisites; `slow` is the exact path."""
    src = _Source()
    for kind, keys, result in plan.targets:
        src.emit(f"    if {src.kind_var(kind)}.get('key') in {src.const(keys)}:")
        src.emit(f"        return {src.const(result)}")
    for rule in plan.rules:
        exprs = []
        for doc, fn in rule.clauses:
            inline = _inline_clause(src, doc, fn)
            exprs.append(inline if inline is not None else f"{src.const(fn)}(kinds, tables, ())")
        src.emit(f"    if {' and '.join(f'({e})' for e in exprs) if exprs else 'True'}:")
        _serve(src, rule.serve, "        ")
    if plan.fallthrough is None:
        return slow
    _serve(src, plan.fallthrough, "    ")
    head = [f"    {var} = kinds.get({src.const(kind)}, _E)" for kind, var in src.kinds.items()]
    source = "\n".join(
        [
            "def _flag(kinds, tables, stack):",
            "    try:",
            *("    " + line for line in head + src.lines),
            "    except TypeError:",
            f"        return {src.const(slow)}(kinds, tables, stack)",
        ]
    )
    namespace = dict(src.env)
    exec(compile(source, f"<vexil flag {key!r}>", "exec"), namespace)  # noqa: S102 -- constants only
    generated: FlagFn = namespace["_flag"]  # type: ignore[assignment]
    return generated
