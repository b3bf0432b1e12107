"""The flag-format schema, its stdlib validator (checked against `jsonschema`) and the semantic checks."""

from __future__ import annotations

import copy
import datetime
import json
import math
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vexil.engine import Snapshot
from vexil.engine._operators import Op, value_problem
from vexil.engine._problems import Problem, SchemaError, format_path
from vexil.engine._schema import SCHEMA_RESOURCE, SchemaValidator, load_schema
from vexil.engine._validate import validate_document

ROOT = Path(__file__).resolve().parents[1]
Json = Any


def _reference_validator() -> jsonschema.protocols.Validator:
    """jsonschema's 2020-12 validator with the two readings vexil documents as deliberate:

    integers are strict (1.0 is not an integer: it cannot index a list), and `$` in a pattern means
    end of string as in ECMA-262 (Python's `$` would also accept a trailing newline).
    """
    base = jsonschema.Draft202012Validator

    def strict_integer(checker: object, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def ecma_pattern(validator: Any, pattern: str, instance: object, schema: object) -> Iterator[Any]:
        if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$$", r"\\Z", pattern), instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    cls = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # untyped in the stubs
        base,
        validators={"pattern": ecma_pattern},
        type_checker=base.TYPE_CHECKER.redefine("integer", strict_integer),
    )
    validator: jsonschema.protocols.Validator = cls(load_schema())
    return validator


REFERENCE = _reference_validator()
OURS = SchemaValidator(load_schema())


def _flag(**fields: Json) -> dict[str, Json]:
    return {"variations": [False, True], "on": True, "fallthrough": {"variation": 0}, **fields}


def _doc(flags: dict[str, Json] | None = None, segments: dict[str, Json] | None = None) -> dict[str, Json]:
    return {"flags": flags or {}, "segments": segments or {}}


def _clause(**fields: Json) -> dict[str, Json]:
    return {"attribute": "email", "op": "ends_with", "values": ["@example.com"], **fields}


def _rich_document() -> dict[str, Json]:
    """A valid document using every field of the format."""
    return {
        "flags": {
            "new-checkout": {
                "key": "new-checkout",
                "description": "The one-page checkout.",
                "tags": ["checkout", "web"],
                "owner": "payments",
                "temporary": True,
                "client_side": True,
                "variations": [False, True],
                "variation_info": [{"name": "old"}, {"name": "new", "description": "one page"}],
                "on": True,
                "off_variation": 0,
                "salt": "checkout-2024",
                "version": 7,
                "prerequisites": [{"flag": "payments-v2", "variation": 1}],
                "targets": [
                    {"variation": 1, "values": ["alice", "bob"]},
                    {"variation": 0, "values": ["acme"], "context_kind": "org"},
                ],
                "rules": [
                    {
                        "id": "staff",
                        "description": "Staff see it first.",
                        "clauses": [
                            {"attribute": "email", "op": "ends_with", "values": ["@example.com"]},
                            {
                                "attribute": "/address/country",
                                "op": "in",
                                "values": ["NL", "BE"],
                                "negate": True,
                            },
                            {"op": "segment_match", "values": ["beta-testers"]},
                            {"attribute": "plan", "op": "in", "values": ["pro"], "context_kind": "org"},
                        ],
                        "serve": {"variation": 1},
                    },
                    {
                        "id": "experiment",
                        "clauses": [{"attribute": "version", "op": "semver_gt", "values": ["2.1.0"]}],
                        "serve": {
                            "rollout": {
                                "kind": "experiment",
                                "seed": 42,
                                "variations": [
                                    {"variation": 0, "weight": 50000},
                                    {"variation": 1, "weight": 50000, "untracked": False},
                                ],
                            }
                        },
                    },
                ],
                "fallthrough": {
                    "rollout": {
                        "variations": [{"variation": 0, "weight": 90000}, {"variation": 1, "weight": 10000}],
                        "bucket_by": "key",
                        "context_kind": "user",
                        "algorithm": "vexil-murmur3",
                        "kind": "rollout",
                    }
                },
            },
            "payments-v2": {"variations": ["off", "on"], "on": True, "fallthrough": {"variation": 1}},
        },
        "segments": {
            "beta-testers": {
                "key": "beta-testers",
                "description": "People who asked for early access.",
                "included": ["carol"],
                "excluded": ["mallory"],
                "included_contexts": [{"context_kind": "org", "values": ["initech"]}],
                "excluded_contexts": [{"context_kind": "org", "values": ["globex"]}],
                "salt": "beta",
                "version": 3,
                "rules": [
                    {
                        "id": "early-adopters",
                        "clauses": [{"attribute": "early_access", "op": "in", "values": [True]}],
                        "weight": 25000,
                        "bucket_by": "/device/id",
                        "rollout_context_kind": "user",
                        "algorithm": "launchdarkly-sha1",
                    }
                ],
            }
        },
    }


def _messages(doc: object) -> list[str]:
    return [str(problem) for problem in validate_document(doc)]


# --- the schema file ----------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_ships_inside_the_package_and_is_read_fresh() -> None:
    assert (ROOT / "src" / "vexil" / "engine" / SCHEMA_RESOURCE).is_file()
    first = load_schema()
    first["$defs"].clear()
    assert load_schema()["$defs"], "callers get their own copy"


def test_schema_closes_every_object() -> None:
    def objects(node: Json) -> Iterator[dict[str, Json]]:
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for value in node.values():
                yield from objects(value)
        elif isinstance(node, list):
            for value in node:
                yield from objects(value)

    found = list(objects(load_schema()))
    assert len(found) > 10
    for node in found:
        assert "additionalProperties" in node, node


def test_our_validator_refuses_keywords_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="patternProperties"):
        SchemaValidator({"type": "object", "patternProperties": {"^a": {}}})
    with pytest.raises(ValueError, match="unresolvable"):
        SchemaValidator({"$ref": "#/$defs/nope"})


# --- differential: our validator and jsonschema agree on valid vs invalid ---------------------------

HAND_PICKED: list[Json] = [
    _rich_document(),
    {},
    {"flags": {}},
    {"segments": {}},
    _doc({"f": _flag()}),
    _doc({"f": _flag(off_variation=None)}),
    _doc({"f": _flag(variations=[None, {"a": [1, 2]}, 1.5, "s"])}),
    None,
    [],
    "flags",
    {"flags": None},
    {"flags": {"f": None}},
    {"extra": {}},
    _doc({"f": {"variations": [1]}}),
    _doc({"f": _flag(variations=[])}),
    _doc({"f": _flag(on=1)}),
    _doc({"f": _flag(off_variation=1.0)}),
    _doc({"f": _flag(off_variation=True)}),
    _doc({"f": _flag(off_variation=-1)}),
    _doc({"f": _flag(version=-1)}),
    _doc({"f": _flag(version=2**53)}),
    _doc({"f": _flag(fallthrough={})}),
    _doc({"f": _flag(fallthrough={"variation": 0, "rollout": {"variations": []}})}),
    _doc({"f": _flag(fallthrough={"rollout": {"variations": []}})}),
    _doc({"f": _flag(fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 100001}]}})}),
    _doc({"f": _flag(fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 1}], "kind": "x"}})}),
    _doc({"f": _flag(rules=[{"clauses": [_clause(op="equals")], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"clauses": [_clause(values=[[1]])], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"clauses": [{"op": "in", "values": []}], "serve": {"variation": 0}}])}),
    _doc(
        {
            "f": _flag(
                rules=[{"clauses": [{"op": "segment_match", "values": ["s"]}], "serve": {"variation": 0}}]
            )
        }
    ),
    _doc({"f": _flag(rules=[{"clauses": [_clause(attribute="")], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"clauses": [_clause(context_kind="kind")], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"clauses": [_clause(context_kind="multi")], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"clauses": [_clause(context_kind="a b")], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(rules=[{"id": "", "clauses": [], "serve": {"variation": 0}}])}),
    _doc({"f": _flag(targets=[{"variation": 0, "values": ["a", 1]}])}),
    _doc({"f": _flag(prerequisites=[{"flag": "bad key", "variation": 0}])}),
    _doc({"f": _flag(variation_info=[{"name": "a", "color": "red"}, {}])}),
    _doc({"bad key": _flag()}),
    _doc({"-leading-dash": _flag()}),
    _doc({"trailing-newline\n": _flag()}),
    _doc({"x" * 200: _flag()}),
    _doc({"x" * 201: _flag()}),
    _doc(segments={"s": {}}),
    _doc(segments={"s": {"rules": [{"clauses": [], "weight": 100000}]}}),
    _doc(segments={"s": {"rules": [{"weight": 1}]}}),
    _doc(segments={"s": {"included_contexts": [{"values": []}]}}),
]


def _agree(doc: Json) -> None:
    ours = OURS.issues(doc)
    theirs = list(REFERENCE.iter_errors(doc))
    assert (not ours) == (not theirs), f"ours={ours} jsonschema={[e.message for e in theirs]}"


@pytest.mark.parametrize("doc", HAND_PICKED, ids=range(len(HAND_PICKED)))
def test_hand_picked_documents_agree_with_jsonschema(doc: Json) -> None:
    _agree(doc)
    assert isinstance(validate_document(doc), list)


def test_hand_picked_documents_cover_both_outcomes() -> None:
    outcomes = {OURS.is_valid(doc) for doc in HAND_PICKED}
    assert outcomes == {True, False}


_NAMES = sorted(
    {
        *(name for d in load_schema()["$defs"].values() for name in d.get("properties", {})),
        "flags",
        "segments",
    }
)
_WORDS = st.sampled_from(
    [
        "in",
        "equals",
        "segment_match",
        "user",
        "kind",
        "multi",
        "rollout",
        "experiment",
        "vexil-murmur3",
        "key",
        "/a",
        "",
        "bad key",
        "ok\n",
        *_NAMES,
    ]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0.0, 1.0, 1.5, -0.5, 100000, 100001])
    | _WORDS
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_WORDS | st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def _paths(node: Json, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _near_misses(value: Json) -> list[Json]:
    if isinstance(value, bool):
        return [not value, int(value), None]
    if isinstance(value, int):
        return [value + 1, value - 1, -value - 1, float(value), 100001, str(value), True]
    if isinstance(value, str):
        return ["", value + "\n", value + " x", value.upper(), "/", "/a//b", "kind", 1]
    if isinstance(value, list):
        return [[], value[:1], [*value, *value], {}]
    if isinstance(value, dict):
        return [{}, [value], None]
    return [0, "", []]


@st.composite
def mutated_documents(draw: st.DrawFn) -> Json:
    doc: Json = _rich_document()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(_paths(doc))))
        parent: Json = None
        node: Json = doc
        for part in path:
            parent, node = node, node[part]
        action = draw(st.sampled_from(["replace", "near", "delete", "add"]))
        if action == "add" and isinstance(node, dict):
            node[draw(_WORDS)] = draw(JSON_VALUES)
        elif action == "add" and isinstance(node, list):
            node.append(draw(JSON_VALUES))
        elif action == "delete" and parent is not None:
            del parent[path[-1]]
        elif parent is not None:
            new = draw(JSON_VALUES) if action == "replace" else draw(st.sampled_from(_near_misses(node)))
            parent[path[-1]] = new
        else:
            doc = draw(JSON_VALUES)
            break
    return doc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents_agree_with_jsonschema(doc: Json) -> None:
    _agree(doc)
    problems = validate_document(doc)
    assert all(isinstance(p, Problem) for p in problems)
    if not OURS.is_valid(doc):
        assert problems


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_agrees_with_jsonschema(doc: Json) -> None:
    _agree(doc)
    _agree({"flags": {"f": doc}})
    _agree({"segments": {"s": doc}})


# --- messages and paths -----------------------------------------------------------------------------


def test_the_documented_path_format_holds_exactly() -> None:
    rules: list[Json] = [{"clauses": [], "serve": {"variation": 0}} for _ in range(2)]
    rules.append({"clauses": [_clause(op="equals")], "serve": {"variation": 0}})
    problems = validate_document(_doc({"new-checkout": _flag(rules=rules)}))
    assert problems == [Problem("flags.new-checkout.rules[2].clauses[0].op", 'unknown operator "equals"')]
    assert str(problems[0]) == 'flags.new-checkout.rules[2].clauses[0].op: unknown operator "equals"'


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (_flag(on="yes"), "flags.f.on: must be a boolean, not a string"),
        (_flag(off_variation=1.0), "flags.f.off_variation: must be an integer or null, not 1.0"),
        (_flag(off_variation=-1), "flags.f.off_variation: must be at least 0"),
        (_flag(variations=[]), "flags.f.variations: must not be empty"),
        ({"variations": [1]}, "flags.f.fallthrough: is required"),
        (_flag(offVariation=0), 'flags.f: unknown field "offVariation" (did you mean "off_variation"?)'),
        (_flag(colour=0), 'flags.f: unknown field "colour"'),
        (_flag(fallthrough={}), 'flags.f.fallthrough: must have exactly one of "variation" or "rollout"'),
        (
            _flag(
                fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 100000}], "kind": "a/b"}}
            ),
            'flags.f.fallthrough.rollout.kind: unknown rollout kind "a/b"',
        ),
        (
            _flag(fallthrough={"rollout": {"variations": [{"variation": 0, "weight": 100001}]}}),
            "flags.f.fallthrough.rollout.variations[0].weight: must be at most 100000",
        ),
        (
            _flag(rules=[{"clauses": [{"op": "in", "values": []}], "serve": {"variation": 0}}]),
            "flags.f.rules[0].clauses[0].attribute: is required",
        ),
        (
            _flag(rules=[{"clauses": [_clause(context_kind="multi")], "serve": {"variation": 0}}]),
            'flags.f.rules[0].clauses[0].context_kind: must not be "kind" or "multi"',
        ),
        (
            _flag(prerequisites=[{"flag": "a b", "variation": 0}]),
            'flags.f.prerequisites[0].flag: "a b" is not a valid key (1 to 200 letters, digits, ".", "_", ":"'
            ' or "-", starting with a letter or digit)',
        ),
    ],
)
def test_schema_messages(flag: Json, expected: str) -> None:
    assert _messages(_doc({"f": flag})) == [expected]


def test_a_bare_yaml_on_key_gets_a_hint() -> None:
    flag = yaml.safe_load("variations: [1]\non: true\nfallthrough: {variation: 0}\n")
    assert _messages(_doc({"f": flag})) == [
        'flags.f: unknown field true (in YAML, write "on": with quotes; a bare on: means true)'
    ]


def test_an_invalid_map_key_is_reported_at_that_key() -> None:
    assert _messages(_doc({"new checkout": _flag()})) == [
        'flags["new checkout"]: "new checkout" is not a valid key (1 to 200 letters, digits, ".", "_",'
        ' ":" or "-", starting with a letter or digit)'
    ]


def test_problems_are_all_reported_and_sorted_by_path_with_numeric_indices() -> None:
    rules = [{"clauses": [], "serve": {"variation": 0}} for _ in range(11)]
    rules[10]["serve"] = {"variation": "x"}
    rules[2]["serve"] = {"variation": 9}
    problems = validate_document(_doc({"b": _flag(rules=rules, on=0), "a": _flag(version="1")}))
    assert [p.path for p in problems] == [
        "flags.a.version",
        "flags.b.on",
        "flags.b.rules[2].serve.variation",
        "flags.b.rules[10].serve.variation",
    ]


def test_dotted_keys_are_quoted_in_paths() -> None:
    assert format_path(("flags", "a.b", "rules", 0, "id")) == 'flags["a.b"].rules[0].id'
    assert format_path(("flags", "a:b-c_d", "on")) == "flags.a:b-c_d.on"
    assert format_path(()) == ""
    assert _messages(_doc({"a.b": _flag(on=1)})) == ['flags["a.b"].on: must be a boolean, not an integer']


def test_problem_and_schema_error() -> None:
    problem = Problem("flags.f.on", "must be a boolean, not a string")
    assert str(problem) == "flags.f.on: must be a boolean, not a string"
    assert str(Problem("", "must be an object, not null")) == "must be an object, not null"
    with pytest.raises(AttributeError):
        problem.path = "x"  # type: ignore[misc]
    error = SchemaError([problem, Problem("", "second")])
    assert isinstance(error, ValueError)
    assert error.problems == [problem, Problem("", "second")]
    assert str(error) == "flags.f.on: must be a boolean, not a string\nsecond"
    copied = pickle.loads(pickle.dumps(error))
    assert isinstance(copied, SchemaError)
    assert copied.problems == error.problems
    assert str(copied) == str(error)


# --- semantic checks ------------------------------------------------------------------------------


def test_a_valid_document_has_no_problems() -> None:
    assert validate_document(_rich_document()) == []
    assert validate_document({}) == []


def test_inner_key_must_match_the_map_key() -> None:
    doc = _doc({"a": _flag(key="b")}, {"s": {"key": "t"}})
    assert _messages(doc) == [
        'flags.a.key: must equal the map key "a", not "b"',
        'segments.s.key: must equal the map key "s", not "t"',
    ]


def test_variation_indices_must_be_in_range_everywhere() -> None:
    rollout = {"variations": [{"variation": 2, "weight": 100000}]}
    flag = _flag(
        off_variation=2,
        targets=[{"variation": 3, "values": ["a"]}],
        rules=[{"clauses": [], "serve": {"variation": 4}}, {"clauses": [], "serve": {"rollout": rollout}}],
        fallthrough={"variation": 5},
        prerequisites=[{"flag": "g", "variation": 1}],
    )
    doc = _doc({"f": flag, "g": _flag(variations=["only"])})
    assert _messages(doc) == [
        "flags.f.fallthrough.variation: variation 5 is out of range: the flag has 2 variations",
        "flags.f.off_variation: variation 2 is out of range: the flag has 2 variations",
        'flags.f.prerequisites[0].variation: variation 1 is out of range: flag "g" has 1 variation',
        "flags.f.rules[0].serve.variation: variation 4 is out of range: the flag has 2 variations",
        "flags.f.rules[1].serve.rollout.variations[0].variation: variation 2 is out of range:"
        " the flag has 2 variations",
        "flags.f.targets[0].variation: variation 3 is out of range: the flag has 2 variations",
    ]


def test_rollout_weights_must_sum_to_100000() -> None:
    rollout = {"variations": [{"variation": 0, "weight": 60000}, {"variation": 1, "weight": 30000}]}
    assert _messages(_doc({"f": _flag(fallthrough={"rollout": rollout})})) == [
        "flags.f.fallthrough.rollout.variations: weights must sum to 100000, not 90000"
    ]


def test_variation_info_needs_one_entry_per_variation() -> None:
    assert _messages(_doc({"f": _flag(variation_info=[{"name": "x"}])})) == [
        "flags.f.variation_info: has 1 entry but the flag has 2 variations"
    ]


def test_prerequisites_must_exist_not_be_self_and_not_cycle() -> None:
    doc = _doc(
        {
            "a": _flag(prerequisites=[{"flag": "b", "variation": 0}]),
            "b": _flag(prerequisites=[{"flag": "zzz", "variation": 0}, {"flag": "c", "variation": 0}]),
            "c": _flag(prerequisites=[{"flag": "a", "variation": 1}]),
            "d": _flag(prerequisites=[{"flag": "d", "variation": 0}]),
            "e": _flag(prerequisites=[{"flag": "a", "variation": 0}]),
        }
    )
    assert _messages(doc) == [
        "flags.a.prerequisites[0].flag: prerequisite cycle a -> b -> c -> a",
        'flags.b.prerequisites[0].flag: unknown flag "zzz"',
        "flags.b.prerequisites[1].flag: prerequisite cycle b -> c -> a -> b",
        "flags.c.prerequisites[0].flag: prerequisite cycle c -> a -> b -> c",
        "flags.d.prerequisites[0].flag: a flag cannot be its own prerequisite",
    ]


def test_a_long_prerequisite_chain_is_not_a_cycle_and_does_not_recurse() -> None:
    n = 5000
    flags = {f"f{i}": _flag(prerequisites=[{"flag": f"f{i + 1}", "variation": 0}]) for i in range(n)}
    flags[f"f{n}"] = _flag()
    assert validate_document(_doc(flags)) == []
    flags[f"f{n}"] = _flag(prerequisites=[{"flag": "f0", "variation": 0}])
    problems = validate_document(_doc(flags))
    assert len(problems) == n + 1
    assert problems[0] == Problem(
        "flags.f0.prerequisites[0].flag",
        f"prerequisite cycle f0 -> f1 -> f2 -> f3 -> f4 -> f5 -> f6 -> ... -> f{n} -> f0 ({n + 1} flags)",
    )


def test_segment_match_needs_existing_segments_and_no_cycles() -> None:
    def seg(*refs: str) -> dict[str, Json]:
        return {"rules": [{"clauses": [{"op": "segment_match", "values": list(refs)}]}]}

    flag = _flag(
        rules=[{"clauses": [{"op": "segment_match", "values": ["s", "nope"]}], "serve": {"variation": 1}}]
    )
    doc = _doc({"f": flag}, {"s": seg("t"), "t": seg("missing", "s"), "u": seg("u"), "v": seg("s")})
    assert _messages(doc) == [
        'flags.f.rules[0].clauses[0].values[1]: unknown segment "nope"',
        "segments.s.rules[0].clauses[0].values[0]: segment cycle s -> t -> s",
        'segments.t.rules[0].clauses[0].values[0]: unknown segment "missing"',
        "segments.t.rules[0].clauses[0].values[1]: segment cycle t -> s -> t",
        "segments.u.rules[0].clauses[0].values[0]: segment cycle u -> u",
    ]


def test_clause_values_must_suit_their_operator() -> None:
    candidates: list[tuple[str, Json]] = [
        ("matches", "("),
        ("matches", "[a-"),
        ("semver_eq", "not a version"),
        ("before", "yesterday"),
        ("lt", "ten"),
        ("starts_with", 5),
        ("in", "fine"),
    ]
    expected = []
    clauses = []
    for i, (op, value) in enumerate(candidates):
        clauses.append({"attribute": "a", "op": op, "values": [value]})
        problem = value_problem(Op(op), value)
        if problem is not None:
            expected.append(f"flags.f.rules[0].clauses[{i}].values[0]: {problem}")
    assert expected, "value_problem rejects at least an invalid regular expression"
    assert value_problem(Op("matches"), "(") is not None
    doc = _doc({"f": _flag(rules=[{"clauses": clauses, "serve": {"variation": 0}}])})
    assert _messages(doc) == expected


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("/", 'a JSON pointer must name an attribute after the "/"'),
        ("/a//b", 'a JSON pointer cannot have an empty segment ("//" or a trailing "/")'),
        ("/a/", 'a JSON pointer cannot have an empty segment ("//" or a trailing "/")'),
        ("/a~2b", '"~" must be followed by "0" (for "~") or "1" (for "/")'),
        ("/a~", '"~" must be followed by "0" (for "~") or "1" (for "/")'),
    ],
)
def test_attribute_references_must_be_well_formed(ref: str, why: str) -> None:
    rollout = {"variations": [{"variation": 0, "weight": 100000}], "bucket_by": ref}
    flag = _flag(rules=[{"clauses": [_clause(attribute=ref)], "serve": {"rollout": rollout}}])
    segment = {"rules": [{"clauses": [], "weight": 10, "bucket_by": ref}]}
    shown = json.dumps(ref)
    assert _messages(_doc({"f": flag}, {"s": segment})) == [
        f"flags.f.rules[0].clauses[0].attribute: invalid attribute reference {shown}: {why}",
        f"flags.f.rules[0].serve.rollout.bucket_by: invalid attribute reference {shown}: {why}",
        f"segments.s.rules[0].bucket_by: invalid attribute reference {shown}: {why}",
    ]


@pytest.mark.parametrize("ref", ["/a~1b~0c", "/a/b", "a/b", "a~b", "kind", "/0"])
def test_good_attribute_references_pass(ref: str) -> None:
    flag = _flag(rules=[{"clauses": [_clause(attribute=ref)], "serve": {"variation": 0}}])
    assert validate_document(_doc({"f": flag})) == []


def test_rule_ids_are_unique_within_a_flag() -> None:
    rules = [{"id": rid, "clauses": [], "serve": {"variation": 0}} for rid in ["x", "y", "x", "x"]]
    doc = _doc({"f": _flag(rules=rules), "g": _flag(rules=rules[:1])})
    assert _messages(doc) == [
        'flags.f.rules[2].id: duplicate rule id "x" (rules[0] has it too)',
        'flags.f.rules[3].id: duplicate rule id "x" (rules[0] has it too)',
    ]


def test_variations_must_be_plain_json() -> None:
    looped: list[Json] = []
    looped.append(looped)
    values = [datetime.date(2024, 1, 1), math.nan, looped, {1: "x"}, {"deep": [[[{"ok": [1.5, None]}]]]}]
    assert _messages(_doc({"f": _flag(variations=values)})) == [
        "flags.f.variations[0]: is not JSON: it contains a Python date",
        "flags.f.variations[1]: is not JSON: nan is not a JSON number",
        "flags.f.variations[2]: is not JSON: it contains itself",
        "flags.f.variations[3]: is not JSON: object keys must be strings, not an integer",
    ]


def test_semantic_checks_skip_parts_that_failed_the_schema() -> None:
    rollout = {"variations": [{"variation": 0, "weight": "50"}, {"variation": 1, "weight": 50000}]}
    flag = _flag(
        key=5,
        off_variation="9",
        variation_info="x",
        fallthrough={"rollout": rollout},
        rules=[
            {
                "id": 1,
                "clauses": [{"attribute": "a", "op": "nope", "values": ["("]}],
                "serve": {"variation": 0},
            }
        ],
        prerequisites=[{"flag": "bad key", "variation": 0}],
    )
    # Exactly one problem per mistake: no "out of range", "sum", "unknown flag" or value follow-ups.
    assert [p.path for p in validate_document(_doc({"f": flag}))] == [
        "flags.f.fallthrough.rollout.variations[0].weight",
        "flags.f.key",
        "flags.f.off_variation",
        "flags.f.prerequisites[0].flag",
        "flags.f.rules[0].clauses[0].op",
        "flags.f.rules[0].id",
        "flags.f.variation_info",
    ]


# --- garbage in, problems out ---------------------------------------------------------------------


def _deep(depth: int) -> Json:
    node: Json = []
    for _ in range(depth):
        node = [node]
    return node


def _deep_dict(depth: int) -> Json:
    node: Json = {}
    for _ in range(depth):
        node = {"flags": node}
    return node


GARBAGE: list[Json] = [
    None,
    True,
    0,
    10**5000,
    -1.5,
    math.inf,
    "flags",
    "",
    [],
    [{"flags": {}}],
    _deep(100_000),
    _deep_dict(100_000),
    {"flags": _deep(100_000)},
    {"flags": {"f": _flag(off_variation=10**5000, version=10**5000)}},
    {"flags": {"f": _flag(rules=[{"clauses": [_clause(op=10**5000)], "serve": {"variation": 0}}])}},
    {"flags": {1: _flag(), None: _flag(), (1, 2): _flag()}},
    {"flags": {"f": {1: 2}}},
    {"flags": {"f": _flag(prerequisites=[{"flag": ["f"], "variation": 0}])}},
    {"flags": {"f": _flag(tags=("a", "b"))}},
    {"flags": {"f": _flag(variations=[b"bytes", {1, 2}, object()])}},
    {"segments": {"s": {"rules": [{"clauses": [{"op": "segment_match", "values": [None, 1, ["s"]]}]}]}}},
    {"flags": {"\ud800": _flag()}, "segments": {"x" * 10**6: {}}},
]


@pytest.mark.parametrize("doc", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gives_problems_not_exceptions(doc: Json) -> None:
    problems = validate_document(doc)
    assert problems
    assert all(isinstance(p, Problem) and p.message for p in problems)
    assert all(len(p.message) < 2000 for p in problems)


def test_deep_but_plain_json_variations_are_fine() -> None:
    assert validate_document({"flags": {"f": _flag(variations=[_deep(100_000), _deep_dict(100_000)])}}) == []


def test_a_self_containing_document_gives_problems() -> None:
    doc: dict[str, Json] = {}
    doc["flags"] = {"f": doc}
    assert _messages(doc)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.data())
def test_any_json_anywhere_in_a_valid_document_never_raises(value: Json, data: st.DataObject) -> None:
    doc = _rich_document()
    path = data.draw(st.sampled_from([p for p in _paths(doc) if p]))
    node: Json = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = copy.deepcopy(value)
    problems = validate_document(doc)
    assert all(isinstance(p, Problem) and p.path.startswith(("flags", "segments")) for p in problems)
    assert validate_document(doc) == problems, "validation is deterministic"


# --- the documentation's example ------------------------------------------------------------------


def test_the_documented_example_is_valid() -> None:
    text = (ROOT / "docs" / "flag-format.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/flag-format.md has a YAML example"
    complete = [yaml.safe_load(block) for block in blocks if block.lstrip().startswith("flags:")]
    assert complete, "one example is a complete document"
    for doc in complete:
        assert validate_document(doc) == []
        REFERENCE.validate(doc)


def test_the_documented_example_evaluates_as_the_text_says() -> None:
    text = (ROOT / "docs" / "flag-format.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL) if b.startswith("flags:")]
    doc = yaml.safe_load(block)
    ana = {"key": "u-5000", "email": "ana@example.com", "team": {"name": "web"}}
    result = Snapshot.from_document(doc).evaluate("new-checkout", ana)
    assert result.to_dict() == {
        "value": True,
        "variation": 1,
        "reason": {"kind": "RULE_MATCH", "rule_index": 0, "rule_id": "staff"},
    }
    doc["flags"]["payments-v2"]["on"] = False
    result = Snapshot.from_document(doc).evaluate("new-checkout", ana)
    assert result.to_dict() == {
        "value": False,
        "variation": 0,
        "reason": {"kind": "PREREQUISITE_FAILED", "prerequisite_key": "payments-v2"},
    }
