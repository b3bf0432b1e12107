"""The targeting editor's draft: targets, rules, default (fallthrough), off variation, prerequisites.

Pure: form -> draft -> editor action -> draft -> engine-format body. Saving is the page's job, through the
service (which validates the whole environment document and checks the version).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vexil.engine import Problem

from ._drafts import ClauseDraft, FormLike, ServeDraft, clause_ops, count, lines, move, parse_op, remove


def new_rule_id() -> str:
    return f"rule-{secrets.token_hex(3)}"


@dataclass
class TargetDraft:
    variation: str = "0"
    context_kind: str = "user"
    #: One context key per line.
    values: str = ""


@dataclass
class RuleDraft:
    id: str = ""
    description: str = ""
    clauses: list[ClauseDraft] = field(default_factory=list)
    serve: ServeDraft = field(default_factory=ServeDraft)


@dataclass
class PrerequisiteDraft:
    flag: str = ""
    variation: str = "0"


@dataclass
class TargetingDraft:
    on: bool = False
    off_variation: str = ""
    targets: list[TargetDraft] = field(default_factory=list)
    rules: list[RuleDraft] = field(default_factory=list)
    fallthrough: ServeDraft = field(default_factory=ServeDraft)
    prerequisites: list[PrerequisiteDraft] = field(default_factory=list)
    variations: int = 2

    @classmethod
    def from_body(cls, body: Mapping[str, Any], variations: int) -> TargetingDraft:
        off = body.get("off_variation")
        return cls(
            on=bool(body.get("on", False)),
            off_variation="" if off is None else str(off),
            targets=[
                TargetDraft(
                    variation=str(t.get("variation", 0)),
                    context_kind=str(t.get("context_kind") or "user"),
                    values="\n".join(str(v) for v in t.get("values") or []),
                )
                for t in body.get("targets") or []
                if isinstance(t, Mapping)
            ],
            rules=[
                RuleDraft(
                    id=str(r.get("id") or ""),
                    description=str(r.get("description") or ""),
                    clauses=[
                        ClauseDraft.from_body(c) for c in r.get("clauses") or [] if isinstance(c, Mapping)
                    ],
                    serve=ServeDraft.from_body(r.get("serve"), variations),
                )
                for r in body.get("rules") or []
                if isinstance(r, Mapping)
            ],
            fallthrough=ServeDraft.from_body(body.get("fallthrough"), variations),
            prerequisites=[
                PrerequisiteDraft(flag=str(p.get("flag", "")), variation=str(p.get("variation", 0)))
                for p in body.get("prerequisites") or []
                if isinstance(p, Mapping)
            ],
            variations=variations,
        )

    @classmethod
    def from_form(cls, form: FormLike, variations: int) -> TargetingDraft:
        rules = []
        for i in range(count(form, "rules")):
            p = f"r{i}."
            rules.append(
                RuleDraft(
                    id=form.get(f"{p}id", "").strip() or new_rule_id(),
                    description=form.get(f"{p}description", "").strip(),
                    clauses=[
                        ClauseDraft.from_form(form, f"{p}c{j}.") for j in range(count(form, f"{p}clauses"))
                    ],
                    serve=ServeDraft.from_form(form, p, variations),
                )
            )
        return cls(
            on=form.get("on", "") == "true",
            off_variation=form.get("off_variation", ""),
            targets=[
                TargetDraft(
                    variation=form.get(f"t{i}.variation", "0"),
                    context_kind=form.get(f"t{i}.kind", "").strip() or "user",
                    values=form.get(f"t{i}.values", ""),
                )
                for i in range(count(form, "targets"))
            ],
            rules=rules,
            fallthrough=ServeDraft.from_form(form, "ft.", variations),
            prerequisites=[
                PrerequisiteDraft(flag=form.get(f"p{i}.flag", ""), variation=form.get(f"p{i}.variation", "0"))
                for i in range(count(form, "prerequisites"))
            ],
            variations=variations,
        )

    def apply(self, op: str) -> None:
        """An editor action from a button (`add-rule`, `remove-clause:1:0`, `up-rule:2`, ...)."""
        verb, args = parse_op(op)
        index = args[0] if args else -1
        if clause_ops(self.rules, verb, args):
            return
        if verb == "add-rule":
            self.rules.append(
                RuleDraft(
                    id=new_rule_id(),
                    clauses=[ClauseDraft()],
                    serve=ServeDraft.from_body({"variation": 0}, self.variations),
                )
            )
        elif verb == "remove-rule":
            remove(self.rules, index)
        elif verb == "up-rule":
            move(self.rules, index, -1)
        elif verb == "down-rule":
            move(self.rules, index, +1)
        elif verb == "add-target":
            self.targets.append(TargetDraft())
        elif verb == "remove-target":
            remove(self.targets, index)
        elif verb == "add-prerequisite":
            self.prerequisites.append(PrerequisiteDraft())
        elif verb == "remove-prerequisite":
            remove(self.prerequisites, index)

    def to_body(self) -> tuple[dict[str, Any], list[Problem]]:
        """The targeting body in the engine's format and the problems the form itself has."""
        problems: list[Problem] = []
        body: dict[str, Any] = {"on": self.on}
        targets = []
        for i, target in enumerate(self.targets):
            keys = lines(target.values)
            if not keys:
                continue  # an empty target row is nothing to save, not a mistake
            item: dict[str, Any] = {
                "variation": _index(target.variation, f"targets[{i}].variation", problems)
            }
            item["values"] = keys
            if target.context_kind != "user":
                item["context_kind"] = target.context_kind
            targets.append(item)
        if targets:
            body["targets"] = targets
        rules = []
        for i, rule in enumerate(self.rules):
            path = f"rules[{i}]"
            if not rule.clauses:
                problems.append(Problem(f"{path}.clauses", "add at least one condition"))
            out: dict[str, Any] = {"id": rule.id} if rule.id else {}
            if rule.description:
                out["description"] = rule.description
            out["clauses"] = [c.to_body(f"{path}.clauses[{j}]", problems) for j, c in enumerate(rule.clauses)]
            out["serve"] = rule.serve.to_body(f"{path}.serve", problems)
            rules.append(out)
        if rules:
            body["rules"] = rules
        body["fallthrough"] = self.fallthrough.to_body("fallthrough", problems)
        body["off_variation"] = (
            None if self.off_variation == "" else _index(self.off_variation, "off_variation", problems)
        )
        prerequisites = []
        for i, prereq in enumerate(self.prerequisites):
            if not prereq.flag:
                problems.append(Problem(f"prerequisites[{i}].flag", "choose a flag"))
                continue
            variation = _index(prereq.variation, f"prerequisites[{i}].variation", problems)
            prerequisites.append({"flag": prereq.flag, "variation": variation})
        if prerequisites:
            body["prerequisites"] = prerequisites
        return body, problems


def _index(text: str, path: str, problems: list[Problem]) -> int:
    if not text.strip().isdigit():
        problems.append(Problem(path, "choose a variation"))
        return 0
    return int(text)
