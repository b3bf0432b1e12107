"""Admin API: projects and environments over HTTP against a real SQLite store (CRUD, ETags, merge patch)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from admin_support import Api, paths, problem, running_api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running


async def test_list_and_read_projects(api: Api) -> None:
    listed = await api.get("/api/v1/projects")
    assert listed.status_code == 200
    assert [p["key"] for p in listed.json()["items"]] == ["default"]
    read = await api.get("/api/v1/projects/default")
    assert read.status_code == 200
    body = read.json()
    assert body["key"] == "default" and body["name"] == "Default"
    assert read.headers["etag"] == f'"{body["version"]}"'


async def test_create_project_gets_development_and_production(api: Api) -> None:
    created = await api.post("/api/v1/projects", {"key": "shop", "name": "Shop", "description": "Web shop"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/v1/projects/shop"
    assert created.headers["etag"] == f'"{created.json()["version"]}"'
    environments = await api.get("/api/v1/projects/shop/environments")
    by_key = {e["key"]: e for e in environments.json()["items"]}
    assert set(by_key) == {"development", "production"}
    assert by_key["production"]["critical"] is True and by_key["development"]["critical"] is False


async def test_duplicate_project_is_409_already_exists(api: Api) -> None:
    body = problem(await api.post("/api/v1/projects", {"key": "default"}), 409)
    assert body["type"] == "urn:vexil:problem:already-exists"
    assert paths(body) == ["key"]


async def test_invalid_project_is_422_naming_each_field(api: Api) -> None:
    body = problem(await api.post("/api/v1/projects", {"key": "no spaces", "name": 5}), 422)
    assert body["type"] == "urn:vexil:problem:validation-failed"
    assert set(paths(body)) == {"key", "name"}
    assert paths(problem(await api.post("/api/v1/projects", {"key": "p", "colour": "red"}), 422)) == [
        "colour"
    ]


async def test_replace_and_merge_patch_project(api: Api) -> None:
    put = await api.put("/api/v1/projects/default", {"name": "Main", "description": "All the flags"})
    assert put.status_code == 200, put.text
    assert put.json()["name"] == "Main"
    patched = await api.request(
        "PATCH",
        "/api/v1/projects/default",
        content=b'{"description": null}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Main" and patched.json()["description"] == ""
    assert int(patched.headers["etag"].strip('"')) > int(put.headers["etag"].strip('"'))


async def test_get_edit_put_round_trips(api: Api) -> None:
    current = (await api.get("/api/v1/projects/default")).json()
    current["name"] = "Renamed"
    replaced = await api.put("/api/v1/projects/default", current)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["name"] == "Renamed"
    # The same body again carries a now stale `version`: refused, not silently applied.
    stale = problem(await api.put("/api/v1/projects/default", current), 409)
    assert stale["current_version"] == replaced.json()["version"]
    assert paths(stale) == ["version"]


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/projects/default/environments"])
async def test_keys_with_a_trailing_newline_are_refused(api: Api, path: str) -> None:
    # The documented pattern ends in `$`, which in JSON Schema (ECMA-262) does not match before a final "\n".
    body = problem(await api.post(path, {"key": "abc\n"}), 422)
    assert paths(body) == ["key"]


async def test_key_in_body_must_match_path(api: Api) -> None:
    body = problem(await api.put("/api/v1/projects/default", {"key": "other"}), 422)
    assert paths(body) == ["key"]


async def test_delete_project(api: Api) -> None:
    assert (await api.post("/api/v1/projects", {"key": "tmp"})).status_code == 201
    deleted = await api.delete("/api/v1/projects/tmp", headers={"X-Vexil-Comment": "cleanup"})
    assert deleted.status_code == 204
    assert deleted.content == b""
    body = problem(await api.get("/api/v1/projects/tmp"), 404)
    assert paths(body) == ["project"]


async def test_unknown_resources_are_404_naming_the_path_parameter(api: Api) -> None:
    assert paths(problem(await api.get("/api/v1/projects/nope"), 404)) == ["project"]
    assert paths(problem(await api.get("/api/v1/projects/default/environments/nope"), 404)) == ["env"]
    assert paths(problem(await api.get("/api/v1/projects/default/flags/nope"), 404)) == ["flag"]
    segment = await api.get("/api/v1/projects/default/environments/production/segments/nope")
    assert paths(problem(segment, 404)) == ["segment"]
    assert paths(problem(await api.get("/api/v1/keys/999"), 404)) == ["id"]
    assert paths(problem(await api.get("/api/v1/keys/abc"), 404)) == ["id"]
    assert paths(problem(await api.get("/api/v1/nothing/here"), 404)) == ["url"]


async def test_environment_crud(api: Api) -> None:
    base = "/api/v1/projects/default/environments"
    created = await api.post(base, {"key": "staging", "name": "Staging"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{base}/staging"
    assert created.json()["critical"] is False
    patched = await api.patch(f"{base}/staging", {"critical": True})
    assert patched.status_code == 200 and patched.json()["critical"] is True
    replaced = await api.put(f"{base}/staging", {"name": "Stage"})
    assert replaced.json() | {"name": "Stage"} == replaced.json()
    assert replaced.json()["critical"] is False  # PUT replaces: omitted fields take their defaults
    assert (await api.delete(f"{base}/staging")).status_code == 204
    problem(await api.get(f"{base}/staging"), 404)


async def test_new_environment_has_every_flag_off(api: Api) -> None:
    assert (
        await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": [False, True]})
    ).is_success
    assert (await api.post("/api/v1/projects/default/environments", {"key": "qa"})).status_code == 201
    targeting = await api.get("/api/v1/projects/default/flags/f/environments/qa")
    assert targeting.status_code == 200
    assert targeting.json()["on"] is False


async def test_delete_with_if_match(api: Api) -> None:
    base = "/api/v1/projects/default/environments"
    created = (await api.post(base, {"key": "tmp"})).json()
    stale = f'"{created["version"] + 7}"'
    body = problem(await api.delete(f"{base}/tmp", headers={"If-Match": stale}), 409)
    assert body["current_version"] == created["version"]
    assert paths(body) == ["If-Match"]
    assert (await api.get(f"{base}/tmp")).status_code == 200  # not deleted
    fresh = f'"{created["version"]}"'
    assert (await api.delete(f"{base}/tmp", headers={"If-Match": fresh})).status_code == 204
