"""Checks HTTP responses against the OFREP OpenAPI document in ../shared/conformance (read, never copied).

Status codes, documented headers and JSON bodies (jsonschema, draft 2020-12, the spec's own component
schemas). Two places where the document cannot be applied literally are adjusted here, and only these:

1. `evaluationSuccess` picks the value's type with `oneOf` over booleanFlag/stringFlag/integerFlag/floatFlag/
   objectFlag/codeDefaultFlag; codeDefaultFlag has no constraints and an integer is also a number, so *no*
   value can match exactly one branch. The union is validated as `anyOf`, and `value_kind` checks instead
   that a value, when present, is a boolean, string, number or JSON object/array (OpenFeature "object").
2. `Retry-After` of the single-flag 429 is typed as a date-time only, while its description (and the bulk
   endpoint's schema) allow a number of seconds; integer seconds are accepted for both.
3. A 500 comes from the server's one last-resort handler as `application/problem+json` (JSON by RFC 6839's
   `+json` suffix); its body is still validated against `generalErrorResponse`.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "ofrep-protocol" / "service"
)
BASE_URI = "urn:ofrep:openapi"
SINGLE = ("/ofrep/v1/evaluate/flags/{key}", "post")
BULK = ("/ofrep/v1/evaluate/flags", "post")


@cache
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load((SPEC_PATH / "openapi.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict) and loaded["info"]["title"].startswith("OpenFeature Remote Evaluation")
    return loaded


@cache
def event_streams_spec() -> dict[str, Any]:
    loaded = yaml.safe_load((SPEC_PATH / "event-streams.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@cache
def _registry() -> Registry[Any]:
    document = copy.deepcopy(spec())
    union = document["components"]["schemas"]["evaluationSuccess"]["allOf"][1]
    assert set(union) == {"oneOf"} and len(union["oneOf"]) == 6, "the spec changed: revisit adjustment 1"
    union["anyOf"] = union.pop("oneOf")
    registry: Registry[Any] = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(document))
    return registry


def validate(schema: dict[str, Any], instance: Any) -> None:
    """Validate against a schema fragment of the spec (its `$ref`s resolve inside the spec)."""
    wrapped = {"$id": f"{BASE_URI}-fragment", "allOf": [_absolute(schema)]}
    validator = jsonschema.Draft202012Validator(
        wrapped, registry=_registry(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(instance)


def component(name: str, instance: Any) -> None:
    validate({"$ref": f"#/components/schemas/{name}"}, instance)


def _absolute(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: (BASE_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


def value_kind(item: dict[str, Any]) -> str:
    """The OpenFeature type of a success item's value ("code default" when it has none)."""
    if "value" not in item:
        return "code default"
    value = item["value"]
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    assert isinstance(value, dict | list), f"a value of no OpenFeature type: {value!r}"
    return "object"


def check(response: httpx.Response, operation: tuple[str, str]) -> Any:
    """Assert the response is one the spec documents for `operation`; return its JSON body (or None)."""
    path, method = operation
    documented = spec()["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in documented, f"{status} is not a documented response of {method.upper()} {path}"
    expected = documented[status]
    for name, header in expected.get("headers", {}).items():
        assert name.lower() in response.headers, f"{status} must carry {name}"
        _check_header(name, response.headers[name], header["schema"])
    if response.status_code == 304:
        assert response.content == b""
        return None
    content = expected.get("content")
    if content is None:
        return response.json() if response.content else None
    media_type = response.headers["content-type"].split(";")[0].strip()
    assert media_type == "application/json" or (status == "500" and media_type == "application/problem+json")
    body = response.json()
    validate(content["application/json"]["schema"], body)
    items = body.get("flags", [body]) if isinstance(body, dict) else []
    for item in items:
        if "reason" in item:
            value_kind(item)
    return body


def _check_header(name: str, value: str, schema: dict[str, Any]) -> None:
    if name == "Retry-After" and value.strip().isdigit():  # adjustment 2
        assert int(value) >= 0
        return
    options = schema.get("oneOf", [schema])
    string_options = [o for o in options if o.get("type") == "string"]
    assert string_options, f"{name}: {value!r} has no string form in {schema}"
    validate(string_options[0], value)


def check_sse_event(fields: dict[str, str]) -> dict[str, Any]:
    """One received SSE event (`data`, `event`, `id`) against `sseEvent` and its `sseEventData` payload."""
    item_ref = event_streams_spec()["components"]["pathItems"]["eventStreamConnection"]["get"]["responses"][
        "200"
    ]
    ref = item_ref["content"]["text/event-stream"]["itemSchema"]["$ref"]
    assert ref == "openapi.yaml#/components/schemas/sseEvent"
    component("sseEvent", fields)
    data = json.loads(fields["data"])
    component("sseEventData", data)
    assert isinstance(data, dict)
    return data
