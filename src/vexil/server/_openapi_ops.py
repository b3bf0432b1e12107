"""Builders of the OpenAPI document's operations: responses, parameters, and the CRUD operation set.

Plain dicts only; `_openapi.py` assembles them into paths, this module knows no route.
"""

from __future__ import annotations

from ._openapi_schemas import ETAG_PATTERN, Schema, list_of, ref

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
PROBLEM = "application/problem+json"

ERRORS = {
    400: (
        "BadRequest",
        "Malformed request: bad JSON, wrong content type, a non-object body or a bad header or query",
    ),
    401: ("Unauthorized", "No API key, or an unknown or revoked one"),
    403: ("Forbidden", "The key's role or project scope does not allow this (SDK keys never may)"),
    404: ("NotFound", "No such resource"),
    409: ("Conflict", "Already exists, or a stale version (the body carries current_version)"),
    413: ("TooLarge", "The body exceeds the size limit"),
    422: ("Invalid", "Validation failed; `errors` lists each problem with its path"),
}
READ = (401, 403, 404)
CREATE = (400, 401, 403, 404, 409, 413, 422)
UPDATE = (400, 401, 403, 404, 409, 413, 422)
DELETE = (400, 401, 403, 404, 409)


def header(schema: Schema, description: str, *, required: bool = True) -> Schema:
    return {"description": description, "required": required, "schema": schema}


def etag_header() -> Schema:
    return header({"type": "string", "pattern": ETAG_PATTERN}, 'The version as a strong entity tag ("3")')


def ok(schema: Schema, description: str, *, etag: bool = False, location: bool = False) -> Schema:
    response: Schema = {"description": description, "content": {JSON: {"schema": schema}}}
    headers: Schema = {}
    if etag:
        headers["ETag"] = etag_header()
    if location:
        headers["Location"] = header({"type": "string"}, "Where the new resource lives")
    if headers:
        response["headers"] = headers
    return response


def op(
    operation_id: str,
    summary: str,
    tag: str,
    responses: dict[str, Schema],
    errors: tuple[int, ...],
    *,
    body: str | None = None,
    patch: bool = False,
    parameters: tuple[str, ...] = (),
    query: list[Schema] | None = None,
) -> Schema:
    operation: Schema = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    params = [{"$ref": f"#/components/parameters/{name}"} for name in parameters] + list(query or [])
    if params:
        operation["parameters"] = params
    if body is not None:
        media = [MERGE_PATCH, JSON] if patch else [JSON]
        operation["requestBody"] = {"required": True, "content": {m: {"schema": ref(body)} for m in media}}
    operation["responses"] = {
        **responses,
        **{str(code): {"$ref": f"#/components/responses/{ERRORS[code][0]}"} for code in errors},
    }
    return operation


def crud(
    tag: str,
    noun: str,
    schema: str,
    path_params: tuple[str, ...],
    item_param: str,
    *,
    delete_errors: tuple[int, ...] = DELETE,
) -> tuple[Schema, Schema]:
    """The collection and item path objects of a resource with list/create/get/replace/patch/delete."""
    item_params = (*path_params, item_param)
    write = ("IfMatch", "Comment")
    nested = bool(path_params)
    collection = {
        "get": op(
            f"list{tag}",
            f"List {noun}s",
            tag,
            {"200": ok(list_of(schema), f"The {noun}s")},
            READ if nested else (401, 403),
            parameters=path_params,
        ),
        "post": op(
            f"create{schema}",
            f"Create a {noun}",
            tag,
            {"201": ok(ref(schema), f"The new {noun}", etag=True, location=True)},
            CREATE if nested else tuple(c for c in CREATE if c != 404),
            body=f"{schema}Create",
            parameters=(*path_params, "Comment"),
        ),
    }
    item = {
        "get": op(
            f"get{schema}",
            f"Read a {noun}",
            tag,
            {"200": ok(ref(schema), f"The {noun}", etag=True)},
            READ,
            parameters=item_params,
        ),
        "put": op(
            f"replace{schema}",
            f"Replace a {noun}",
            tag,
            {"200": ok(ref(schema), f"The {noun}", etag=True)},
            UPDATE,
            body=f"{schema}Replace",
            parameters=(*item_params, *write),
        ),
        "patch": op(
            f"patch{schema}",
            f"Change part of a {noun} (JSON merge patch)",
            tag,
            {"200": ok(ref(schema), f"The {noun}", etag=True)},
            UPDATE,
            body=f"{schema}Patch",
            patch=True,
            parameters=(*item_params, *write),
        ),
        "delete": op(
            f"delete{schema}",
            f"Delete a {noun}",
            tag,
            {"204": {"description": "Deleted"}},
            delete_errors,
            parameters=(*item_params, *write),
        ),
    }
    return collection, item


def query_param(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
