"""The JSON Schemas of the admin API's bodies (OpenAPI 3.1 `components.schemas`), built as plain dicts.

Flag, targeting and segment fields reuse the engine's flag-format schema, so the document cannot drift
from what the engine accepts. Schemas only: no routes, no validation is performed with them here.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ._admin_http import MAX_COMMENT_LENGTH
from ._admin_query import KEY_RE

Schema = dict[str, Any]

#: Engine `$defs` become components named with this prefix (`fmt.rule`, `fmt.serve`, ...).
FORMAT_PREFIX = "fmt."
KEY_PATTERN = f"^{KEY_RE.pattern}$"
ETAG_PATTERN = '^"[0-9]+"$'

DEFINITION_FIELDS = (
    "variations",
    "variation_info",
    "description",
    "tags",
    "temporary",
    "owner",
    "client_side",
    "salt",
)
TARGETING_FIELDS = ("on", "targets", "rules", "fallthrough", "off_variation", "prerequisites")
SEGMENT_FIELDS = (
    "included",
    "excluded",
    "included_contexts",
    "excluded_contexts",
    "rules",
    "salt",
    "description",
)
#: Fields of the API's own representations, accepted and ignored in request bodies (GET -> edit -> PUT).
READ_ONLY_FIELDS = ("created_at", "updated_at", "project", "environment", "flag", "snapshot_version")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _engine_defs() -> dict[str, Schema]:
    text = importlib.resources.files("vexil.engine").joinpath("flag-format.schema.json").read_text("utf-8")
    defs: dict[str, Schema] = json.loads(text)["$defs"]
    return {FORMAT_PREFIX + name: _rewrite_refs(schema) for name, schema in defs.items()}


def _rewrite_refs(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _rewrite_refs(v) for k, v in value.items()}
        target = out.get("$ref")
        if isinstance(target, str) and target.startswith("#/$defs/"):
            out["$ref"] = "#/components/schemas/" + FORMAT_PREFIX + target.removeprefix("#/$defs/")
        return out
    if isinstance(value, list):
        return [_rewrite_refs(v) for v in value]
    return value


def _write_extras() -> dict[str, Schema]:
    """Members every write body may carry: the audit comment, an expected version, read-only echoes."""
    extras: dict[str, Schema] = {
        "comment": nullable(
            {"type": "string", "maxLength": MAX_COMMENT_LENGTH, "description": "Audit comment."}
        ),
        "version": nullable(
            {
                "type": "integer",
                "minimum": 0,
                "description": "Expected current version (optimistic concurrency); If-Match wins.",
            }
        ),
    }
    extras.update({name: {"description": "Read-only; accepted and ignored."} for name in READ_ONLY_FIELDS})
    return extras


def _body(properties: Mapping[str, Schema], required: Iterable[str] = ()) -> Schema:
    schema: Schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {**_write_extras(), **properties},
    }
    needed = list(required)
    if needed:
        schema["required"] = needed
    return schema


def _patch(properties: Mapping[str, Schema]) -> Schema:
    """A JSON merge patch (RFC 7396) of `properties`: any subset; null removes; objects merge recursively."""
    patched: dict[str, Schema] = {}
    for name, schema in properties.items():
        is_object = schema.get("type") == "object" or (
            "$ref" in schema and schema["$ref"].endswith(FORMAT_PREFIX + "serve")
        )
        patched[name] = {"type": ["object", "null"]} if is_object else nullable(schema)
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "JSON merge patch (RFC 7396): members set here replace, null removes, objects merge.",
        "properties": {**_write_extras(), **patched},
    }


def _response(properties: Mapping[str, Schema], required: Iterable[str]) -> Schema:
    return {"type": "object", "properties": dict(properties), "required": list(required)}


def _fields(defs: Mapping[str, Schema], definition: str, names: Iterable[str]) -> dict[str, Schema]:
    source = defs[FORMAT_PREFIX + definition]["properties"]
    return {name: copy.deepcopy(source[name]) for name in names}


def component_schemas() -> dict[str, Schema]:
    """Every schema the document refers to, by component name."""
    defs = _engine_defs()
    key = ref(FORMAT_PREFIX + "key")
    time = {"type": "string", "format": "date-time"}
    version = {"type": "integer", "minimum": 0}
    name = {"type": "string", "maxLength": 200}

    project: dict[str, Schema] = {"name": name, "description": {"type": "string", "maxLength": 10_000}}
    environment: dict[str, Schema] = {"name": name, "critical": {"type": "boolean"}}
    definition = _fields(defs, "flag", DEFINITION_FIELDS)
    targeting = _fields(defs, "flag", TARGETING_FIELDS)
    segment = _fields(defs, "segment", SEGMENT_FIELDS)

    schemas: dict[str, Schema] = dict(defs)
    schemas.update(
        {
            "ProjectCreate": _body({"key": key, **project}, ["key"]),
            "ProjectReplace": _body({"key": key, **project}),
            "ProjectPatch": _patch({"key": key, **project}),
            "Project": _response(
                {"key": key, **project, "version": version, "created_at": time, "updated_at": time},
                ["key", "name", "description", "version", "created_at", "updated_at"],
            ),
            "EnvironmentCreate": _body({"key": key, **environment}, ["key"]),
            "EnvironmentReplace": _body({"key": key, **environment}),
            "EnvironmentPatch": _patch({"key": key, **environment}),
            "Environment": _response(
                {
                    "key": key,
                    "project": key,
                    **environment,
                    "version": version,
                    "snapshot_version": version,
                    "created_at": time,
                    "updated_at": time,
                },
                [
                    "key",
                    "project",
                    "name",
                    "critical",
                    "version",
                    "snapshot_version",
                    "created_at",
                    "updated_at",
                ],
            ),
            "FlagCreate": _body({"key": key, **definition}, ["key", "variations"]),
            "FlagReplace": _body({"key": key, **definition}, ["variations"]),
            "FlagPatch": _patch({"key": key, **definition}),
            "Flag": _response(
                {
                    "key": key,
                    "project": key,
                    **definition,
                    "version": version,
                    "created_at": time,
                    "updated_at": time,
                },
                ["key", "project", "variations", "version", "created_at", "updated_at"],
            ),
            "TargetingReplace": _body({"key": key, **targeting}, ["fallthrough"]),
            "TargetingPatch": _patch({"key": key, **targeting}),
            "Targeting": _response(
                {
                    "flag": key,
                    "project": key,
                    "environment": key,
                    **targeting,
                    "version": version,
                    "updated_at": time,
                },
                ["flag", "project", "environment", "version", "updated_at"],
            ),
            "SegmentCreate": _body({"key": key, **segment}, ["key"]),
            "SegmentReplace": _body({"key": key, **segment}),
            "SegmentPatch": _patch({"key": key, **segment}),
            "Segment": _response(
                {
                    "key": key,
                    "project": key,
                    "environment": key,
                    **segment,
                    "version": version,
                    "created_at": time,
                    "updated_at": time,
                },
                ["key", "project", "environment", "version", "created_at", "updated_at"],
            ),
            **_key_schemas(key, time),
            **_record_schemas(key, time),
        }
    )
    return schemas


def _key_schemas(key: Schema, time: Schema) -> dict[str, Schema]:
    kind = {"type": "string", "enum": ["admin", "server", "client"]}
    role = {"type": "string", "enum": ["reader", "writer", "admin"]}
    projects = {"type": "array", "items": key, "minItems": 1}
    admin_only = {"properties": {"project": {"type": "null"}, "environment": {"type": "null"}}}
    sdk_only = {
        "required": ["project", "environment"],
        "properties": {
            "project": key,
            "environment": key,
            "role": {"type": "null"},
            "projects": {"type": "null"},
        },
    }
    create = _body(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "kind": kind,
            "role": nullable({**role, "description": "Admin keys only; default reader."}),
            "projects": nullable(
                {**projects, "description": "Admin keys only; null or absent: all projects."}
            ),
            "project": nullable({**key, "description": "Server and client keys: the project."}),
            "environment": nullable({**key, "description": "Server and client keys: the environment."}),
            "id": {"description": "Read-only; accepted and ignored."},
            "prefix": {"description": "Read-only; accepted and ignored."},
        },
        ["name", "kind"],
    )
    create["if"] = {"properties": {"kind": {"const": "admin"}}}
    create["then"] = admin_only
    create["else"] = sdk_only
    api_key = _response(
        {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": kind,
            "role": nullable(role),
            "projects": nullable({"type": "array", "items": {"type": "string"}}),
            "project": nullable({"type": "string"}),
            "environment": nullable({"type": "string"}),
            "prefix": {"type": "string"},
            "created_at": time,
            "created_by": {"type": "string"},
            "revoked_at": nullable(time),
        },
        [
            "id",
            "name",
            "kind",
            "role",
            "projects",
            "project",
            "environment",
            "prefix",
            "created_at",
            "revoked_at",
        ],
    )
    created = copy.deepcopy(api_key)
    created["properties"]["key"] = {
        "type": "string",
        "description": "The secret: shown this once, never again.",
    }
    created["required"].append("key")
    return {"KeyCreate": create, "ApiKey": api_key, "CreatedKey": created}


def _record_schemas(key: Schema, time: Schema) -> dict[str, Schema]:
    text_or_null = nullable({"type": "string"})
    object_or_null = nullable({"type": "object"})
    audit_entry = _response(
        {
            "id": {"type": "integer"},
            "time": time,
            "actor": {"type": "string"},
            "actor_key_id": nullable({"type": "integer"}),
            "project": text_or_null,
            "environment": text_or_null,
            "kind": {
                "type": "string",
                "enum": ["project", "environment", "flag", "targeting", "segment", "key"],
            },
            "resource": {"type": "string"},
            "action": {"type": "string", "enum": ["create", "update", "delete", "revoke"]},
            "before": object_or_null,
            "after": object_or_null,
            "comment": text_or_null,
        },
        [
            "id",
            "time",
            "actor",
            "project",
            "environment",
            "kind",
            "resource",
            "action",
            "before",
            "after",
            "comment",
        ],
    )
    daily = _response(
        {
            "day": {"type": "string", "format": "date"},
            "variation": nullable({"type": "integer"}),
            "count": {"type": "integer", "minimum": 0},
        },
        ["day", "variation", "count"],
    )
    usage = _response(
        {
            "project": key,
            "environment": key,
            "flag": key,
            "last_evaluated": nullable(time),
            "total": {"type": "integer", "minimum": 0},
            "days": {"type": "array", "items": ref("DailyCount")},
        },
        ["project", "environment", "flag", "last_evaluated", "total", "days"],
    )
    problem = _response(
        {
            "type": {"type": "string", "description": "urn:vexil:problem:<name>"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": _response(
                    {"path": {"type": "string"}, "message": {"type": "string"}}, ["path", "message"]
                ),
            },
            "current_version": {
                "type": "integer",
                "description": "Version conflicts: the version stored now.",
            },
        },
        ["type", "title", "status", "detail", "errors"],
    )
    return {
        "AuditEntry": audit_entry,
        "AuditPage": _response(
            {"items": {"type": "array", "items": ref("AuditEntry")}, "next_cursor": text_or_null},
            ["items", "next_cursor"],
        ),
        "DailyCount": daily,
        "FlagUsage": usage,
        "FlagUsagePage": _response(
            {"project": key, "flag": key, "items": {"type": "array", "items": ref("FlagUsage")}},
            ["project", "flag", "items"],
        ),
        "Problem": problem,
    }


def list_of(name: str) -> Schema:
    return _response({"items": {"type": "array", "items": ref(name)}}, ["items"])
