"""OFREP evaluation over the real app and a real SQLite store: values, variants, reasons, metadata, client
keys and ETags, each response checked against the OFREP OpenAPI document and each value against the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ofrep_spec import BULK, SINGLE, check
from ofrep_support import Ofrep, running_ofrep

from vexil.engine import Snapshot
from vexil.service import Principal

pytestmark = pytest.mark.anyio

ROLLOUT = {"rollout": {"variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]}}
USERS = [
    {"targetingKey": f"user-{i}", "email": f"u{i}@{'example.com' if i % 3 == 0 else 'other.org'}"}
    for i in range(40)
]


@pytest.fixture
async def ofrep(tmp_path: Path) -> AsyncIterator[Ofrep]:
    async with running_ofrep(tmp_path) as running:
        yield running


def engine(ofrep: Ofrep) -> Snapshot:
    """What the environment's document gives when the engine evaluates it directly."""
    document = ofrep.service.get_snapshot(Principal.system(), "default", "production").document
    return Snapshot.from_document(document)


def as_vexil(context: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in context.items() if k != "targetingKey"}, "key": context["targetingKey"]}


async def synced(ofrep: Ofrep, key: str) -> None:
    """Wait until OFREP serves the environment's current snapshot version (change notices are async)."""
    want = ofrep.service.get_snapshot(Principal.system(), "default", "production").version
    for _ in range(200):
        response = await ofrep.bulk(key, {"targetingKey": "sync"})
        if response.headers["etag"].strip('"').split(".")[0] == str(want):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"OFREP never reached snapshot version {want}")


async def test_values_variants_and_reasons(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("server")
    static = await ofrep.flag({"variations": [False, True]}, {"on": True})
    off = await ofrep.flag({"variations": [False, True]})
    off_no_variation = await ofrep.flag({"variations": ["a", "b"]}, {"off_variation": None})
    named = await ofrep.flag(
        {
            "variations": [{"limit": 10}, {"limit": 50}, [1, 2]],
            "variation_info": [{"name": "small"}, {"name": "large"}, {"name": "list"}],
            "description": "Limits",
            "owner": "team-x",
            "tags": ["a", "b"],
            "temporary": True,
        },
        {
            "on": True,
            "targets": [{"variation": 2, "values": ["user-1"]}],
            "rules": [
                {
                    "id": "staff",
                    "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
                    "serve": {"variation": 1},
                }
            ],
            "fallthrough": {"variation": 0},
        },
    )
    split = await ofrep.flag({"variations": ["red", "blue"]}, {"on": True, "fallthrough": ROLLOUT})
    experiment = await ofrep.flag(
        {"variations": [1.5, 2.5]},
        {"on": True, "fallthrough": {"rollout": {**ROLLOUT["rollout"], "kind": "experiment"}}},
    )
    rule_split = await ofrep.flag(
        {"variations": [None, "x"]},
        {
            "on": True,
            "rules": [
                {"clauses": [{"attribute": "email", "op": "contains", "values": ["@"]}], "serve": ROLLOUT}
            ],
            "fallthrough": {"variation": 1},
        },
    )
    gated = await ofrep.flag(
        {"variations": [0, 7]},
        {"on": True, "prerequisites": [{"flag": off, "variation": 1}], "fallthrough": {"variation": 1}},
    )
    await synced(ofrep, key)
    snapshot = engine(ofrep)

    def one(response: Any) -> dict[str, Any]:
        body = check(response, SINGLE)
        assert isinstance(body, dict)
        return body

    got = one(await ofrep.single(key, static, USERS[0]))
    assert (got["value"], got["variant"], got["reason"]) == (True, "1", "STATIC")
    got = one(await ofrep.single(key, off, USERS[0]))
    assert (got["value"], got["variant"], got["reason"]) == (False, "0", "DISABLED")
    assert got["metadata"]["vexil_reason"] == "OFF"
    got = one(await ofrep.single(key, off_no_variation, USERS[0]))
    assert got["reason"] == "DISABLED" and "value" not in got and "variant" not in got  # codeDefaultFlag
    got = one(await ofrep.single(key, named, USERS[1]))
    assert (got["value"], got["variant"], got["reason"]) == ([1, 2], "list", "TARGETING_MATCH")
    assert got["metadata"] == {
        "version": snapshot.flags[named]["version"],
        "description": "Limits",
        "owner": "team-x",
        "tags": "a,b",
        "temporary": True,
        "vexil_reason": "TARGET_MATCH",
        "variation": 2,
    }
    got = one(await ofrep.single(key, named, USERS[3]))
    assert (got["value"], got["variant"], got["reason"]) == ({"limit": 50}, "large", "TARGETING_MATCH")
    assert (got["metadata"]["rule_index"], got["metadata"]["rule_id"]) == (0, "staff")
    got = one(await ofrep.single(key, named, USERS[2]))
    assert (got["variant"], got["reason"], got["metadata"]["vexil_reason"]) == (
        "small",
        "UNKNOWN",
        "FALLTHROUGH",
    )
    got = one(await ofrep.single(key, experiment, USERS[0]))
    assert (
        got["reason"] == "SPLIT"
        and isinstance(got["value"], float)
        and got["metadata"]["in_experiment"] is True
    )
    got = one(await ofrep.single(key, gated, USERS[0]))
    assert (got["value"], got["reason"]) == (0, "TARGETING_MATCH")
    assert (
        got["metadata"]["prerequisite_key"] == off
        and got["metadata"]["vexil_reason"] == "PREREQUISITE_FAILED"
    )

    reasons: set[str] = set()
    for user in USERS:
        for flag in (split, rule_split, named, experiment):
            got = one(await ofrep.single(key, flag, user))
            expected = snapshot.evaluate(flag, as_vexil(user))
            assert got.get("value") == expected.value and got["metadata"]["variation"] == expected.variation
            reasons.add(got["reason"])
            if flag == rule_split and expected.value is None:
                assert "value" not in got and got["variant"] == "0"  # a null variation: the caller's default
    assert {"SPLIT", "TARGETING_MATCH", "UNKNOWN"} <= reasons


async def test_bulk_equals_the_single_answers_and_the_engine(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("server")
    flags = [
        await ofrep.flag({"variations": [False, True]}, {"on": True, "fallthrough": ROLLOUT}),
        await ofrep.flag(
            {"variations": ["a", "b", "c"]},
            {
                "on": True,
                "rules": [
                    {
                        "clauses": [{"attribute": "email", "op": "ends_with", "values": ["example.com"]}],
                        "serve": {"variation": 2},
                    }
                ],
            },
        ),
        await ofrep.flag({"variations": [{"x": 1}]}),
    ]
    await synced(ofrep, key)
    snapshot = engine(ofrep)
    for user in USERS[:12]:
        body = check(await ofrep.bulk(key, user), BULK)
        assert [item["key"] for item in body["flags"]] == list(snapshot.flags)
        by_key = {item["key"]: item for item in body["flags"]}
        for flag in flags:
            assert by_key[flag] == check(await ofrep.single(key, flag, user), SINGLE)
            assert by_key[flag].get("value") == snapshot.evaluate(flag, as_vexil(user)).value
        assert body["metadata"] == {"project": "default", "environment": "production"}
        (stream,) = body["eventStreams"]
        assert stream["type"] == "sse" and stream["endpoint"]["requestUri"].startswith(
            "/ofrep/v1/stream?channel="
        )


async def test_client_keys_see_only_client_side_flags_evaluated_with_every_rule(ofrep: Ofrep) -> None:
    server, client = await ofrep.new_key("server"), await ofrep.new_key("client")
    hidden = await ofrep.flag({"variations": [False, True]}, {"on": True})
    shown = await ofrep.flag(
        {"variations": ["off", "on"], "client_side": True},
        {"on": True, "prerequisites": [{"flag": hidden, "variation": 1}], "fallthrough": {"variation": 1}},
    )
    await synced(ofrep, server)
    client_keys = [item["key"] for item in check(await ofrep.bulk(client, USERS[0]), BULK)["flags"]]
    assert client_keys == [shown]
    server_keys = [item["key"] for item in check(await ofrep.bulk(server, USERS[0]), BULK)["flags"]]
    assert {hidden, shown} <= set(server_keys)
    missing = check(await ofrep.single(client, hidden, USERS[0]), SINGLE)
    assert missing == {
        "key": hidden,
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": f"flag {hidden!r} was not found",
    }
    # The prerequisite is a server-only flag; evaluation still sees it, only the answer is filtered.
    got = check(await ofrep.single(client, shown, USERS[0]), SINGLE)
    assert (got["value"], got["reason"]) == ("on", "UNKNOWN")  # prerequisites make it targeted, not static
    assert got["metadata"]["vexil_reason"] == "FALLTHROUGH"


async def test_bulk_etag_and_304(ofrep: Ofrep) -> None:
    key, other_key = await ofrep.new_key("client"), await ofrep.new_key("client")
    flag = await ofrep.flag({"variations": [False, True], "client_side": True}, {"on": True})
    await synced(ofrep, key)
    first = await ofrep.bulk(key, USERS[0])
    check(first, BULK)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    same = await ofrep.bulk(key, {"email": USERS[0]["email"], "targetingKey": USERS[0]["targetingKey"]})
    assert same.headers["etag"] == etag and same.json() == first.json()  # attribute order does not matter
    for header in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        not_modified = await ofrep.bulk(key, USERS[0], **{"If-None-Match": header})
        assert not_modified.status_code == 304 and not_modified.headers["etag"] == etag
        check(not_modified, BULK)
    assert (await ofrep.bulk(key, USERS[1])).headers["etag"] != etag
    assert (await ofrep.bulk(other_key, USERS[0])).headers["etag"] != etag  # another key, another stream link
    assert (await ofrep.bulk(key, USERS[0], **{"If-None-Match": '"other"'})).status_code == 200
    await ofrep.target(flag, {"on": False})
    await synced(ofrep, key)
    changed = await ofrep.bulk(key, USERS[0], **{"If-None-Match": etag})
    body = check(changed, BULK)
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert next(item for item in body["flags"] if item["key"] == flag)["value"] is False


async def test_multi_and_custom_kind_contexts(ofrep: Ofrep) -> None:
    key = await ofrep.new_key("server")
    flag = await ofrep.flag(
        {"variations": ["default", "org-target", "org-rule"]},
        {
            "on": True,
            "targets": [{"variation": 1, "values": ["acme"], "context_kind": "org"}],
            "rules": [
                {
                    "clauses": [{"attribute": "tier", "op": "in", "values": ["gold"], "context_kind": "org"}],
                    "serve": {"variation": 2},
                }
            ],
        },
    )
    await synced(ofrep, key)
    cases = [
        ({"targetingKey": "acme", "kind": "org"}, "org-target"),
        ({"targetingKey": "other", "kind": "org", "tier": "gold"}, "org-rule"),
        ({"targetingKey": "acme"}, "default"),  # a user named acme is not the org
        ({"kind": "multi", "user": {"targetingKey": "u1"}, "org": {"key": "acme"}}, "org-target"),
        (
            {"kind": "multi", "user": {"targetingKey": "u1"}, "org": {"targetingKey": "o", "tier": "gold"}},
            "org-rule",
        ),
    ]
    for context, value in cases:
        assert check(await ofrep.single(key, flag, context), SINGLE)["value"] == value, context


async def test_a_refetch_naming_a_newer_configuration_waits_for_it_boundedly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEXIL_OFREP_FRESHNESS_WAIT_SECONDS", "0.3")
    async with running_ofrep(tmp_path) as ofrep:
        key = await ofrep.new_key("server")
        await ofrep.flag({"variations": [1, 2]}, {"on": True})
        await synced(ofrep, key)
        current = int((await ofrep.bulk(key, USERS[0])).headers["etag"].strip('"').split(".")[0])

        async def timed(config_etag: str) -> float:
            started = asyncio.get_running_loop().time()
            response = await ofrep.client.post(
                f"{BULK[0]}?flagConfigEtag={config_etag}",
                headers={"Authorization": f"Bearer {key}"},
                json={"context": USERS[0]},
            )
            assert response.status_code == 200
            assert response.headers["etag"].startswith(f'"{current}.')
            return asyncio.get_running_loop().time() - started

        assert await timed(f"{current}-abc") < 0.25  # already here: no wait
        assert await timed("not-a-version") < 0.25
        assert 0.3 <= await timed(f"{current + 5}-abc") < 2.0  # never arrives: waits, then answers
