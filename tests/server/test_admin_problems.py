"""Every `ServiceError` maps to one 4xx problem naming a field (503 for an unavailable database); none can
become a 500."""

from __future__ import annotations

import json

import pytest

from vexil.engine import Problem
from vexil.server._problems import ProblemType, from_service_error
from vexil.service import (
    AlreadyExists,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    ServiceError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)


@pytest.mark.parametrize(
    ("error", "status", "path"),
    [
        (NotFound("flag", "default/f"), 404, "flag"),
        (NotFound("environment", "default/e"), 404, "env"),
        (NotFound("key", "7"), 404, "id"),
        (AlreadyExists("project", "p"), 409, "key"),
        (Conflict("flag", "default/f", 1, 3), 409, "version"),
        (ValidationFailed([Problem("flags.f.rules[0].op", "unknown"), Problem("", "no")]), 422, None),
        (Forbidden("key 'r' may not change project 'p'"), 403, "Authorization"),
        (Unauthorized(), 401, "Authorization"),
        (Unavailable(), 503, "database"),
    ],
)
def test_service_errors_become_problems(error: ServiceError, status: int, path: str | None) -> None:
    problem = from_service_error(error)
    response = problem.response()
    body = json.loads(bytes(response.body))
    assert response.status_code == status == body["status"]
    assert all(e["path"] for e in body["errors"])
    if path is not None:
        assert [e["path"] for e in body["errors"]] == [path]
    else:
        assert [e["path"] for e in body["errors"]] == ["flags.f.rules[0].op", "body"]
    if isinstance(error, Conflict):
        assert body["current_version"] == 3 and response.headers["etag"] == '"3"'
    if isinstance(error, Unauthorized):
        assert response.headers["www-authenticate"].startswith("Bearer")
    if isinstance(error, Unavailable):
        assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_unknown_subclasses_map_by_their_code(code: ErrorCode) -> None:
    class NovelError(ServiceError):
        pass

    NovelError.code = code
    problem = from_service_error(NovelError("something new"))
    assert 400 <= problem.kind.status < 500 or (code, problem.kind.status) == (ErrorCode.UNAVAILABLE, 503)
    assert problem.kind is not ProblemType.INTERNAL_ERROR
