"""Snapshot behaviour beyond single evaluations: immutability, patches, strictness, allocation."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from vexil.engine import Context, ErrorKind, ReasonKind, SchemaError, Snapshot

DOC: dict[str, Any] = {
    "flags": {
        "simple": {
            "variations": [False, True],
            "on": True,
            "off_variation": 0,
            "fallthrough": {"variation": 1},
        },
        "ruled": {
            "variations": ["a", "b", "c"],
            "on": True,
            "off_variation": 0,
            "rules": [
                {
                    "id": "nz",
                    "clauses": [{"attribute": "country", "op": "in", "values": ["NZ"]}],
                    "serve": {"variation": 1},
                }
            ],
            "fallthrough": {
                "rollout": {
                    "variations": [{"variation": 0, "weight": 50000}, {"variation": 2, "weight": 50000}]
                }
            },
        },
        "gated": {
            "variations": [0, 1],
            "on": True,
            "off_variation": 0,
            "prerequisites": [{"flag": "simple", "variation": 1}],
            "fallthrough": {"variation": 1},
        },
    }
}


def test_snapshot_and_results_are_immutable() -> None:
    snap = Snapshot.from_document(DOC)
    with pytest.raises(AttributeError):
        snap.flag_table = {}
    result = snap.evaluate("simple", {"key": "u"})
    with pytest.raises(AttributeError):
        result.value = False


def test_with_changes_replaces_and_deletes_without_touching_the_original() -> None:
    snap = Snapshot.from_document(DOC)
    off = {**DOC["flags"]["simple"], "on": False}
    patched = snap.with_changes(flags={"simple": off, "ruled": None})
    assert snap.evaluate("simple", {"key": "u"}).value is True
    assert patched.evaluate("simple", {"key": "u"}).value is False
    assert patched.evaluate("ruled", {"key": "u"}).reason.error_kind is ErrorKind.FLAG_NOT_FOUND
    # The prerequisite resolves against the patched table, not a stale copy.
    assert patched.evaluate("gated", {"key": "u"}).reason.kind is ReasonKind.PREREQUISITE_FAILED
    assert snap.evaluate("gated", {"key": "u"}).reason.kind is ReasonKind.FALLTHROUGH


def test_strict_rejects_what_lenient_isolates() -> None:
    bad = {
        "flags": {**DOC["flags"], "broken": {"variations": [1], "on": True, "fallthrough": {"variation": 7}}}
    }
    with pytest.raises(SchemaError) as err:
        Snapshot.from_document(bad)
    assert any(p.path.startswith("flags.broken") for p in err.value.problems)
    lenient = Snapshot.from_document(bad, strict=False)
    assert lenient.evaluate("broken", {"key": "u"}).reason.error_kind is ErrorKind.MALFORMED_FLAG
    assert lenient.evaluate("simple", {"key": "u"}).value is True


def test_evaluate_all_matches_evaluate() -> None:
    snap = Snapshot.from_document(DOC)
    for ctx in ({"key": "u1", "country": "NZ"}, {"key": "u2"}, {"kind": "multi", "user": {"key": "x"}}):
        every = snap.evaluate_all(ctx)
        assert set(every) == set(DOC["flags"])
        for key, result in every.items():
            assert result == snap.evaluate(key, ctx)


def test_invalid_contexts_give_user_not_specified() -> None:
    snap = Snapshot.from_document(DOC)
    bad: list[Any] = [{}, {"key": ""}, {"key": 5}, {"kind": "kind", "key": "k"}, {"kind": "multi"}, "nope"]
    for ctx in bad:
        result = snap.evaluate("simple", ctx)
        assert result.reason.error_kind is ErrorKind.USER_NOT_SPECIFIED, ctx
        every = snap.evaluate_all(ctx).values()
        assert all(r.reason.error_kind is ErrorKind.USER_NOT_SPECIFIED for r in every)


def test_context_round_trip() -> None:
    multi = {"kind": "multi", "user": {"key": "u", "plan": "pro"}, "org": {"key": "o"}}
    ctx = Context.from_dict(multi)
    assert ctx.valid and set(ctx.kinds) == {"user", "org"}
    assert Context.from_dict(ctx.to_dict()).kinds == ctx.kinds
    assert Context.from_dict({"key": "u"}).key == "u"


def test_evaluation_allocates_nothing_but_its_result() -> None:
    snap = Snapshot.from_document(DOC)
    contexts = [
        Context.from_dict({"key": f"user-{i}", "country": "NZ" if i % 7 == 0 else "US"}) for i in range(500)
    ]
    for ctx in contexts:  # warm up
        snap.evaluate("ruled", ctx)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        results = [snap.evaluate("ruled", ctx) for ctx in contexts]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
    # The list of 500 results is the only growth: results are prebuilt and shared.
    assert grown < 8 * 1024, grown
    assert {r.value for r in results} <= {"a", "b", "c"}
    assert len({id(r) for r in results}) <= 3
