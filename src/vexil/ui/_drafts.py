"""Editor drafts shared by the targeting and segment editors: clauses, serves (rollouts) and form access.

Pure data and conversions (form fields <-> draft <-> engine format); the service validates every save.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from vexil.engine import Problem

from ._summaries import percent

TYPES: tuple[str, ...] = ("string", "number", "boolean", "date", "semver", "segment")
TYPE_LABELS = {
    "string": "text",
    "number": "number",
    "boolean": "true/false",
    "date": "date",
    "semver": "version",
    "segment": "segment",
}
#: The operators offered for each attribute type (the first is the default).
OPERATORS: dict[str, tuple[str, ...]] = {
    "string": ("in", "starts_with", "ends_with", "contains", "matches"),
    "number": ("in", "lt", "lte", "gt", "gte"),
    "boolean": ("in",),
    "date": ("before", "after"),
    "semver": ("semver_eq", "semver_lt", "semver_gt"),
    "segment": ("segment_match",),
}
_TYPE_OF_OP = {op: kind for kind, ops in OPERATORS.items() for op in ops if op != "in"}
FULL_WEIGHT = 100000
_INTEGER = re.compile(r"-?\d+")
#: Rollout fields the editor shows; the others (seed, kind, algorithm, untracked) ride along unchanged.
_SHOWN_ROLLOUT_FIELDS = {"variations", "bucket_by", "context_kind"}


class FormLike(Protocol):
    def get(self, key: str, default: str, /) -> str: ...

    def getlist(self, key: str) -> list[str]: ...


def count(form: FormLike, name: str, limit: int = 500) -> int:
    """A hidden item count; anything odd is 0 (the person then sees an empty list, not an error page)."""
    text = form.get(name, "0").strip()
    return min(int(text), limit) if text.isdigit() else 0


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]


def value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


@dataclass
class ClauseDraft:
    attribute: str = "key"
    type: str = "string"
    op: str = "in"
    #: One value per line (text, number, date and version types; "true"/"false" for booleans).
    values: str = ""
    segments: list[str] = field(default_factory=list)
    negate: bool = False
    context_kind: str = "user"

    def normalize(self) -> None:
        if self.type not in OPERATORS:
            self.type = "string"
        if self.op not in OPERATORS[self.type]:
            self.op = OPERATORS[self.type][0]

    @classmethod
    def from_body(cls, clause: Mapping[str, Any]) -> ClauseDraft:
        op = str(clause.get("op", "in"))
        values = list(clause.get("values") or [])
        kind = _TYPE_OF_OP.get(op)
        if kind is None:
            if values and all(isinstance(v, bool) for v in values):
                kind = "boolean"
            elif values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                kind = "number"
            else:
                kind = "string"
        draft = cls(
            attribute=str(clause.get("attribute", "")),
            type=kind,
            op=op,
            values="\n".join(value_text(v) for v in values) if kind != "segment" else "",
            segments=[str(v) for v in values] if kind == "segment" else [],
            negate=bool(clause.get("negate", False)),
            context_kind=str(clause.get("context_kind") or "user"),
        )
        draft.normalize()
        return draft

    @classmethod
    def from_form(cls, form: FormLike, prefix: str) -> ClauseDraft:
        draft = cls(
            attribute=form.get(f"{prefix}attribute", "").strip(),
            type=form.get(f"{prefix}type", "string"),
            op=form.get(f"{prefix}op", "in"),
            values=form.get(f"{prefix}values", ""),
            segments=[s for s in form.getlist(f"{prefix}segments") if s],
            negate=form.get(f"{prefix}negate", "") in {"on", "true", "1"},
            context_kind=form.get(f"{prefix}kind", "").strip() or "user",
        )
        draft.normalize()
        return draft

    def to_body(self, path: str, problems: list[Problem]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.type == "segment":
            if not self.segments:
                problems.append(Problem(f"{path}.values", "pick at least one segment"))
            if self.attribute:
                body["attribute"] = self.attribute
            body.update(op="segment_match", values=list(self.segments))
        else:
            if not self.attribute:
                problems.append(Problem(f"{path}.attribute", "name the attribute to compare"))
            values = [self._parse(text, f"{path}.values", problems) for text in lines(self.values)]
            if not values:
                problems.append(Problem(f"{path}.values", "enter at least one value (one per line)"))
            body.update(attribute=self.attribute, op=self.op, values=values)
        if self.negate:
            body["negate"] = True
        if self.context_kind and self.context_kind != "user":
            body["context_kind"] = self.context_kind
        return body

    def _parse(self, text: str, path: str, problems: list[Problem]) -> Any:
        if self.type == "number":
            number = _number(text)
            if number is None:
                problems.append(Problem(path, f"{text!r} is not a number"))
            return number
        if self.type == "boolean":
            if text.lower() not in {"true", "false"}:
                problems.append(Problem(path, f"{text!r} is not true or false"))
            return text.lower() == "true"
        if self.type == "date" and _INTEGER.fullmatch(text):
            return int(text)  # epoch milliseconds
        return text


def _number(text: str) -> int | float | None:
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_percent(text: str) -> int | None:
    """ "20" -> 20000, "33.333" -> 33333; None when it is not a percentage with at most 3 decimals."""
    try:
        value = Decimal(text.strip() or "0")
    except InvalidOperation:
        return None
    weight = value * 1000
    if not value.is_finite() or weight != weight.to_integral_value() or not 0 <= weight <= FULL_WEIGHT:
        return None
    return int(weight)


@dataclass
class ServeDraft:
    """What a rule or the default serves: one variation (`mode` is its index) or a percentage rollout."""

    mode: str = "0"
    #: One percentage per flag variation (shown, and kept while the mode is a single variation).
    percents: list[str] = field(default_factory=list)
    bucket_by: str = ""
    context_kind: str = ""
    #: JSON of the rollout fields the editor does not show, kept as they were.
    extra: str = ""

    @property
    def is_rollout(self) -> bool:
        return self.mode == "rollout"

    @classmethod
    def from_body(cls, serve: Any, variations: int) -> ServeDraft:
        serve = serve if isinstance(serve, Mapping) else {}
        rollout = serve.get("rollout")
        if isinstance(rollout, Mapping):
            weights = [0] * variations
            untracked = []
            for item in rollout.get("variations") or []:
                index = item.get("variation") if isinstance(item, Mapping) else None
                if isinstance(index, int) and 0 <= index < variations:
                    weights[index] += int(item.get("weight") or 0)
                    if item.get("untracked"):
                        untracked.append(index)
            extra = {k: v for k, v in rollout.items() if k not in _SHOWN_ROLLOUT_FIELDS}
            if untracked:
                extra["untracked"] = untracked
            return cls(
                mode="rollout",
                percents=[percent(w) for w in weights],
                bucket_by=str(rollout.get("bucket_by") or ""),
                context_kind=str(rollout.get("context_kind") or ""),
                extra=json.dumps(extra) if extra else "",
            )
        index = serve.get("variation", 0)
        index = index if isinstance(index, int) and not isinstance(index, bool) else 0
        return cls(mode=str(index), percents=["100" if k == index else "0" for k in range(variations)])

    @classmethod
    def from_form(cls, form: FormLike, prefix: str, variations: int) -> ServeDraft:
        return cls(
            mode=form.get(f"{prefix}serve", "0"),
            percents=[form.get(f"{prefix}pct{k}", "0") for k in range(variations)],
            bucket_by=form.get(f"{prefix}bucket_by", "").strip(),
            context_kind=form.get(f"{prefix}rollout_kind", "").strip(),
            extra=form.get(f"{prefix}extra", ""),
        )

    @property
    def total(self) -> str:
        weights = [parse_percent(p) for p in self.percents]
        return percent(sum(w for w in weights if w is not None))

    def to_body(self, path: str, problems: list[Problem]) -> dict[str, Any]:
        if not self.is_rollout:
            if not self.mode.isdigit():
                problems.append(Problem(path, "choose what to serve"))
                return {"variation": 0}
            return {"variation": int(self.mode)}
        extra = _json_object(self.extra)
        untracked = set(extra.pop("untracked", []) or [])
        items: list[dict[str, Any]] = []
        total = 0
        for index, text in enumerate(self.percents):
            weight = parse_percent(text)
            if weight is None:
                problems.append(Problem(f"{path}.rollout", f"{text!r} is not a percentage between 0 and 100"))
                continue
            total += weight
            if weight:
                item: dict[str, Any] = {"variation": index, "weight": weight}
                if index in untracked:
                    item["untracked"] = True
                items.append(item)
        if total != FULL_WEIGHT:
            problems.append(
                Problem(f"{path}.rollout", f"the percentages add up to {percent(total)}%, not 100%")
            )
        rollout: dict[str, Any] = {"variations": items}
        if self.bucket_by and self.bucket_by != "key":
            rollout["bucket_by"] = self.bucket_by
        if self.context_kind and self.context_kind != "user":
            rollout["context_kind"] = self.context_kind
        rollout.update(extra)
        return {"rollout": rollout}


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def move(items: list[Any], index: int, delta: int) -> None:
    """Swap item `index` with its neighbour; out-of-range moves do nothing."""
    other = index + delta
    if 0 <= index < len(items) and 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]


def remove(items: list[Any], index: int) -> None:
    if 0 <= index < len(items):
        del items[index]


def parse_op(op: str) -> tuple[str, list[int]]:
    """`remove-clause:1:0` -> ("remove-clause", [1, 0]); malformed indexes are dropped."""
    verb, *rest = op.split(":")
    return verb, [int(part) for part in rest if part.isdigit()]


def clause_ops(rules: Sequence[Any], verb: str, args: list[int]) -> bool:
    """Clause-level editor actions on rules that have a `.clauses` list; True when `verb` was one."""
    if verb == "add-clause" and args and 0 <= args[0] < len(rules):
        rules[args[0]].clauses.append(ClauseDraft())
        return True
    if verb == "remove-clause" and len(args) == 2 and 0 <= args[0] < len(rules):
        remove(rules[args[0]].clauses, args[1])
        return True
    return False
