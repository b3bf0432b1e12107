"""The OpenAPI 3.1 document of the admin API, built from plain dicts, and the route serving it.

It describes exactly what the `_admin_*` routes do (tests check it with schemathesis); it handles nothing.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._admin_apply import apply_openapi_paths
from ._admin_audit import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT
from ._admin_http import COMMENT_HEADER, IF_MATCH_PATTERN, MAX_COMMENT_LENGTH, resource_route
from ._openapi_ops import DELETE, ERRORS, JSON, PROBLEM, READ, UPDATE, crud, header, ok, op, query_param
from ._openapi_schemas import (
    KEY_PATTERN,
    Schema,
    component_schemas,
    list_of,
    ref,
)

OPENAPI_PATH = "/api/v1/openapi.json"


def _paths() -> dict[str, Schema]:
    key_schema = {"type": "string", "pattern": KEY_PATTERN}
    p = "/api/v1/projects"
    projects, project = crud(
        "Projects", "project", "Project", (), "project", delete_errors=(400, 401, 403, 404, 409)
    )
    environments, environment = crud("Environments", "environment", "Environment", ("project",), "env")
    flags, flag = crud("Flags", "flag", "Flag", ("project",), "flag", delete_errors=(*DELETE, 422))
    segments, segment = crud(
        "Segments", "segment", "Segment", ("project", "env"), "segment", delete_errors=(*DELETE, 422)
    )
    tgt_params = ("project", "flag", "env")
    targeting = {
        "get": op(
            "getTargeting",
            "Read a flag's targeting in one environment",
            "Targeting",
            {"200": ok(ref("Targeting"), "The targeting", etag=True)},
            READ,
            parameters=tgt_params,
        ),
        "put": op(
            "replaceTargeting",
            "Replace a flag's targeting in one environment",
            "Targeting",
            {"200": ok(ref("Targeting"), "The targeting", etag=True)},
            UPDATE,
            body="TargetingReplace",
            parameters=(*tgt_params, "IfMatch", "Comment"),
        ),
        "patch": op(
            "patchTargeting",
            'Change part of the targeting; the kill switch is {"on": false}',
            "Targeting",
            {"200": ok(ref("Targeting"), "The targeting", etag=True)},
            UPDATE,
            body="TargetingPatch",
            patch=True,
            parameters=(*tgt_params, "IfMatch", "Comment"),
        ),
    }
    all_targeting = {
        "get": op(
            "listTargeting",
            "A flag's targeting in every environment",
            "Targeting",
            {"200": ok(list_of("Targeting"), "One entry per environment")},
            READ,
            parameters=("project", "flag"),
        )
    }
    usage = {
        "get": op(
            "getFlagUsage",
            "Evaluation counts by day and the last evaluation time, per environment",
            "Flags",
            {"200": ok(ref("FlagUsagePage"), "Usage per environment")},
            (400, *READ),
            parameters=("project", "flag"),
            query=[
                query_param("environment", key_schema, "Only this environment"),
                query_param("since", {"type": "string", "format": "date"}, "First day (inclusive, UTC)"),
                query_param("until", {"type": "string", "format": "date"}, "Last day (inclusive, UTC)"),
            ],
        )
    }
    keys = {
        "get": op(
            "listKeys",
            "List API keys (admin role)",
            "Keys",
            {"200": ok(list_of("ApiKey"), "Keys")},
            (401, 403),
        ),
        "post": op(
            "createKey",
            "Create an API key; the response shows its secret once",
            "Keys",
            {"201": ok(ref("CreatedKey"), "The key with its secret", location=True)},
            (400, 401, 403, 404, 413, 422),
            body="KeyCreate",
            parameters=("Comment",),
        ),
    }
    key = {
        "get": op(
            "getKey",
            "Read an API key",
            "Keys",
            {"200": ok(ref("ApiKey"), "The key")},
            READ,
            parameters=("KeyId",),
        ),
        "delete": op(
            "revokeKey",
            "Revoke an API key (idempotent)",
            "Keys",
            {"200": ok(ref("ApiKey"), "The revoked key")},
            (400, *READ),
            parameters=("KeyId", "Comment"),
        ),
    }
    audit = {
        "get": op(
            "queryAudit",
            "Audit entries, newest first",
            "Audit",
            {
                "200": {
                    **ok(ref("AuditPage"), "A page of entries; next_cursor (and Link) when there are more"),
                    "headers": {
                        "Link": header({"type": "string"}, 'rel="next": the next page', required=False)
                    },
                }
            },
            (400, 401, 403, 422),
            query=[
                query_param("project", key_schema, "Only this project"),
                query_param("environment", key_schema, "Only this environment"),
                query_param("flag", key_schema, "Only this flag (definition and targeting)"),
                query_param(
                    "since", {"type": "string", "format": "date-time"}, "From this time (inclusive, RFC 3339)"
                ),
                query_param(
                    "until",
                    {"type": "string", "format": "date-time"},
                    "Before this time (exclusive, RFC 3339)",
                ),
                query_param(
                    "limit",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    "Page size",
                ),
                query_param(
                    "cursor",
                    {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
                    "next_cursor of the previous page",
                ),
            ],
        )
    }
    document = {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "tags": ["Meta"],
            "security": [],
            "responses": {"200": ok({"type": "object"}, "The OpenAPI document")},
        }
    }
    return {
        p: projects,
        p + "/{project}": project,
        p + "/{project}/environments": environments,
        p + "/{project}/environments/{env}": environment,
        p + "/{project}/environments/{env}/segments": segments,
        p + "/{project}/environments/{env}/segments/{segment}": segment,
        p + "/{project}/flags": flags,
        p + "/{project}/flags/{flag}": flag,
        p + "/{project}/flags/{flag}/environments": all_targeting,
        p + "/{project}/flags/{flag}/environments/{env}": targeting,
        p + "/{project}/flags/{flag}/usage": usage,
        **apply_openapi_paths(),
        "/api/v1/keys": keys,
        "/api/v1/keys/{id}": key,
        "/api/v1/audit": audit,
        OPENAPI_PATH: document,
    }


def _components() -> Schema:
    def path_param(name: str, description: str) -> Schema:
        schema = {"type": "string", "pattern": KEY_PATTERN}
        return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}

    problem = {PROBLEM: {"schema": ref("Problem")}}
    responses = {name: {"description": text, "content": problem} for name, text in ERRORS.values()}
    responses["Unauthorized"]["headers"] = {
        "WWW-Authenticate": header({"type": "string"}, "Bearer challenge"),
    }
    return {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An admin API key"}
        },
        "parameters": {
            "project": path_param("project", "Project key"),
            "env": path_param("env", "Environment key"),
            "flag": path_param("flag", "Flag key"),
            "segment": path_param("segment", "Segment key"),
            "KeyId": {
                "name": "id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999_999_999},
                "description": "Key id",
            },
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
                "description": "Only change the resource if it is still at this version (its ETag); else 409",
            },
            "Comment": {
                "name": COMMENT_HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": MAX_COMMENT_LENGTH},
                "description": "Comment for the audit entry (a `comment` body member takes precedence)",
            },
        },
        "responses": responses,
        "schemas": component_schemas(),
    }


def openapi_document() -> dict[str, Any]:
    """The whole document, freshly built (callers keep one per app)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vexil admin API",
            "version": "1",
            "description": (
                "Manage projects, environments, flags, targeting, segments, API keys and the audit log. "
                "Authenticate with `Authorization: Bearer <admin key>`. Errors are RFC 9457 problem objects."
            ),
        },
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": n}
            for n in ("Projects", "Environments", "Flags", "Targeting", "Segments", "Keys", "Audit")
        ],
        "paths": _paths(),
        "components": _components(),
    }


def openapi_route() -> Route:
    body = json.dumps(openapi_document(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    async def serve(request: Request) -> Response:
        return Response(body, media_type=JSON)

    return resource_route(OPENAPI_PATH, {"GET": serve}, "openapi")
