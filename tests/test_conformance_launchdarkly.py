"""LaunchDarkly's SDK test-harness evaluations, run through the LaunchDarkly importer and the engine.

Reads the harness's server-side YAML files from ../shared/conformance (never copied into the repo);
known, explained deviations live in launchdarkly_known_deviations.yaml and are strict xfails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from vexil.engine import ReasonKind, Result, Snapshot
from vexil.importers.launchdarkly import import_document

DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared/conformance/launchdarkly-sdk-test-harness/data/data-files/server-side-eval"
)
DEVIATIONS = Path(__file__).resolve().parent / "launchdarkly_known_deviations.yaml"
EXPECTED_EVALUATIONS = 728


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 scalars, as the harness's Go parser (yaml.v3) reads them into untyped values.

    PyYAML follows YAML 1.1, where `on`/`off`/`yes`/`no` are booleans (every flag's `on:` key would
    turn into True) and unquoted dates become datetimes.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag.rsplit(":", 1)[-1] not in ("bool", "int", "float", "timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass: safe


def _go_number(value: Any) -> Any:
    """The harness keeps every number as a float64 and prints integral ones without a fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_go_number(v) for v in value]
    if isinstance(value, dict):
        return {k: _go_number(v) for k, v in value.items()}
    return value


def _substitute(text: str, values: dict[str, Any]) -> str:
    """The harness's textual substitution: `"<NAME>"` -> the JSON of the value, `<NAME>` -> the
    JSON too, except that a string value is inserted bare (so it can sit inside a longer string)."""
    for name, value in values.items():
        as_json = json.dumps(_go_number(value))
        text = text.replace(f'"<{name}>"', as_json)
        text = text.replace(f"<{name}>", value if isinstance(value, str) else as_json)
    return text


def _parameter_sets(parameters: list[Any]) -> list[dict[str, Any]]:
    """A list of objects: one set each. A list of lists: every combination, the first list varying
    fastest (the harness's order)."""
    if not parameters:
        return []
    if isinstance(parameters[0], dict):
        return [dict(p) for p in parameters]
    out = []
    indices = [0] * len(parameters)
    while True:
        merged: dict[str, Any] = {}
        for i, options in enumerate(parameters):
            merged.update(options[indices[i]])
        out.append(merged)
        position = 0
        while position < len(parameters):
            indices[position] += 1
            if indices[position] < len(parameters[position]):
                break
            indices[position] = 0
            position += 1
        if position == len(parameters):
            return out


def expand(text: str) -> list[dict[str, Any]]:
    """One parsed suite per parameter set, constants substituted before and after the parameters
    (constants may refer to parameters, and parameters to constants)."""
    head = _load(text)
    constants = head.get("constants") or {}
    parameters = head.get("parameters") or []
    if not constants and not parameters:
        return [head]
    sets = _parameter_sets(parameters)
    if not sets:
        return [_load(_substitute(text, constants))]
    return [_load(_substitute(_substitute(_substitute(text, constants), s), constants)) for s in sets]


@dataclass(frozen=True)
class Case:
    id: str
    sdk_data: dict[str, Any]
    flag_key: str
    context: Any
    value_type: str | None
    default: Any
    expect: dict[str, Any]


@cache
def cases() -> tuple[Case, ...]:
    out: list[Case] = []
    seen: dict[str, int] = {}
    for path in sorted(DATA.glob("*.yml")):
        text = path.read_text()
        suite_is_parameterised = "<" in str(_load(text).get("name", ""))
        for suite in expand(text):
            prefix = f"{path.stem}/" + (f"{suite['name']}/" if suite_is_parameterised else "")
            for ev in suite.get("evaluations") or []:
                base = prefix + str(ev.get("name") or ev["flagKey"])
                seen[base] = seen.get(base, 0) + 1
                case_id = base if seen[base] == 1 else f"{base} #{seen[base]}"
                context = ev["context"] if "context" in ev else ev.get("user")
                out.append(
                    Case(
                        case_id,
                        suite.get("sdkData") or {},
                        ev["flagKey"],
                        context,
                        ev.get("valueType"),
                        ev.get("default"),
                        ev["expect"],
                    )
                )
    return tuple(out)


@cache
def known_deviations() -> dict[str, str]:
    entries = yaml.safe_load(DEVIATIONS.read_text()) or []
    return {e["id"]: e["reason"] for e in entries}


@cache
def snapshot(sdk_data_json: str) -> Snapshot:
    return Snapshot.from_document(import_document(json.loads(sdk_data_json)), strict=False)


# An old-style LaunchDarkly user (no "kind"): these top-level attributes are built in, the rest
# live under "custom". "secondary" and "privateAttributeNames" have no effect on evaluation here.
_USER_BUILTINS = ("name", "email", "firstName", "lastName", "avatar", "ip", "country", "anonymous")


def to_context(ld: Any) -> Any:
    if not isinstance(ld, dict) or "kind" in ld:
        return ld
    context: dict[str, Any] = {"kind": "user", "key": ld.get("key")}
    custom = ld.get("custom")
    for name, value in (custom if isinstance(custom, dict) else {}).items():
        if value is not None:
            context[name] = value
    for name in _USER_BUILTINS:
        if ld.get(name) is not None:
            context[name] = ld[name]
    return context


def has_type(value: Any, value_type: str) -> bool:
    """LaunchDarkly's typed variation calls: int and double both accept any JSON number."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    checks = {
        "bool": isinstance(value, bool),
        "int": is_number,
        "double": is_number,
        "string": isinstance(value, str),
    }
    return checks.get(value_type, True)


def sdk_answer(result: Result, default: Any, value_type: str) -> dict[str, Any]:
    """What a LaunchDarkly SDK's variation call returns around the engine's result: an error or a
    null value gives the caller's default; a value of the wrong JSON type gives WRONG_TYPE."""
    if result.reason.kind is ReasonKind.ERROR:
        return {"value": default, "variation": None, "reason": result.reason.to_dict()}
    if result.value is None:
        return {"value": default, "variation": result.variation, "reason": result.reason.to_dict()}
    if not has_type(result.value, value_type):
        return {"value": default, "variation": None, "reason": {"kind": "ERROR", "error_kind": "WRONG_TYPE"}}
    return result.to_dict()


_REASON_KEYS = {
    "kind": "kind",
    "ruleIndex": "rule_index",
    "ruleId": "rule_id",
    "prerequisiteKey": "prerequisite_key",
    "errorKind": "error_kind",
    "inExperiment": "in_experiment",
}
# LaunchDarkly reason fields vexil's Reason does not have: bigSegmentsStatus reports the state of
# LaunchDarkly's big-segment store, which vexil does not use. They are ignored, not compared.
_IGNORED_REASON_KEYS = frozenset({"bigSegmentsStatus"})


def expected_answer(expect: dict[str, Any]) -> dict[str, Any]:
    reason: dict[str, Any] = {}
    for key, value in (expect.get("reason") or {}).items():
        if key in _IGNORED_REASON_KEYS:
            continue
        assert key in _REASON_KEYS, f"unmapped LaunchDarkly reason field {key!r}"
        if key == "inExperiment" and value is False:
            continue  # vexil's to_dict() omits a false in_experiment
        reason[_REASON_KEYS[key]] = value
    return {"value": expect.get("value"), "variation": expect.get("variationIndex"), "reason": reason}


def canonical(value: Any) -> str:
    """JSON equality: 1 == 1.0, but true != 1 (Python's == would conflate them)."""
    return json.dumps(_go_number(value), sort_keys=True)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" not in metafunc.fixturenames:
        return
    deviations = known_deviations()
    params = []
    for case in cases():
        marks = []
        if case.id in deviations:
            marks.append(pytest.mark.xfail(strict=True, reason=deviations[case.id]))
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("case", params)


def call_parameters(case: Case) -> tuple[Any, str]:
    """The default and value type the harness passes to the SDK: with no default, a zero value of
    the type of the flag's first variation; with no value type, the default's type."""
    default = case.default
    if default is None:
        flag = (case.sdk_data.get("flags") or {}).get(case.flag_key) or {}
        first = (flag.get("variations") or [None])[0]
        zeros: list[tuple[type | tuple[type, ...], Any]] = [(bool, False), ((int, float), 0), (str, "")]
        default = next((zero for types, zero in zeros if isinstance(first, types)), None)
    value_type = case.value_type
    if value_type is None:
        kinds: list[tuple[type | tuple[type, ...], str]] = [(bool, "bool"), (int, "int"), (float, "double")]
        value_type = next((name for types, name in kinds if isinstance(default, types)), None)
        value_type = value_type or ("string" if isinstance(default, str) else "any")
    return default, value_type


def test_evaluation(case: Case) -> None:
    snap = snapshot(json.dumps(case.sdk_data, sort_keys=True))
    result = snap.evaluate(case.flag_key, to_context(case.context))
    default, value_type = call_parameters(case)
    actual = sdk_answer(result, default, value_type)
    expected = expected_answer(case.expect)
    assert canonical(actual) == canonical(expected), f"expected {expected}, got {actual}"


def test_expanded_evaluation_count() -> None:
    assert len(cases()) == EXPECTED_EVALUATIONS


def test_case_ids_are_unique_and_deviations_name_real_cases() -> None:
    ids = [c.id for c in cases()]
    assert len(set(ids)) == len(ids)
    assert set(known_deviations()) <= set(ids), set(known_deviations()) - set(ids)
    assert all(reason.strip() for reason in known_deviations().values())


def test_expansion_follows_the_harness_rules() -> None:
    text = (
        "constants:\n  C: {a: 1}\n  E: <C>\n"
        "parameters:\n  - - {A: x}\n    - {A: 2.0}\n  - - {B: '<C>'}\n"
        "name: '<A>-<B>'\nv: \"<A>\"\nw: <E>\non: true\n"
    )
    suites = expand(text)
    assert [s["name"] for s in suites] == ['x-{"a": 1}', '2-{"a": 1}']
    assert [s["v"] for s in suites] == ["x", 2]
    assert suites[0]["w"] == {"a": 1}
    assert suites[0]["on"] is True
    assert "on" in suites[0]  # YAML 1.2: the key stays the string "on"


def test_old_style_user_becomes_a_user_context() -> None:
    user = {"key": "u", "name": "n", "custom": {"a": 1, "b": None}, "privateAttributeNames": ["a"]}
    assert to_context(user) == {"kind": "user", "key": "u", "name": "n", "a": 1}
    assert to_context({"kind": "org", "key": "o"}) == {"kind": "org", "key": "o"}
