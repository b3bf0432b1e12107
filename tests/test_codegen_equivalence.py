"""The generated hot path and the closure path must agree on every flag and every context."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.engine import Snapshot
from vexil.engine._compile import compile_flag

ATTRS = ["country", "plan", "email", "tags"]
WORDS = ["NZ", "IS", "", "enterprise", "@example.com", "a", "ab", "b"]

scalar = st.one_of(
    st.sampled_from(WORDS),
    st.text(max_size=4),
    st.integers(-2, 2),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, width=16),
)
attr_value = st.one_of(
    scalar, st.lists(scalar, max_size=3), st.dictionaries(st.sampled_from(WORDS), scalar, max_size=2)
)

clause = st.fixed_dictionaries(
    {
        "attribute": st.sampled_from([*ATTRS, "key", "kind", "/nested/x"]),
        "op": st.sampled_from(["in", "starts_with", "ends_with", "contains", "matches", "lt"]),
        "values": st.lists(st.one_of(st.sampled_from(WORDS), st.integers(-1, 1)), min_size=1, max_size=3),
    },
    optional={"negate": st.booleans(), "context_kind": st.sampled_from(["user", "org"])},
)
serve = st.one_of(
    st.builds(lambda v: {"variation": v}, st.integers(0, 2)),
    st.builds(
        lambda w, by, kind: {
            "rollout": {
                "variations": [{"variation": 0, "weight": w}, {"variation": 1, "weight": 100000 - w}],
                "bucket_by": by,
                "context_kind": kind,
            }
        },
        st.integers(0, 100000),
        st.sampled_from(["key", "country", "tags"]),
        st.sampled_from(["user", "org"]),
    ),
)
flag_doc = st.builds(
    lambda rules, fallthrough, targets: {
        "variations": ["x", "y", "z"],
        "on": True,
        "off_variation": 0,
        "rules": rules,
        "fallthrough": fallthrough,
        "targets": targets,
    },
    st.lists(
        st.builds(lambda cs, s: {"clauses": cs, "serve": s}, st.lists(clause, max_size=3), serve), max_size=4
    ),
    serve,
    st.lists(
        st.builds(
            lambda v, keys: {"variation": v, "values": keys},
            st.integers(0, 2),
            st.lists(st.sampled_from(WORDS)),
        ),
        max_size=2,
    ),
)
# Attributes present more often than not, mostly words the clauses also use, so that rules match.
user = st.fixed_dictionaries(
    {"key": st.sampled_from(["u1", "u2", "a", "NZ"])},
    optional={name: st.one_of(st.sampled_from(WORDS), attr_value) for name in [*ATTRS, "nested"]},
)
context = st.one_of(user, st.builds(lambda u, o: {"kind": "multi", "user": u, "org": o}, user, user))


@settings(max_examples=600, deadline=None, derandomize=True)
@given(doc=flag_doc, contexts=st.lists(context, min_size=1, max_size=5))
def test_generated_code_agrees_with_closures(doc: dict[str, Any], contexts: list[dict[str, Any]]) -> None:
    fast = Snapshot.from_document({"flags": {"f": doc}}, strict=False)
    slow_flag = compile_flag("f", doc, generate_code=False)
    slow = Snapshot(fast.flags, fast.segments, {"f": slow_flag}, {})
    assert fast.flag_table["f"].evaluate is not slow_flag.evaluate
    for ctx in contexts:
        assert fast.evaluate("f", ctx).to_dict() == slow.evaluate("f", ctx).to_dict(), ctx


GRID_VALUES: list[Any] = [*WORDS, "NZx", "xNZ", ["a", "NZ"], ["zz"], [], 1, 1.0, True, None, {"a": 1}]


def test_every_inlined_operator_agrees_on_a_grid() -> None:
    # Exhaustive over the shapes the generator inlines, so a slip in any one of them is caught.
    checked = 0
    for op in ("in", "starts_with", "ends_with", "contains"):
        for values in (["NZ"], ["a", "@example.com"], [""]):
            doc = {
                "variations": ["rule", "fallthrough"],
                "on": True,
                "rules": [
                    {
                        "clauses": [{"attribute": "country", "op": op, "values": values}],
                        "serve": {"variation": 0},
                    }
                ],
                "fallthrough": {"variation": 1},
            }
            fast = Snapshot.from_document({"flags": {"f": doc}})
            slow = Snapshot(fast.flags, {}, {"f": compile_flag("f", doc, generate_code=False)}, {})
            for value in GRID_VALUES:
                ctx = {"key": "u", "country": value}
                assert fast.evaluate("f", ctx) == slow.evaluate("f", ctx), (op, values, value)
                checked += 1
    assert checked == 4 * 3 * len(GRID_VALUES)
