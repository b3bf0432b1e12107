"""The CLI's pure parts, without a server: YAML writing, the flags file, plans, profiles, time options,
error messages from problem responses, and code generation."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.cli._client import ApiClient, ApiError, CliError
from vexil.cli._cmd_audit import parse_when
from vexil.cli._codegen import FlagInfo, flag_info, generate_module
from vexil.cli._docs import parse_yaml
from vexil.cli._flagfile import FlagFileError, parse_flag_file, render
from vexil.cli._plan import check_documents, final_documents, make_plan, render_plan
from vexil.cli._profiles import Profile, ProfileStore
from vexil.cli._state import EnvRecord, FlagRecord, ServerState, Versioned, new_project_state
from vexil.cli._yaml_dump import dump_yaml

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
TRICKY = [
    "on",
    "off",
    "yes",
    "No",
    "null",
    "~",
    "0o17",
    "0x1F",
    "1e5",
    "012",
    "1:30",
    "2024-01-01",
    ".inf",
    "- a",
    "#",
    "a\nb",
]


@given(JSON)
@settings(max_examples=500, deadline=None)
def test_written_yaml_reads_back_as_the_same_data(value: Any) -> None:
    text = dump_yaml({"value": value})
    assert parse_yaml(text, "t") == {"value": value}  # the CLI's YAML 1.2 loader
    assert yaml.safe_load(text) == {"value": value}  # and a YAML 1.1 reader


def test_strings_that_look_like_other_scalars_stay_strings() -> None:
    text = dump_yaml({name: name for name in TRICKY} | {"on": True})
    assert parse_yaml(text, "t") == {name: name for name in TRICKY} | {"on": True}
    assert '"on": true' in text and "&" not in text  # quoted like docs/flag-format.md, and no anchors
    shared = {"a": 1}
    assert "*" not in dump_yaml({"x": shared, "y": shared})


def _file(data: dict[str, Any]) -> Any:
    return parse_flag_file({"format": "vexil/v1", "project": "shop", **data}, "f.yaml")


def test_flag_files_report_every_problem_with_its_path() -> None:
    with pytest.raises(FlagFileError) as caught:
        parse_flag_file(
            {
                "format": "vexil/v2",
                "environments": {"production": {"name": 3, "color": "red"}},
                "flags": {
                    "a": {"variations": [True, False], "on": True, "environments": {"staging": {"on": True}}},
                    "b": {"variations": [1], "environments": {"production": {"variations": [2]}}},
                },
                "segments": {"qa": {}},
                "extra": 1,
            },
            "f.yaml",
        )
    assert caught.value.problems == [
        "document.extra: unknown field",
        "format: must be 'vexil/v1'",
        "project: required: the project key",
        "environments.production.color: unknown field",
        "environments.production.name: must be a string",
        "flags.a.on: unknown field (targeting: write it under the flag's environments.<env>)",
        "flags.a.environments.staging: environment 'staging' is not declared under environments",
        "flags.b.environments.production.variations: unknown field"
        " (part of the definition: write it on the flag itself)",
        "segments.qa: environment 'qa' is not declared under environments",
    ]
    assert str(caught.value).startswith("f.yaml: not a valid flags file:\n  document.extra")


def _state() -> ServerState:
    state = ServerState("shop", True)
    state.environments = {
        "development": EnvRecord("Development", False, 1, 5),
        "production": EnvRecord("Production", True, 2, 9),
    }
    off = {"on": False, "off_variation": 0, "fallthrough": {"variation": 1}}
    state.flags = {
        "checkout": FlagRecord(
            Versioned({"variations": [False, True]}, 3),
            {"development": Versioned(off, 1), "production": Versioned({**off, "on": True}, 4)},
        ),
        "old": FlagRecord(
            Versioned({"variations": [1, 2]}, 1),
            {"development": Versioned(off, 1), "production": Versioned(off, 1)},
        ),
    }
    state.segments = {"development": {}, "production": {"beta": Versioned({"included": ["u1"]}, 2)}}
    return state


def test_plans_carry_versions_and_only_delete_with_prune() -> None:
    desired = _file(
        {
            "environments": {"development": {"name": "Dev"}, "production": {}},
            "flags": {
                "checkout": {
                    "variations": [False, True],
                    "environments": {
                        "production": {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}}
                    },
                },
                "theme": {"variations": ["a", "b"]},
            },
            "segments": {"production": {"beta": {"included": ["u1", "u2"]}}},
        }
    )
    plan = make_plan(desired, _state(), prune=False)
    assert [(c.resource, c.action, c.key, c.environment, c.expected_version) for c in plan.changes] == [
        ("environment", "replace", "development", None, 1),
        ("flag", "create", "theme", None, None),
        ("segment", "replace", "beta", "production", 2),
    ]
    assert plan.snapshot_versions == {"development": 5, "production": 9}
    assert plan.kept == ["flag old"]
    assert plan.changes[0].after == {"name": "Dev", "critical": False}
    pruned = make_plan(desired, _state(), prune=True)
    assert ("flag", "delete", "old", 1) in [
        (c.resource, c.action, c.key, c.expected_version) for c in pruned.changes
    ]
    text = "\n".join(render_plan(plan, color=False))
    assert "~ replace segment beta in production\n" in text and "    +  - u2" in text
    assert text.endswith("Plan: 1 to create, 2 to change, 0 to delete.")
    assert json.loads(json.dumps(plan.to_dict()))["changes"][0]["expected_version"] == 1


def test_a_missing_project_is_planned_as_a_new_one_with_the_default_environments() -> None:
    desired = _file(
        {
            "environments": {"production": {}, "staging": {"critical": True}},
            "flags": {"f": {"variations": [1, 2]}},
        }
    )
    plan = make_plan(desired, new_project_state("shop"), prune=True)
    assert [(c.resource, c.action, c.key) for c in plan.changes] == [
        ("project", "create", "shop"),
        ("environment", "create", "staging"),
        ("flag", "create", "f"),
    ]
    assert plan.snapshot_versions == {}


def test_local_checks_use_the_planned_documents() -> None:
    desired = _file(
        {
            "environments": {"development": {}, "production": {}},
            "flags": {
                "f": {
                    "variations": [1],
                    "environments": {"production": {"on": True, "fallthrough": {"variation": 3}}},
                }
            },
        }
    )
    problems = check_documents(final_documents(desired, _state(), prune=False))
    assert problems == [
        "flags.f.fallthrough.variation: variation 3 is out of range: the flag has 1 variation"
        " (in environment production)"
    ]
    desired.flags["f"].definition["variations"] = []
    both = check_documents(final_documents(desired, _state(), prune=False))
    assert both and not both[0].endswith(")")  # found in every environment: listed once, without a suffix


def test_exported_files_are_sorted_and_stable() -> None:
    desired = _file(
        {
            "environments": {"production": {"critical": True, "name": "Prod"}},
            "flags": {
                "z": {"variations": [{"b": 1, "a": 2}], "description": "Z"},
                "a": {"variations": [True, False]},
            },
        }
    )
    text = render(desired)
    data = parse_yaml(text, "t")
    assert list(data) == ["format", "project", "environments", "flags", "segments"]
    assert list(data["flags"]) == ["a", "z"] and list(data["flags"]["z"]) == [
        "description",
        "variations",
        "environments",
    ]
    assert list(data["flags"]["z"]["variations"][0]) == ["a", "b"]
    assert list(data["environments"]["production"]) == ["name", "critical"]
    assert render(parse_flag_file(data, "t")) == text


def test_profiles_are_private_and_resolved_in_order(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "vexil" / "profiles.json")
    store.save("default", Profile("http://a", "ka", "p1"), make_current=True)
    store.save("ops", Profile("http://b", "kb"), make_current=False)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.resolve(None, {}).url == "http://a"
    assert store.resolve("ops", {}).key == "kb" and store.resolve("ops", {}).project == "default"
    assert store.resolve(None, {"VEXIL_PROFILE": "ops"}).url == "http://b"
    env = {"VEXIL_URL": "http://c", "VEXIL_KEY": "kc", "VEXIL_PROJECT": "p2"}
    assert store.resolve(None, env) == store.resolve(None, env) and store.resolve(None, env).url == "http://c"
    assert (store.resolve(None, env).key, store.resolve(None, env).project) == ("kc", "p2")
    with pytest.raises(CliError, match="no profile named 'x'"):
        store.resolve("x", {})
    store.path.write_text("{not json")
    with pytest.raises(CliError, match="not valid JSON"):
        store.resolve(None, {})


def test_time_options() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert parse_when("1d", "--since", now) == "2026-03-01T12:00:00.000000Z"
    assert parse_when("90m", "--since", now) == "2026-03-02T10:30:00.000000Z"
    assert parse_when("2026-03-01", "--since") == "2026-03-01T00:00:00.000000Z"
    assert parse_when("2026-03-01T10:00:00+02:00", "--since") == "2026-03-01T08:00:00.000000Z"
    with pytest.raises(click.BadParameter):
        parse_when("last week", "--since")


def _answering(status: int, body: Any, content_type: str = "application/problem+json") -> ApiClient:
    def handler(request: httpx.Request) -> httpx.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        return httpx.Response(status, text=text, headers={"Content-Type": content_type})

    return ApiClient("http://vexil.test", "k", transport=httpx.MockTransport(handler))


def test_problem_responses_become_one_readable_error() -> None:
    conflict = {
        "type": "urn:vexil:problem:version-conflict",
        "status": 409,
        "detail": "flag 'f' is at version 3, not 2",
        "errors": [],
    }
    with pytest.raises(ApiError) as caught, _answering(409, conflict) as api:
        api.get("/api/v1/x")
    assert caught.value.format_message() == "409 conflict: flag 'f' is at version 3, not 2"
    assert caught.value.status == 409 and caught.value.problem == conflict
    invalid = {
        "detail": "validation failed: a: x (and 1 more)",
        "errors": [{"path": "a", "message": "x"}, {"path": "b", "message": "y"}],
    }
    with pytest.raises(ApiError) as caught, _answering(422, invalid) as api:
        api.post("/api/v1/x", {})
    assert caught.value.format_message().splitlines() == [
        "422 invalid: validation failed: a: x (and 1 more)",
        "  a: x",
        "  b: y",
    ]
    with pytest.raises(ApiError) as caught, _answering(502, "<html>bad gateway</html>", "text/html") as api:
        api.get("/api/v1/x")
    assert caught.value.format_message() == "502 bad gateway: <html>bad gateway</html>"
    with (
        pytest.raises(CliError, match=r"^cannot reach http://127\.0\.0\.1:9"),
        ApiClient("http://127.0.0.1:9", "k") as api,
    ):
        api.get("/api/v1/x")


def test_codegen_names_types_and_defaults() -> None:
    flags = [
        FlagInfo("class", [True, False], False),
        FlagInfo("value", ["a"], "a"),
        FlagInfo("9-lives", [1, 2], 1),
        FlagInfo("a.b", [True, False], True),
        FlagInfo("a-b", [True, False], True),
        FlagInfo("newCheckout", [{"x": 1}, {"x": 2, "y": None}], {"x": 1}, 'with """ quotes \\'),
    ]
    source = generate_module(flags, source="a test")
    compile(source, "generated.py", "exec")  # valid Python whatever the keys and descriptions
    for name in ("class_", "value_flag", "flag_9_lives", "a_b", "a_b_flag", "new_checkout"):
        assert f"def {name}(client: Client, context: ContextLike)" in source
    assert "    x: float\n    y: NotRequired[None]" in source
    assert 'client.number("9-lives", context, 1.0)' in source
    info = flag_info("f", {"variations": ["a", "b"], "description": "D"}, {"off_variation": 1})
    assert (info.default, info.description) == ("b", "D")
    assert flag_info("f", {"variations": ["a", "b"]}, {"off_variation": None}).default == "a"
    compile(generate_module([], source="nothing"), "empty.py", "exec")
