"""Unit tests of the LaunchDarkly importer's conversions and warnings (the harness test covers results)."""

from __future__ import annotations

from typing import Any

from vexil.engine import Snapshot, validate_document
from vexil.importers import launchdarkly
from vexil.importers.launchdarkly import import_document, import_document_with_warnings


def _flag(**fields: Any) -> dict[str, Any]:
    return {"on": True, "variations": [False, True], "fallthrough": {"variation": 0}, **fields}


def _convert_flag(**fields: Any) -> tuple[dict[str, Any], list[str]]:
    doc, warnings = import_document_with_warnings({"flags": {"f": _flag(**fields)}})
    return doc["flags"]["f"], [str(w) for w in warnings]


def test_public_names() -> None:
    assert set(launchdarkly.__all__) == {
        "ALGORITHM",
        "OPERATORS",
        "ConversionWarning",
        "import_document",
        "import_document_with_warnings",
    }


def test_a_plain_flag_is_valid_vexil_with_launchdarkly_defaults() -> None:
    doc = import_document({"flags": {"f": _flag(offVariation=1, version=3, clientSide=True)}})
    assert doc == {
        "flags": {
            "f": {
                "key": "f",
                "variations": [False, True],
                "on": True,
                "off_variation": 1,
                "fallthrough": {"variation": 0},
                "salt": "",
                "version": 3,
                "client_side": True,
            }
        },
        "segments": {},
    }
    assert validate_document(doc) == []


def test_operators_are_renamed_and_legacy_slash_names_escaped() -> None:
    clauses: list[dict[str, Any]] = [
        {"attribute": "/a/b~c", "op": "semVerLessThan", "values": ["1.0"]},
        {"contextKind": "org", "attribute": "/a/b", "op": "startsWith", "values": ["x"], "negate": True},
    ]
    flag, warnings = _convert_flag(rules=[{"id": "r", "variation": 1, "clauses": clauses}])
    assert flag["rules"] == [
        {
            "id": "r",
            "clauses": [
                {"attribute": "/~1a~1b~0c", "op": "semver_lt", "values": ["1.0"]},
                {
                    "attribute": "/a/b",
                    "context_kind": "org",
                    "op": "starts_with",
                    "values": ["x"],
                    "negate": True,
                },
            ],
            "serve": {"variation": 1},
        }
    ]
    assert warnings == []
    snap = Snapshot.from_document(import_document({"flags": {"f": _flag(rules=flag_rules(clauses[:1]))}}))
    assert snap.evaluate("f", {"key": "k", "/a/b~c": "0.9.0"}).variation == 1


def flag_rules(clauses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": "r", "variation": 1, "clauses": clauses}]


def test_unknown_operator_never_matches_but_keeps_negate_and_warns() -> None:
    clause = {"attribute": "key", "op": "equals", "values": ["k"], "negate": True}
    flag, warnings = _convert_flag(rules=flag_rules([clause]))
    assert flag["rules"][0]["clauses"] == [{"attribute": "key", "op": "in", "values": [], "negate": True}]
    assert len(warnings) == 1
    assert "unknown operator 'equals'" in warnings[0]
    assert warnings[0].startswith("flags.f.rules[0].clauses[0].op: ")


def test_rollout_weights_are_normalised_without_changing_buckets() -> None:
    short = {"variations": [{"variation": 0, "weight": 1}, {"variation": 1, "weight": 1}]}
    long = {
        "variations": [
            {"variation": 0, "weight": 70000},
            {"variation": 1, "weight": 50000},
            {"variation": 0, "weight": 5},
        ]
    }
    flag, warnings = _convert_flag(fallthrough={"rollout": short}, rules=[{"rollout": long, "clauses": []}])
    assert flag["fallthrough"]["rollout"] == {
        "variations": [{"variation": 0, "weight": 1}, {"variation": 1, "weight": 99999}],
        "algorithm": "launchdarkly-sha1",
    }
    assert flag["rules"][0]["serve"]["rollout"]["variations"] == [
        {"variation": 0, "weight": 70000},
        {"variation": 1, "weight": 30000},
    ]
    assert warnings == []


def test_rollout_fields_carry_over() -> None:
    rollout = {
        "variations": [{"variation": 1, "weight": 100000, "untracked": True}],
        "bucketBy": "/x",
        "seed": 61,
        "kind": "experiment",
    }
    flag, _ = _convert_flag(fallthrough={"rollout": rollout})
    assert flag["fallthrough"]["rollout"] == {
        "variations": [{"variation": 1, "weight": 100000, "untracked": True}],
        "algorithm": "launchdarkly-sha1",
        "bucket_by": "/~1x",  # no contextKind: a literal attribute name
        "seed": 61,
        "kind": "experiment",
    }


def test_context_targets_follow_launchdarkly_order() -> None:
    flag, warnings = _convert_flag(
        targets=[{"variation": 1, "values": ["u1"]}, {"variation": 0, "values": ["u0"]}],
        contextTargets=[
            {"contextKind": "org", "variation": 0, "values": ["o1"]},
            {"contextKind": "user", "variation": 1, "values": []},
        ],
    )
    assert flag["targets"] == [
        {"variation": 0, "values": ["o1"], "context_kind": "org"},
        {"variation": 1, "values": ["u1"]},
    ]
    assert warnings == [
        "flags.f.targets[1]: no contextTargets entry refers to it, so LaunchDarkly never evaluates it; "
        "dropped"
    ]


def test_missing_serve_and_empty_rollout_stay_malformed() -> None:
    doc, warnings = import_document_with_warnings(
        {"flags": {"f": {"on": True, "variations": [1], "rules": [{"clauses": []}]}}}
    )
    assert "serve" not in doc["flags"]["f"]["rules"][0]
    assert "fallthrough" not in doc["flags"]["f"]
    assert len(warnings) == 2
    assert validate_document(doc) != []
    result = Snapshot.from_document(doc, strict=False).evaluate("f", {"key": "k"})
    assert result.reason.to_dict() == {"kind": "ERROR", "error_kind": "MALFORMED_FLAG"}


def test_segments_convert_with_launchdarkly_salt_and_bucketing() -> None:
    segment = {
        "included": ["a"],
        "includedContexts": [{"contextKind": "org", "values": ["o"]}],
        "excludedContexts": [{"contextKind": "org", "values": ["p"]}],
        "rules": [
            {"id": "r", "clauses": [], "weight": 5000, "bucketBy": "email", "rolloutContextKind": "user"}
        ],
        "salt": "s",
        "version": 2,
        "unbounded": False,
    }
    doc, warnings = import_document_with_warnings({"segments": {"s1": segment}})
    assert doc["segments"]["s1"] == {
        "key": "s1",
        "included": ["a"],
        "included_contexts": [{"context_kind": "org", "values": ["o"]}],
        "excluded_contexts": [{"context_kind": "org", "values": ["p"]}],
        "rules": [
            {
                "id": "r",
                "clauses": [],
                "weight": 5000,
                "algorithm": "launchdarkly-sha1",
                "rollout_context_kind": "user",
                "bucket_by": "email",
            }
        ],
        "salt": "s",
        "version": 2,
    }
    assert warnings == []


def test_values_that_can_never_match_are_dropped_with_a_warning() -> None:
    clauses: list[dict[str, Any]] = [
        {"attribute": "a", "op": "before", "values": ["2017-12-06", 1512543600000, None, True]},
        {"attribute": "a", "op": "semVerEqual", "values": ["2.0", "v2.0.0", 2]},
        {"attribute": "a", "op": "matches", "values": ["^a", "a\\z"]},
    ]
    flag, warnings = _convert_flag(rules=flag_rules(clauses))
    assert [c["values"] for c in flag["rules"][0]["clauses"]] == [[1512543600000], ["2.0"], ["^a"]]
    assert len(warnings) == 6
    assert all("LaunchDarkly never matches it either" in w for w in warnings[:5])
    assert warnings[5].startswith("flags.f.rules[0].clauses[2].values[1]: ")
    assert "results can differ" in warnings[5]
    assert validate_document(import_document({"flags": {"f": _flag(rules=flag_rules(clauses))}})) == []


def test_what_cannot_be_expressed_is_warned_about() -> None:
    ld = {
        "flags": {
            "gone": {"deleted": True},
            "f": _flag(
                trackEvents=True,
                trackEventsFallthrough=False,
                clientSideAvailability={"usingEnvironmentId": False, "usingMobileKey": True},
                rules=flag_rules([{"attribute": "a", "op": "in", "values": [{"x": 1}, "y"]}]),
                somethingNew=1,
            ),
        },
        "segments": {"big": {"unbounded": True, "generation": 1}},
        "extra": {},
    }
    doc, warnings = import_document_with_warnings(ld)
    assert "gone" not in doc["flags"]
    assert doc["flags"]["f"]["rules"][0]["clauses"][0]["values"] == ["y"]
    paths = sorted(w.path for w in warnings)
    assert paths == [
        "extra",
        "flags.f.clientSideAvailability.usingMobileKey",
        "flags.f.rules[0].clauses[0].values[0]",
        "flags.f.somethingNew",
        "flags.f.trackEvents",
        "flags.gone",
        "segments.big",
    ]
