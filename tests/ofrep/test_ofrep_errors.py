"""Every OFREP error path over the real app: auth, malformed bodies and contexts, unknown flags, rate limits,
CORS and a server fault, each response checked against the OFREP OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ofrep_spec import BULK, SINGLE, check
from ofrep_support import Ofrep, running_ofrep, server_errors

pytestmark = pytest.mark.anyio
USER = {"targetingKey": "user-1"}


@pytest.fixture
async def ofrep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Ofrep]:
    monkeypatch.setenv("VEXIL_OFREP_CORS_ORIGINS", "https://app.example")
    async with running_ofrep(tmp_path, max_body_bytes=4096, auth_cache_seconds=0) as running:
        yield running


async def both(
    ofrep: Ofrep, flag: str, headers: dict[str, str], *, content: bytes | None = None, json: Any = None
) -> list[Any]:
    """The same request to the single and the bulk endpoint; each response checked; their bodies."""
    bodies = []
    for path, operation in ((f"/ofrep/v1/evaluate/flags/{flag}", SINGLE), ("/ofrep/v1/evaluate/flags", BULK)):
        response = await ofrep.client.post(path, headers=headers, content=content, json=json)
        bodies.append((response.status_code, check(response, operation)))
    return bodies


async def test_authentication(ofrep: Ofrep) -> None:
    flag = await ofrep.flag({"variations": [1]})
    server = await ofrep.new_key("server")
    context = {"context": USER}
    for headers in (
        {},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer vxs_x"},
    ):
        for status, body in await both(ofrep, flag, headers, json=context):
            assert status == 401 and body["type"] == "urn:vexil:problem:unauthorized"
    for status, body in await both(ofrep, flag, {"Authorization": f"Bearer {ofrep.admin_key}"}, json=context):
        assert status == 403 and "admin key" in body["detail"]
    assert [status for status, _ in await both(ofrep, flag, {"X-API-Key": server}, json=context)] == [
        200,
        200,
    ]
    # A revoked key stops working at once (the auth cache is off in this fixture).
    listed = (await ofrep.client.get("/api/v1/keys", headers=ofrep.admin())).json()["items"]
    key_id = next(k["id"] for k in listed if k["kind"] == "server")
    assert (await ofrep.client.delete(f"/api/v1/keys/{key_id}", headers=ofrep.admin())).status_code == 200
    revoked = await both(ofrep, flag, {"Authorization": f"Bearer {server}"}, json=context)
    assert [status for status, _ in revoked] == [401, 401]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "PARSE_ERROR"),
        (b"{not json", "PARSE_ERROR"),
        (b"[]", "PARSE_ERROR"),
        (b'{"context": {"targetingKey": "u", "pad": "' + b"x" * 5000 + b'"}}', "PARSE_ERROR"),
        (b"{}", "TARGETING_KEY_MISSING"),
        (b'{"context": {}}', "TARGETING_KEY_MISSING"),
        (b'{"context": {"targetingKey": ""}}', "TARGETING_KEY_MISSING"),
        (b'{"context": {"kind": "multi", "org": {"tier": 1}}}', "TARGETING_KEY_MISSING"),
        (b'{"context": 42}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": ["u"]}}', "INVALID_CONTEXT"),
        (b'{"context": {"targetingKey": "u", "kind": "a b"}}', "INVALID_CONTEXT"),
        (b'{"context": {"kind": "multi", "org": "acme"}}', "INVALID_CONTEXT"),
    ],
)
async def test_bad_requests_are_400_with_the_ofrep_code(ofrep: Ofrep, content: bytes, code: str) -> None:
    key = await ofrep.new_key("client")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    (single_status, single), (bulk_status, bulk) = await both(ofrep, "any-flag", headers, content=content)
    assert (single_status, bulk_status) == (400, 400)
    assert single["key"] == "any-flag" and single["errorCode"] == code and single["errorDetails"]
    assert "key" not in bulk and bulk["errorCode"] == code and bulk["errorDetails"]


async def test_unknown_flag_is_404(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("server")
    response = await ofrep.single(key, "no-such-flag", USER)
    assert check(response, SINGLE) == {
        "key": "no-such-flag",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "flag 'no-such-flag' was not found",
    }
    assert response.status_code == 404


async def test_wrong_method_is_405(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("server")
    for path in ("/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/x"):
        response = await ofrep.client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 405 and "POST" in response.headers["allow"]


async def test_rate_limit_answers_429_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEXIL_OFREP_RATE_LIMIT", "0.2")
    monkeypatch.setenv("VEXIL_OFREP_RATE_BURST", "3")
    async with running_ofrep(tmp_path) as ofrep:
        flag = await ofrep.flag({"variations": [1]})
        key, other = await ofrep.new_key("server"), await ofrep.new_key("client")
        statuses = [(await ofrep.single(key, flag, USER)).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        for response, operation in (
            (await ofrep.single(key, flag, USER), SINGLE),
            (await ofrep.bulk(key, USER), BULK),
        ):
            assert response.status_code == 429
            check(response, operation)
            assert 1 <= int(response.headers["retry-after"]) <= 5
            assert "rate limit" in response.json()["errorDetails"]
        assert (await ofrep.bulk(other, USER)).status_code == 200  # per key


async def test_cors_only_for_allowed_origins_and_only_on_ofrep_paths(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("client")
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
    }
    for path in ("/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/f"):
        allowed = await ofrep.client.options(path, headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert {"authorization", "content-type", "if-none-match"} <= {
            h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
        }
        refused = await ofrep.client.options(path, headers={**preflight, "Origin": "https://evil.example"})
        assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    stream = await ofrep.client.options(
        "/ofrep/v1/stream", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert (
        stream.status_code == 200 and stream.headers["access-control-allow-origin"] == "https://app.example"
    )
    simple = await ofrep.bulk(key, USER, Origin="https://app.example")
    check(simple, BULK)
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    assert "etag" in simple.headers["access-control-expose-headers"].lower()
    assert (
        "access-control-allow-origin"
        not in (await ofrep.bulk(key, USER, Origin="https://evil.example")).headers
    )
    admin = await ofrep.client.options("/api/v1/projects", headers=preflight)
    assert "access-control-allow-origin" not in admin.headers  # the admin API is not opened to browsers


async def test_no_cors_without_configured_origins(tmp_path: Path) -> None:
    async with running_ofrep(tmp_path) as ofrep:
        preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        response = await ofrep.client.options("/ofrep/v1/evaluate/flags", headers=preflight)
        assert response.status_code == 405 and "access-control-allow-origin" not in response.headers


async def test_a_deleted_environment_is_refused(ofrep: Ofrep) -> None:
    created = await ofrep.client.post(
        "/api/v1/projects/default/environments", headers=ofrep.admin(), json={"key": "staging"}
    )
    assert created.status_code == 201, created.text
    key = await ofrep.new_key("server", environment="staging")
    assert (await ofrep.bulk(key, USER)).status_code == 200
    deleted = await ofrep.client.delete(
        "/api/v1/projects/default/environments/staging", headers=ofrep.admin()
    )
    assert deleted.status_code == 204, deleted.text
    for response, operation in (
        (await ofrep.bulk(key, USER), BULK),
        (await ofrep.single(key, "f", USER), SINGLE),
    ):
        assert response.status_code == 401
        check(response, operation)


async def test_a_server_fault_is_a_500_general_error(tmp_path: Path) -> None:
    async with running_ofrep(tmp_path, check_500=False) as ofrep:
        key = await ofrep.new_key("server")

        def broken(environment_id: int, *, client_side_only: bool = False) -> Any:
            raise RuntimeError("database on fire")

        ofrep.service.snapshot_by_id = broken  # type: ignore[method-assign]
        with server_errors() as errors:
            for response, operation in (
                (await ofrep.single(key, "f", USER), SINGLE),
                (await ofrep.bulk(key, USER), BULK),
            ):
                assert response.status_code == 500
                body = check(response, operation)
                assert "database on fire" not in response.text and body["detail"]
        assert errors, "the fault is logged"
