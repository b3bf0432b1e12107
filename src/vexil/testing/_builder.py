"""`FlagBuilder`: write flags for tests fluently instead of as nested dicts.

Builds flag-format documents only; it neither evaluates nor stores them (see `InMemorySource`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any


def _same(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1 (Python's `==` says it is)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


class FlagBuilder:
    """A flag under construction. New builders are boolean flags, on, serving True to everyone.

    >>> FlagBuilder("new-checkout").target(True, "u1").rule(False, "country", "in", ["NZ"]).serve(False)
    """

    def __init__(self, key: str, *, variations: Sequence[Any] = (True, False)) -> None:
        self.key = key
        self._variations: list[Any] = list(variations)
        self._on = True
        self._off: int | None = len(self._variations) - 1 if len(self._variations) > 1 else 0
        self._fallthrough: dict[str, Any] = {"variation": 0}
        self._targets: list[dict[str, Any]] = []
        self._rules: list[dict[str, Any]] = []
        self._extra: dict[str, Any] = {}

    def copy(self) -> FlagBuilder:
        return copy.deepcopy(self)

    def _index(self, value: Any) -> int:
        for index, existing in enumerate(self._variations):
            if _same(existing, value):
                return index
        self._variations.append(value)
        return len(self._variations) - 1

    def variations(self, *values: Any) -> FlagBuilder:
        """Replace the variations; serving falls back to the first, the off value to the last."""
        if not values:
            raise ValueError("a flag needs at least one variation")
        self._variations = list(values)
        self._off = len(values) - 1
        self._fallthrough = {"variation": 0}
        self._targets, self._rules = [], []
        return self

    def on(self, on: bool = True) -> FlagBuilder:
        self._on = on
        return self

    def off(self) -> FlagBuilder:
        return self.on(False)

    def serve(self, value: Any) -> FlagBuilder:
        """The value everyone gets who matches no target or rule (the fallthrough)."""
        self._fallthrough = {"variation": self._index(value)}
        return self

    def off_value(self, value: Any) -> FlagBuilder:
        self._off = self._index(value)
        return self

    def value(self, value: Any) -> FlagBuilder:
        """Serve `value` to everyone: on, no targets, no rules."""
        self._targets, self._rules = [], []
        return self.on().serve(value)

    def target(self, value: Any, *keys: str, context_kind: str = "user") -> FlagBuilder:
        """Serve `value` to these context keys."""
        self._targets.append(
            {"variation": self._index(value), "values": list(keys), "context_kind": context_kind}
        )
        return self

    def rule(
        self,
        value: Any,
        attribute: str,
        op: str,
        values: Sequence[Any],
        *,
        negate: bool = False,
        context_kind: str = "user",
        rule_id: str | None = None,
    ) -> FlagBuilder:
        """Serve `value` when one clause matches (for several clauses use `rule_clauses`)."""
        clause = {"attribute": attribute, "op": op, "values": list(values), "negate": negate}
        clause["context_kind"] = context_kind
        return self.rule_clauses(value, [clause], rule_id=rule_id)

    def rule_clauses(
        self, value: Any, clauses: Sequence[Mapping[str, Any]], *, rule_id: str | None = None
    ) -> FlagBuilder:
        rule: dict[str, Any] = {
            "clauses": [dict(c) for c in clauses],
            "serve": {"variation": self._index(value)},
        }
        if rule_id is not None:
            rule["id"] = rule_id
        self._rules.append(rule)
        return self

    def rollout(self, percentages: Mapping[Any, float], *, bucket_by: str | None = None) -> FlagBuilder:
        """Fallthrough to a percentage rollout, `{value: percent}` summing to 100."""
        weights = [(self._index(v), round(p * 1000)) for v, p in percentages.items()]
        if sum(w for _, w in weights) != 100_000:
            raise ValueError("rollout percentages must add up to 100")
        rollout: dict[str, Any] = {"variations": [{"variation": i, "weight": w} for i, w in weights]}
        if bucket_by is not None:
            rollout["bucket_by"] = bucket_by
        self._fallthrough = {"rollout": rollout}
        return self

    def set(self, field: str, value: Any) -> FlagBuilder:
        """Any other flag-format field (`prerequisites`, `client_side`, `salt`, ...)."""
        self._extra[field] = value
        return self

    def build(self) -> dict[str, Any]:
        """The flag document (`InMemorySource.update` validates it, with the segments it refers to)."""
        flag: dict[str, Any] = {
            "key": self.key,
            "variations": copy.deepcopy(self._variations),
            "on": self._on,
            "off_variation": self._off,
            "fallthrough": copy.deepcopy(self._fallthrough),
            **copy.deepcopy(self._extra),
        }
        if self._targets:
            flag["targets"] = copy.deepcopy(self._targets)
        if self._rules:
            flag["rules"] = copy.deepcopy(self._rules)
        return flag
