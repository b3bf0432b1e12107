"""Admin API HTTP edges: body limits (413), malformed requests (400), 405, the OpenAPI document, 500s."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from admin_support import Api, paths, problem, running_api
from starlette.routing import Route

from vexil.server._app import LastResort

pytestmark = pytest.mark.anyio

LIMIT = 4096
PROJECTS = "/api/v1/projects"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path, max_body_bytes=LIMIT) as running:
        yield running


async def test_oversized_body_is_413_by_content_length(api: Api) -> None:
    body = b'{"key": "big", "description": "' + b"x" * LIMIT + b'"}'
    response = await api.request("POST", PROJECTS, content=body, headers={"Content-Type": "application/json"})
    assert paths(problem(response, 413)) == ["body"]
    assert (await api.get(f"{PROJECTS}/big")).status_code == 404


async def test_oversized_streamed_body_is_413_while_reading(api: Api) -> None:
    chunks_sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal chunks_sent
        yield b'{"key": "big", "description": "'
        for _ in range(100):
            chunks_sent += 1
            yield b"x" * 1024
        yield b'"}'

    # No Content-Length (chunked): the limit is enforced on the bytes actually received.
    response = await api.request(
        "POST", PROJECTS, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    problem(response, 413)
    assert chunks_sent < 100  # it stopped reading instead of buffering everything


async def test_body_at_the_limit_is_accepted(api: Api) -> None:
    head, tail = b'{"key": "fits", "description": "', b'"}'
    body = head + b"y" * (LIMIT - len(head) - len(tail)) + tail
    assert len(body) == LIMIT
    response = await api.request("POST", PROJECTS, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content", "content_type", "path"),
    [
        (b'{"key": ', "application/json", "body"),
        (b"", "application/json", "body"),
        (b"[1, 2]", "application/json", "body"),
        (b'"text"', "application/json", "body"),
        (b"null", "application/json", "body"),
        (b'{"key": NaN}', "application/json", "body"),
        (b'{"key": 1e999}', "application/json", "body"),
        (b'{"key": "\xff"}', "application/json", "body"),
        (b"[" * 2000 + b"]" * 2000, "application/json", "body"),
        (b'{"key": "p"}', "text/plain", "Content-Type"),
        (b'{"key": "p"}', "", "Content-Type"),
        (b'{"key": "p"}', "application/merge-patch+json", "Content-Type"),
    ],
)
async def test_malformed_requests_are_400_naming_the_part(
    api: Api, content: bytes, content_type: str, path: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.request("POST", PROJECTS, content=content, headers=headers)
    body = problem(response, 400)
    assert body["type"] == "urn:vexil:problem:malformed-request"
    assert paths(body) == [path]


async def test_unstorable_strings_and_deep_nesting_are_422_with_paths(api: Api) -> None:
    nul = await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": ["a\u0000b"]})
    assert paths(problem(nul, 422)) == ["variations[0]"]
    surrogate = b'{"key": "f", "variations": ["\\ud800"]}'
    response = await api.request(
        "POST",
        "/api/v1/projects/default/flags",
        content=surrogate,
        headers={"Content-Type": "application/json"},
    )
    assert paths(problem(response, 422)) == ["variations[0]"]
    deep: object = 1
    for _ in range(80):
        deep = [deep]
    nested = await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": [deep]})
    assert problem(nested, 422)["errors"][0]["path"].startswith("variations[0][0]")


async def test_merge_patch_needs_an_object(api: Api) -> None:
    response = await api.request(
        "PATCH",
        f"{PROJECTS}/default",
        content=b"[]",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert paths(problem(response, 400)) == ["body"]


async def test_wrong_method_is_405_problem_with_allow(api: Api) -> None:
    response = await api.delete(PROJECTS)
    body = problem(response, 405)
    assert paths(body) == ["method"]
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    put_keys = await api.put("/api/v1/keys/1", {})
    problem(put_keys, 405)


async def test_comment_header_is_bounded(api: Api) -> None:
    response = await api.patch(f"{PROJECTS}/default", {"name": "x"}, headers={"X-Vexil-Comment": "c" * 2001})
    assert paths(problem(response, 400)) == ["X-Vexil-Comment"]


async def test_openapi_document_covers_every_admin_route(api: Api) -> None:
    response = await api.client.get("/api/v1/openapi.json")  # public: no key needed
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = {
        (route.path, method)
        for route in api.app.routes
        if isinstance(route, Route) and route.path.startswith("/api/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert documented == served


async def test_last_resort_turns_a_bug_into_a_logged_problem(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=LastResort(broken))
    with caplog.at_level(logging.ERROR, logger="vexil.server"):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/anything", headers={"Authorization": "Bearer vxa_secret-value"})
    body = problem(response, 500)
    assert "a bug" not in response.text  # internals stay in the log
    assert any("unhandled error in GET /anything" in r.getMessage() for r in caplog.records)
    assert "vxa_secret-value" not in caplog.text
    assert body["type"] == "urn:vexil:problem:internal-error"
