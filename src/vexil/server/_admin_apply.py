"""Admin route for flags as code: `POST /api/v1/projects/{project}/apply` runs a batch of changes in one
transaction (`Service.apply_changes`), and its OpenAPI path object.

HTTP only: parse, call the use case in the thread pool, render; a version conflict lists every conflicting
resource (409), a validation failure every problem with its path (422).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vexil.service import ApplyConflict, parse_changes, parse_snapshot_versions

from ._admin_http import AdminContext, actor, call, json_object, param, resource_route, write_options
from ._problems import FieldError, ProblemError, ProblemType

APPLY_PATH = "/api/v1/projects/{project}/apply"
_REQUEST_FIELDS = frozenset({"changes", "snapshot_versions"})


def apply_routes(ctx: AdminContext) -> list[Route]:
    async def apply(request: Request) -> Response:
        who = await actor(ctx, request)
        write = write_options(request, await json_object(request, ctx.settings))
        unknown = sorted(set(write.body) - _REQUEST_FIELDS)
        if unknown:
            raise ProblemError.at(ProblemType.VALIDATION_FAILED, unknown[0], "unknown field")
        changes = parse_changes(write.body.get("changes"))
        preconditions = parse_snapshot_versions(write.body.get("snapshot_versions"))
        try:
            result = await call(
                ctx.service.apply_changes,
                who,
                param(request, "project"),
                changes,
                snapshot_versions=preconditions,
                comment=write.comment,
            )
        except ApplyConflict as exc:
            raise conflict_problem(exc) from None
        return JSONResponse(result.to_dict())

    return [resource_route(APPLY_PATH, {"POST": apply}, "apply")]


def conflict_problem(exc: ApplyConflict) -> ProblemError:
    """409 naming each conflicting change (`changes[i]`) or environment snapshot precondition."""
    errors = [
        FieldError(
            f"changes[{c.index}]" if c.index is not None else f"snapshot_versions.{c.key}",
            c.message,
        )
        for c in exc.conflicts
    ]
    return ProblemError(
        ProblemType.VERSION_CONFLICT,
        exc.message,
        errors,
        extra={"conflicts": [c.to_dict() for c in exc.conflicts]},
    )


# -- the OpenAPI description (plain dicts; refers to the document's shared components)

_KEY = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"}
_NULLABLE_VERSION = {"type": ["integer", "null"], "minimum": 0}


def _error(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{name}"}


def apply_openapi_paths() -> dict[str, Any]:
    """The path object of the apply route, for the admin API's OpenAPI document."""
    change = {
        "type": "object",
        "additionalProperties": False,
        "required": ["resource", "action", "key"],
        "properties": {
            "resource": {
                "type": "string",
                "enum": ["project", "environment", "flag", "targeting", "segment"],
            },
            "action": {"type": "string", "enum": ["create", "replace", "delete"]},
            "key": {**_KEY, "description": "Project, environment, flag (also for targeting) or segment key"},
            "environment": {**_KEY, "description": "Targeting and segments: their environment"},
            "body": {"type": "object", "description": "create/replace: the resource body, as for PUT"},
            "expected_version": {
                **_NULLABLE_VERSION,
                "description": "The version planned against (null: unconditional; must be null to create)",
            },
        },
    }
    request = {
        "type": "object",
        "additionalProperties": False,
        "required": ["changes"],
        "properties": {
            "changes": {"type": "array", "items": change},
            "snapshot_versions": {
                "type": "object",
                "description": "Per environment, the snapshot version planned against (changed: 409)",
                "propertyNames": _KEY,
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "comment": {"type": ["string", "null"], "maxLength": 2000, "description": "Audit comment"},
        },
    }
    applied = {
        "type": "object",
        "required": ["resource", "action", "key", "environment", "version"],
        "properties": {
            "resource": {"type": "string"},
            "action": {"type": "string"},
            "key": {"type": "string"},
            "environment": {"type": ["string", "null"]},
            "version": {"type": ["integer", "null"], "description": "The new version (null once deleted)"},
        },
    }
    result = {
        "type": "object",
        "required": ["applied", "snapshot_versions"],
        "properties": {
            "applied": {"type": "array", "items": applied},
            "snapshot_versions": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    operation = {
        "operationId": "applyChanges",
        "summary": "Apply a batch of changes (flags as code) in one transaction: all or nothing",
        "description": (
            "Environments (create, replace), flags (create, replace, delete), targeting (replace) "
            "and segments (create, replace, delete). Any stale `expected_version` or "
            "`snapshot_versions` entry: 409 listing every conflict (`conflicts`) and nothing applied. "
            "Every affected environment's whole document is validated after all changes (422 with paths)."
        ),
        "tags": ["Flags"],
        "parameters": [
            {"$ref": "#/components/parameters/project"},
            {"$ref": "#/components/parameters/Comment"},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {
            "200": {
                "description": "Everything applied",
                "content": {"application/json": {"schema": result}},
            },
            **{
                str(status): _error(name)
                for status, name in (
                    (400, "BadRequest"),
                    (401, "Unauthorized"),
                    (403, "Forbidden"),
                    (404, "NotFound"),
                    (409, "Conflict"),
                    (413, "TooLarge"),
                    (422, "Invalid"),
                )
            },
        },
    }
    return {APPLY_PATH: {"post": operation}}
