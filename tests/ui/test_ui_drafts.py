"""The console's pure parts: editor drafts round-trip every targeting and segment shape they show, editor
actions, percentages, readable diffs, the three-way merge, and the plain-language summaries.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from starlette.datastructures import ImmutableMultiDict

from vexil.engine import validate_document
from vexil.service import DEMO_FLAGS
from vexil.ui._diff import ChangeKind, diff, merge_three
from vexil.ui._drafts import ClauseDraft, ServeDraft, parse_percent
from vexil.ui._segment_draft import SegmentDraft
from vexil.ui._summaries import clause_text, humane_path, serve_text, targeting_summary
from vexil.ui._targeting_draft import TargetingDraft

RICH: dict[str, Any] = {
    "on": True,
    "targets": [
        {"variation": 1, "values": ["u1", "u2"]},
        {"variation": 0, "values": ["o1"], "context_kind": "org"},
    ],
    "rules": [
        {
            "id": "r1",
            "description": "Dutch pro users",
            "clauses": [
                {"attribute": "country", "op": "in", "values": ["NL"]},
                {"attribute": "seats", "op": "gte", "values": [10], "context_kind": "org"},
                {"attribute": "beta", "op": "in", "values": [True], "negate": True},
                {"op": "segment_match", "values": ["beta-testers"]},
                {"attribute": "app_version", "op": "semver_gt", "values": ["2.1.0"]},
                {"attribute": "created", "op": "before", "values": [1700000000000, "2025-01-01T00:00:00Z"]},
            ],
            "serve": {
                "rollout": {
                    "variations": [
                        {"variation": 0, "weight": 33333},
                        {"variation": 1, "weight": 66667, "untracked": True},
                    ],
                    "bucket_by": "email",
                    "seed": 42,
                    "kind": "experiment",
                }
            },
        }
    ],
    "fallthrough": {"variation": 1},
    "off_variation": 0,
    "prerequisites": [{"flag": "other", "variation": 1}],
}


def fields_of(draft: TargetingDraft) -> ImmutableMultiDict[str, str]:
    """What the editor template would post for a draft (the names the template uses)."""
    pairs: list[tuple[str, str]] = [
        ("on", "true" if draft.on else "false"),
        ("off_variation", draft.off_variation),
        ("targets", str(len(draft.targets))),
        ("rules", str(len(draft.rules))),
        ("prerequisites", str(len(draft.prerequisites))),
    ]
    for i, t in enumerate(draft.targets):
        pairs += [
            (f"t{i}.variation", t.variation),
            (f"t{i}.kind", t.context_kind),
            (f"t{i}.values", t.values),
        ]
    for i, pre in enumerate(draft.prerequisites):
        pairs += [(f"p{i}.flag", pre.flag), (f"p{i}.variation", pre.variation)]

    def serve(prefix: str, s: ServeDraft) -> None:
        pairs.extend([(f"{prefix}serve", s.mode), (f"{prefix}bucket_by", s.bucket_by)])
        pairs.extend([(f"{prefix}rollout_kind", s.context_kind), (f"{prefix}extra", s.extra)])
        pairs.extend((f"{prefix}pct{k}", p) for k, p in enumerate(s.percents))

    for i, r in enumerate(draft.rules):
        pairs += [
            (f"r{i}.id", r.id),
            (f"r{i}.description", r.description),
            (f"r{i}.clauses", str(len(r.clauses))),
        ]
        for j, c in enumerate(r.clauses):
            p = f"r{i}.c{j}."
            pairs += [(p + "attribute", c.attribute), (p + "type", c.type), (p + "op", c.op)]
            pairs += [(p + "values", c.values), (p + "kind", c.context_kind)]
            pairs += [(p + "segments", s) for s in c.segments]
            if c.negate:
                pairs.append((p + "negate", "on"))
        serve(f"r{i}.", r.serve)
    serve("ft.", draft.fallthrough)
    return ImmutableMultiDict(pairs)


def test_rich_targeting_round_trips_through_the_form() -> None:
    draft = TargetingDraft.from_body(RICH, 2)
    body, problems = TargetingDraft.from_form(fields_of(draft), 2).to_body()
    assert problems == []
    assert body == RICH


@pytest.mark.parametrize("definition,targeting", DEMO_FLAGS, ids=[str(d["key"]) for d, _ in DEMO_FLAGS])
def test_demo_targeting_round_trips(definition: dict[str, Any], targeting: dict[str, dict[str, Any]]) -> None:
    for body in targeting.values():
        count = len(definition["variations"])
        again, problems = TargetingDraft.from_form(
            fields_of(TargetingDraft.from_body(body, count)), count
        ).to_body()
        assert problems == []
        assert again == {**body, "off_variation": body.get("off_variation")}


def test_editor_actions() -> None:
    draft = TargetingDraft.from_body(copy.deepcopy(RICH), 2)
    draft.apply("add-rule")
    assert (
        len(draft.rules) == 2 and draft.rules[1].id.startswith("rule-") and len(draft.rules[1].clauses) == 1
    )
    draft.apply("up-rule:1")
    assert draft.rules[1].id == "r1"
    draft.apply("down-rule:1")  # already last: nothing happens
    assert draft.rules[1].id == "r1"
    draft.apply("add-clause:1")
    draft.apply("remove-clause:1:0")
    assert len(draft.rules[1].clauses) == 6
    draft.apply("remove-rule:0")
    draft.apply("remove-target:0")
    draft.apply("add-prerequisite")
    draft.apply("remove-prerequisite:0")
    draft.apply("remove-rule:99")  # out of range: ignored
    draft.apply("bogus:x")
    assert [r.id for r in draft.rules] == ["r1"]
    assert [t.values for t in draft.targets] == ["o1"] and [p.flag for p in draft.prerequisites] == [""]


def test_form_problems_are_reported_with_paths() -> None:
    draft = TargetingDraft.from_body({"fallthrough": {"variation": 0}}, 2)
    draft.apply("add-rule")
    draft.rules[0].clauses[0] = ClauseDraft(attribute="", type="number", op="gt", values="ten")
    draft.rules[0].serve = ServeDraft(mode="rollout", percents=["50", "40.5"])
    _, problems = draft.to_body()
    messages = {str(p) for p in problems}
    assert "rules[0].clauses[0].attribute: name the attribute to compare" in messages
    assert "rules[0].clauses[0].values: 'ten' is not a number" in messages
    assert "rules[0].serve.rollout: the percentages add up to 90.5%, not 100%" in messages


def test_operator_follows_the_attribute_type() -> None:
    clause = ClauseDraft.from_form(ImmutableMultiDict([("c.type", "date"), ("c.op", "in")]), "c.")
    assert clause.op == "before"
    assert ClauseDraft.from_body({"attribute": "n", "op": "in", "values": [1, 2.5]}).type == "number"
    assert ClauseDraft.from_body({"attribute": "b", "op": "in", "values": [False]}).type == "boolean"


@pytest.mark.parametrize(
    "text,weight", [("20", 20000), ("33.333", 33333), ("0", 0), ("100", 100000), ("", 0), ("1e1", 10000)]
)
def test_percentages(text: str, weight: int) -> None:
    assert parse_percent(text) == weight


@pytest.mark.parametrize("text", ["-1", "100.5", "0.0001", "abc", "nan", "inf"])
def test_bad_percentages(text: str) -> None:
    assert parse_percent(text) is None


def test_segment_round_trip_and_actions() -> None:
    body = {
        "description": "Beta",
        "included": ["a", "b"],
        "excluded": ["c"],
        "included_contexts": [{"context_kind": "org", "values": ["o1"]}],
        "salt": "s",
        "rules": [
            {"id": "x", "clauses": [{"attribute": "beta", "op": "in", "values": [True]}], "weight": 25000}
        ],
    }
    draft = SegmentDraft.from_body(body)
    again, problems = draft.to_body()
    assert problems == [] and again == body
    draft.apply("add-rule")
    draft.apply("up-rule:1")
    assert draft.rules[1].id == "x"
    assert validate_document({"segments": {"s": {**again, "key": "s"}}}) == []


def test_diff_is_readable() -> None:
    before = {
        "on": True,
        "rules": [{"id": "a", "clauses": [{"values": ["x"]}]}],
        "version": 3,
        "targets": [1],
    }
    after = {"on": False, "rules": [{"id": "a", "clauses": [{"values": ["x", "y"]}]}], "version": 4, "new": 1}
    changes = {c.path: c for c in diff(before, after)}
    assert set(changes) == {"on", "rules[0].clauses[0].values", "targets", "new"}
    assert changes["on"].kind is ChangeKind.CHANGED and changes["on"].after_text == "false"
    assert changes["rules[0].clauses[0].values"].after_text == '["x", "y"]'
    assert changes["targets"].kind is ChangeKind.REMOVED and changes["new"].kind is ChangeKind.ADDED
    assert diff({"a": 1}, {"a": True}) != []  # JSON true is not 1
    assert diff({"a": [1, 2]}, {"a": [1, 2]}) == []


def test_three_way_merge_never_reverts_the_other_side() -> None:
    base = {"on": True, "rules": [1], "fallthrough": {"variation": 0}, "targets": [1]}
    mine = {"on": True, "rules": [1, 2], "fallthrough": {"variation": 1}, "targets": [1]}
    theirs = {"on": False, "rules": [1], "fallthrough": {"variation": 2}, "version": 9, "targets": [1]}
    merge = merge_three(base, mine, theirs)
    assert merge.merged == {"on": False, "rules": [1, 2], "fallthrough": {"variation": 1}, "targets": [1]}
    assert merge.overlapping == ("fallthrough",)
    removed = merge_three({"targets": [1], "on": True}, {"on": True}, {"targets": [1], "on": True})
    assert removed.merged == {"on": True}


def test_summaries() -> None:
    flag = {"variations": [False, True], "variation_info": [{"name": "Old"}, {}]}
    assert serve_text({"variation": 0}, flag) == "serve Old"
    rollout = RICH["rules"][0]["serve"]
    assert serve_text(rollout, flag) == "experiment 33.333% Old / 66.667% true by email"
    assert (
        clause_text({"attribute": "email", "op": "ends_with", "values": ["@x.com"]})
        == 'email ends with "@x.com"'
    )
    assert clause_text({"op": "segment_match", "values": ["b"], "negate": True}) == "not in segment b"
    assert (
        clause_text({"attribute": "plan", "op": "in", "values": ["pro"], "context_kind": "org"})
        == 'org.plan is "pro"'
    )
    assert targeting_summary(RICH, flag) == "3 targets · 1 rule · 1 prerequisite(s) · default serve true"
    assert targeting_summary({"on": False, "off_variation": 0}, flag) == "off: serves Old"
    assert humane_path("flags.f.rules[0].clauses[1].op") == "Rule 1 › clause 2 › op"
