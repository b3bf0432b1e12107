"""The segment editor's draft: description, included and excluded keys, and rules (with an optional
percentage of matching contexts).

Pure, like the targeting draft; fields the editor does not show (contexts of other kinds, salt) are kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vexil.engine import Problem

from ._drafts import ClauseDraft, FormLike, clause_ops, count, lines, move, parse_op, parse_percent, remove
from ._summaries import percent
from ._targeting_draft import new_rule_id

_SHOWN = {"description", "included", "excluded", "rules"}


@dataclass
class SegmentRuleDraft:
    id: str = ""
    clauses: list[ClauseDraft] = field(default_factory=list)
    #: Percentage of matching contexts that are in the segment; "" means all of them.
    weight: str = ""
    bucket_by: str = ""
    rollout_context_kind: str = ""


@dataclass
class SegmentDraft:
    description: str = ""
    included: str = ""
    excluded: str = ""
    rules: list[SegmentRuleDraft] = field(default_factory=list)
    #: JSON of the fields the editor does not show.
    extra: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SegmentDraft:
        extra = {k: v for k, v in body.items() if k not in _SHOWN}
        return cls(
            description=str(body.get("description") or ""),
            included="\n".join(str(v) for v in body.get("included") or []),
            excluded="\n".join(str(v) for v in body.get("excluded") or []),
            rules=[
                SegmentRuleDraft(
                    id=str(r.get("id") or ""),
                    clauses=[
                        ClauseDraft.from_body(c) for c in r.get("clauses") or [] if isinstance(c, Mapping)
                    ],
                    weight=percent(r["weight"]) if r.get("weight") is not None else "",
                    bucket_by=str(r.get("bucket_by") or ""),
                    rollout_context_kind=str(r.get("rollout_context_kind") or ""),
                )
                for r in body.get("rules") or []
                if isinstance(r, Mapping)
            ],
            extra=json.dumps(extra) if extra else "",
        )

    @classmethod
    def from_form(cls, form: FormLike) -> SegmentDraft:
        return cls(
            description=form.get("description", "").strip(),
            included=form.get("included", ""),
            excluded=form.get("excluded", ""),
            rules=[
                SegmentRuleDraft(
                    id=form.get(f"r{i}.id", "").strip() or new_rule_id(),
                    clauses=[
                        ClauseDraft.from_form(form, f"r{i}.c{j}.")
                        for j in range(count(form, f"r{i}.clauses"))
                    ],
                    weight=form.get(f"r{i}.weight", "").strip(),
                    bucket_by=form.get(f"r{i}.bucket_by", "").strip(),
                    rollout_context_kind=form.get(f"r{i}.rollout_kind", "").strip(),
                )
                for i in range(count(form, "rules"))
            ],
            extra=form.get("extra", ""),
        )

    def apply(self, op: str) -> None:
        verb, args = parse_op(op)
        index = args[0] if args else -1
        if clause_ops(self.rules, verb, args):
            return
        if verb == "add-rule":
            self.rules.append(SegmentRuleDraft(id=new_rule_id(), clauses=[ClauseDraft()]))
        elif verb == "remove-rule":
            remove(self.rules, index)
        elif verb == "up-rule":
            move(self.rules, index, -1)
        elif verb == "down-rule":
            move(self.rules, index, +1)

    def to_body(self) -> tuple[dict[str, Any], list[Problem]]:
        problems: list[Problem] = []
        try:
            extra = json.loads(self.extra) if self.extra.strip() else {}
        except ValueError:
            extra = {}
        body: dict[str, Any] = dict(extra) if isinstance(extra, dict) else {}
        if self.description:
            body["description"] = self.description
        if included := lines(self.included):
            body["included"] = included
        if excluded := lines(self.excluded):
            body["excluded"] = excluded
        rules = []
        for i, rule in enumerate(self.rules):
            path = f"rules[{i}]"
            if not rule.clauses:
                problems.append(Problem(f"{path}.clauses", "add at least one condition"))
            out: dict[str, Any] = {"id": rule.id} if rule.id else {}
            out["clauses"] = [c.to_body(f"{path}.clauses[{j}]", problems) for j, c in enumerate(rule.clauses)]
            if rule.weight:
                weight = parse_percent(rule.weight)
                if weight is None:
                    problems.append(Problem(f"{path}.weight", "must be a percentage between 0 and 100"))
                else:
                    out["weight"] = weight
                if rule.bucket_by and rule.bucket_by != "key":
                    out["bucket_by"] = rule.bucket_by
                if rule.rollout_context_kind and rule.rollout_context_kind != "user":
                    out["rollout_context_kind"] = rule.rollout_context_kind
            rules.append(out)
        if rules:
            body["rules"] = rules
        return body, problems
