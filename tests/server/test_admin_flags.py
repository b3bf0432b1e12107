"""Admin API: flag definitions, per-environment targeting (kill switch, concurrency), segments and usage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from admin_support import Api, paths, problem, running_api

from vexil.engine import Snapshot
from vexil.service import EvaluationSummary, Principal

pytestmark = pytest.mark.anyio

FLAGS = "/api/v1/projects/default/flags"


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(tmp_path) as running:
        yield running


def evaluate(api: Api, environment: str, flag: str, context: dict[str, str]) -> object:
    """What an SDK would get now: the environment's snapshot evaluated by the engine."""
    snapshot = api.service.get_snapshot(Principal.system(), "default", environment)
    return Snapshot.from_document(snapshot.document).evaluate(flag, context).value


async def test_new_flag_starts_off_everywhere(api: Api) -> None:
    created = await api.post(FLAGS, {"key": "checkout", "variations": [False, True], "tags": ["web"]})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{FLAGS}/checkout"
    assert created.json()["variations"] == [False, True]
    everywhere = await api.get(f"{FLAGS}/checkout/environments")
    assert everywhere.status_code == 200
    items = everywhere.json()["items"]
    assert {t["environment"] for t in items} == {"development", "production"}
    assert all(t["on"] is False for t in items)
    assert evaluate(api, "production", "checkout", {"key": "u1"}) is False


async def test_kill_switch_is_one_patch(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "search", "variations": [False, True]})).status_code == 201
    target = f"{FLAGS}/search/environments/production"
    on = await api.patch(target, {"on": True})
    assert on.status_code == 200, on.text
    assert evaluate(api, "production", "search", {"key": "u1"}) is True
    killed = await api.patch(target, {"on": False}, headers={"X-Vexil-Comment": "incident 42"})
    assert killed.status_code == 200
    assert killed.json()["on"] is False
    assert killed.json()["fallthrough"] == {"variation": 1}  # the rest of the targeting is untouched
    assert evaluate(api, "production", "search", {"key": "u1"}) is False
    assert evaluate(api, "development", "search", {"key": "u1"}) is False


async def test_stale_if_match_is_409_and_nothing_is_overwritten(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": ["a", "b"]})).status_code == 201
    target = f"{FLAGS}/f/environments/production"
    read = await api.get(target)
    etag = read.headers["etag"]
    first = await api.patch(target, {"on": True}, headers={"If-Match": etag})
    assert first.status_code == 200
    assert first.headers["etag"] != etag
    second = await api.patch(target, {"off_variation": 1}, headers={"If-Match": etag})
    body = problem(second, 409)
    assert body["type"] == "urn:vexil:problem:version-conflict"
    assert body["current_version"] == first.json()["version"]
    assert second.headers["etag"] == first.headers["etag"]
    assert (await api.get(target)).json()["off_variation"] == 0  # the stale write changed nothing


async def test_stale_version_in_body_is_409(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": [1, 2]})).status_code == 201
    current = (await api.get(f"{FLAGS}/f")).json()
    assert (await api.patch(f"{FLAGS}/f", {"description": "one", "version": current["version"]})).is_success
    body = problem(await api.patch(f"{FLAGS}/f", {"description": "two", "version": current["version"]}), 409)
    assert paths(body) == ["version"]
    assert (await api.get(f"{FLAGS}/f")).json()["description"] == "one"


async def test_bad_preconditions_are_400_or_422(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": [1]})).status_code == 201
    weak = await api.patch(f"{FLAGS}/f", {"owner": "me"}, headers={"If-Match": 'W/"1"'})
    assert paths(problem(weak, 400)) == ["If-Match"]
    assert paths(problem(await api.patch(f"{FLAGS}/f", {"version": "1"}), 422)) == ["version"]
    assert paths(problem(await api.patch(f"{FLAGS}/f", {"comment": 5}), 422)) == ["comment"]
    star = await api.patch(f"{FLAGS}/f", {"owner": "me"}, headers={"If-Match": "*"})
    assert star.status_code == 200


async def test_invalid_targeting_is_422_with_engine_paths(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": [False, True]})).status_code == 201
    rule = {"clauses": [{"attribute": "email", "op": "equals", "values": ["x"]}], "serve": {"variation": 7}}
    body = problem(await api.patch(f"{FLAGS}/f/environments/production", {"rules": [rule]}), 422)
    assert "flags.f.rules[0].clauses[0].op" in paths(body)
    assert "flags.f.rules[0].serve.variation" in paths(body)


async def test_definition_fields_are_refused_on_targeting_and_back(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": [False, True]})).status_code == 201
    on_targeting = problem(await api.patch(f"{FLAGS}/f/environments/production", {"tags": ["x"]}), 422)
    assert paths(on_targeting) == ["flags.f.tags"]
    on_definition = problem(await api.patch(f"{FLAGS}/f", {"on": True}), 422)
    assert paths(on_definition) == ["flags.f.on"]


async def test_replace_targeting_and_definition(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": ["a", "b", "c"]})).status_code == 201
    body = {
        "on": True,
        "targets": [{"variation": 2, "values": ["vip"]}],
        "fallthrough": {"variation": 1},
        "off_variation": 0,
        "comment": "launch",
    }
    put = await api.put(f"{FLAGS}/f/environments/production", body)
    assert put.status_code == 200, put.text
    assert "comment" not in put.json()
    assert evaluate(api, "production", "f", {"key": "vip"}) == "c"
    assert evaluate(api, "production", "f", {"key": "other"}) == "b"
    missing = problem(await api.put(f"{FLAGS}/f/environments/production", {"on": True}), 422)
    assert any(p.endswith("fallthrough") for p in paths(missing))
    definition = await api.put(f"{FLAGS}/f", {"variations": ["a", "b", "c"], "description": "three"})
    assert definition.status_code == 200 and definition.json()["description"] == "three"


async def test_delete_flag_and_prerequisite_protection(api: Api) -> None:
    for key in ("base", "child"):
        assert (await api.post(FLAGS, {"key": key, "variations": [False, True]})).status_code == 201
    prerequisite = {"prerequisites": [{"flag": "base", "variation": 1}]}
    assert (await api.patch(f"{FLAGS}/child/environments/production", prerequisite)).status_code == 200
    refused = problem(await api.delete(f"{FLAGS}/base"), 422)
    assert any("prerequisites" in p for p in paths(refused))
    assert (await api.delete(f"{FLAGS}/child")).status_code == 204
    assert (await api.delete(f"{FLAGS}/base")).status_code == 204
    assert (await api.get(f"{FLAGS}")).json()["items"] == []


async def test_segments_crud_and_references(api: Api) -> None:
    base = "/api/v1/projects/default/environments/production/segments"
    created = await api.post(base, {"key": "beta", "included": ["u1"]})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{base}/beta"
    assert (await api.get(base)).json()["items"][0]["key"] == "beta"
    patched = await api.patch(
        f"{base}/beta", {"excluded": ["u2"]}, headers={"If-Match": created.headers["etag"]}
    )
    assert patched.status_code == 200 and patched.json()["included"] == ["u1"]
    assert (await api.post(FLAGS, {"key": "f", "variations": [False, True]})).status_code == 201
    rule = {"clauses": [{"op": "segment_match", "values": ["beta"]}], "serve": {"variation": 1}}
    targeting = {"on": True, "rules": [rule], "fallthrough": {"variation": 0}}
    assert (await api.patch(f"{FLAGS}/f/environments/production", targeting)).is_success
    assert evaluate(api, "production", "f", {"key": "u1"}) is True
    assert evaluate(api, "production", "f", {"key": "u2"}) is False
    in_use = problem(await api.delete(f"{base}/beta"), 422)
    assert in_use["errors"]
    assert (await api.get(f"{base}/beta")).status_code == 200
    replaced = await api.put(f"{base}/beta", {"included": ["u3"]})
    assert replaced.status_code == 200 and "excluded" not in replaced.json()
    problem(await api.post(base, {"key": "beta"}), 409)
    assert (await api.patch(f"{FLAGS}/f/environments/production", {"rules": []})).status_code == 200
    deleted = await api.delete(f"{base}/beta", headers={"If-Match": replaced.headers["etag"]})
    assert deleted.status_code == 204
    problem(await api.get(f"{base}/beta"), 404)


async def test_usage_counts_by_day(api: Api) -> None:
    assert (await api.post(FLAGS, {"key": "f", "variations": [False, True]})).status_code == 201
    server_key = await api.new_key(name="svc", kind="server", project="default", environment="production")
    sdk = api.service.authorize(server_key)
    now = datetime.now(UTC)
    summaries = [
        EvaluationSummary("f", 1, 1, 5, now - timedelta(minutes=1), now),
        EvaluationSummary("f", 0, 1, 2, now - timedelta(minutes=1), now),
    ]
    api.service.record_events(sdk, summaries)
    usage = await api.get(f"{FLAGS}/f/usage")
    assert usage.status_code == 200, usage.text
    [production] = usage.json()["items"]
    assert production["environment"] == "production"
    assert production["total"] == 7
    assert production["last_evaluated"] is not None
    assert sorted(d["count"] for d in production["days"]) == [2, 5]
    today = now.date().isoformat()
    filtered = await api.get(f"{FLAGS}/f/usage", params={"environment": "development", "since": today})
    assert filtered.json()["items"] == []
    assert paths(problem(await api.get(f"{FLAGS}/f/usage", params={"since": "yesterday"}), 400)) == ["since"]
    assert paths(problem(await api.get(f"{FLAGS}/nope/usage"), 404)) == ["flag"]
