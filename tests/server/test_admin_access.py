"""Admin API: authentication (401), scopes and roles (403), keys (secret shown once, revocation), audit."""

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


async def test_missing_or_bad_key_is_401_with_bearer_challenge(api: Api) -> None:
    missing = await api.client.get("/api/v1/projects")
    body = problem(missing, 401)
    assert paths(body) == ["Authorization"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for header in ("Bearer vxa_not-a-real-key", "Basic dXNlcjpwdw==", "Bearer", "vxa_bare"):
        response = await api.client.get("/api/v1/projects", headers={"Authorization": header})
        problem(response, 401)
        assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_401_never_echoes_the_key(api: Api) -> None:
    secret = "vxa_" + "s3cr3t" * 8
    response = await api.client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secret}"})
    assert secret not in response.text
    assert "s3cr3t" not in response.text


async def test_reader_can_read_but_not_write(api: Api) -> None:
    reader = await api.new_key(name="reader", kind="admin", role="reader")
    assert (await api.get("/api/v1/projects/default/flags", key=reader)).status_code == 200
    refused = await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": [1]}, key=reader)
    assert paths(problem(refused, 403)) == ["Authorization"]
    assert (await api.get("/api/v1/projects/default/flags/f")).status_code == 404  # nothing was written
    problem(await api.get("/api/v1/keys", key=reader), 403)


async def test_writer_cannot_manage_keys_or_delete_projects(api: Api) -> None:
    writer = await api.new_key(name="writer", kind="admin", role="writer")
    created = await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": [1]}, key=writer)
    assert created.status_code == 201
    problem(await api.post("/api/v1/keys", {"name": "x", "kind": "admin"}, key=writer), 403)
    problem(await api.delete("/api/v1/projects/default", key=writer), 403)


async def test_project_scoped_admin_sees_only_its_projects(api: Api) -> None:
    assert (await api.post("/api/v1/projects", {"key": "other"})).status_code == 201
    scoped = await api.new_key(name="team", kind="admin", role="admin", projects=["default"])
    listed = await api.get("/api/v1/projects", key=scoped)
    assert [p["key"] for p in listed.json()["items"]] == ["default"]
    problem(await api.get("/api/v1/projects/other", key=scoped), 403)
    problem(await api.get("/api/v1/projects/other/flags", key=scoped), 403)
    problem(await api.post("/api/v1/projects", {"key": "mine"}, key=scoped), 403)
    problem(await api.get("/api/v1/audit", params={"project": "other"}, key=scoped), 403)
    await api.post("/api/v1/projects/other/flags", {"key": "hidden", "variations": [1]})
    entries = (await api.get("/api/v1/audit", key=scoped)).json()["items"]
    assert entries and all(e["project"] == "default" for e in entries)
    # Keys outside its scope are invisible to it, and it cannot mint unscoped keys.
    assert all(
        k["projects"] == ["default"] for k in (await api.get("/api/v1/keys", key=scoped)).json()["items"]
    )
    problem(await api.post("/api/v1/keys", {"name": "all", "kind": "admin"}, key=scoped), 403)


async def test_sdk_keys_are_forbidden_on_the_admin_api(api: Api) -> None:
    for kind in ("server", "client"):
        secret = await api.new_key(name=kind, kind=kind, project="default", environment="production")
        for path in ("/api/v1/projects", "/api/v1/projects/default", "/api/v1/audit", "/api/v1/keys"):
            body = problem(await api.get(path, key=secret), 403)
            assert paths(body) == ["Authorization"]


async def test_key_secret_is_shown_once_and_revocation_is_immediate(api: Api) -> None:
    created = await api.post("/api/v1/keys", {"name": "ci", "kind": "admin", "role": "writer"})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["key"]
    assert secret.startswith("vxa_") and len(secret) >= 40
    key_id = created.json()["id"]
    assert created.headers["location"] == f"/api/v1/keys/{key_id}"
    read = await api.get(f"/api/v1/keys/{key_id}")
    assert read.status_code == 200 and "key" not in read.json()
    assert secret not in (await api.get("/api/v1/keys")).text
    assert (await api.get("/api/v1/projects", key=secret)).status_code == 200  # now cached
    revoked = await api.delete(f"/api/v1/keys/{key_id}", headers={"X-Vexil-Comment": "leaked"})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    problem(await api.get("/api/v1/projects", key=secret), 401)
    again = await api.delete(f"/api/v1/keys/{key_id}")
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]


async def test_invalid_key_bodies_are_422(api: Api) -> None:
    assert paths(problem(await api.post("/api/v1/keys", {"name": "x", "kind": "root"}), 422)) == ["kind"]
    missing = problem(await api.post("/api/v1/keys", {"name": "x", "kind": "server"}), 422)
    assert set(paths(missing)) == {"project", "environment"}
    unknown = await api.post(
        "/api/v1/keys", {"name": "x", "kind": "server", "project": "nope", "environment": "e"}
    )
    problem(unknown, 404)


async def test_audit_records_who_what_and_the_comment(api: Api) -> None:
    writer = await api.new_key(name="alice", kind="admin", role="writer")
    created = await api.post(
        "/api/v1/projects/default/flags", {"key": "f", "variations": [False, True]}, key=writer
    )
    assert created.status_code == 201
    kill = {"on": False, "comment": "rollback after errors"}
    assert (
        await api.patch("/api/v1/projects/default/flags/f/environments/production", kill, key=writer)
    ).is_success
    page = await api.get("/api/v1/audit", params={"project": "default", "flag": "f"})
    assert page.status_code == 200
    newest, oldest = page.json()["items"]
    assert newest["actor"] == "alice" and newest["kind"] == "targeting" and newest["action"] == "update"
    assert newest["environment"] == "production" and newest["resource"] == "f"
    assert newest["comment"] == "rollback after errors"
    assert newest["before"]["on"] is False and newest["after"]["on"] is False
    assert oldest["action"] == "create" and oldest["kind"] == "flag" and oldest["after"]["key"] == "f"
    # Header bytes are UTF-8 on the wire; the server decodes them so the comment keeps its accents.
    headers = [(k.encode(), v.encode()) for k, v in {**api.auth(), "X-Vexil-Comment": "ticket ü-42"}.items()]
    await api.client.patch("/api/v1/projects/default/flags/f", json={"owner": "team"}, headers=headers)
    latest = (await api.get("/api/v1/audit", params={"limit": 1})).json()["items"][0]
    assert latest["comment"] == "ticket ü-42" and latest["actor"] == "bootstrap"


async def test_audit_pagination_body_and_link_header(api: Api) -> None:
    for i in range(5):
        await api.post("/api/v1/projects/default/flags", {"key": f"f{i}", "variations": [1]})
    seen: list[int] = []
    url = "/api/v1/audit?project=default&limit=2"
    pages = 0
    while url:
        response = await api.get(url)
        assert response.status_code == 200
        body = response.json()
        seen += [e["id"] for e in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            break
        link = response.headers["link"]
        assert link.endswith('>; rel="next"') and f"cursor={body['next_cursor']}" in link
        url = link[1 : link.index(">")]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen))
    assert len(seen) >= 6 and pages == (len(seen) + 1) // 2


async def test_audit_time_filters_and_bad_queries(api: Api) -> None:
    await api.post("/api/v1/projects/default/flags", {"key": "f", "variations": [1]})
    everything = (await api.get("/api/v1/audit")).json()["items"]
    newest = everything[0]["time"]
    since = await api.get("/api/v1/audit", params={"since": newest})
    assert [e["id"] for e in since.json()["items"]] == [everything[0]["id"]]
    until = await api.get("/api/v1/audit", params={"until": newest})
    assert everything[0]["id"] not in [e["id"] for e in until.json()["items"]]
    future = await api.get("/api/v1/audit", params={"since": "9999-12-31T23:59:59-23:59"})
    assert future.json()["items"] == []
    for params, name in (
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"since": "2024-01-01"}, "since"),
        ({"until": "2024-01-01T00:00:00"}, "until"),
        ({"project": "a b"}, "project"),
        ({"colour": "red"}, "colour"),
    ):
        assert paths(problem(await api.get("/api/v1/audit", params=params), 400)) == [name]
    assert paths(problem(await api.get("/api/v1/audit", params={"cursor": "zzz"}), 422)) == ["cursor"]
