"""The OFREP SSE stream against a live `vexil serve`: the `eventStreams` link, `refetchEvaluation` events on
changes (checked against the spec's `sseEvent`), `flagConfigEtag` refetches, CORS, refused links."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from ofrep_live import LiveServer, SSEReader, running, wait_until
from ofrep_spec import BULK, check, check_sse_event

ORIGIN = "https://app.example"
USER = {"targetingKey": "user-1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "VEXIL_HEARTBEAT_SECONDS": "0.2",
        "VEXIL_OFREP_CORS_ORIGINS": ORIGIN,
        "VEXIL_AUTH_CACHE_SECONDS": "0",
    }
    with running(tmp_path_factory.mktemp("ofrep-stream"), env) as started:
        yield started


def bulk(server: LiveServer, key: str, query: str = "", **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/ofrep/v1/evaluate/flags{query}",
        headers={"Authorization": f"Bearer {key}", **headers},
        json={"context": USER},
    )


def stream_url(server: LiveServer, key: str) -> str:
    (stream,) = check(bulk(server, key), BULK)["eventStreams"]
    assert stream["type"] == "sse" and stream["inactivityDelaySec"] == 120
    return server.url + str(stream["endpoint"]["requestUri"])


def refetches(reader: SSEReader) -> list[dict[str, object]]:
    return [check_sse_event(event) for event in list(reader.events)]


def test_changes_arrive_as_refetch_events(server: LiveServer) -> None:
    key = server.new_key("client")
    flag = server.flag(
        {"variations": ["a", "b"], "client_side": True}, {"on": True, "fallthrough": {"variation": 0}}
    )
    url = stream_url(server, key)
    with SSEReader(url, {"Origin": ORIGIN}) as reader:
        first = wait_until(lambda: refetches(reader))[0]  # a first connect refetches: nothing can be missed
        assert reader.status == 200 and reader.response_headers["access-control-allow-origin"] == ORIGIN
        assert reader.response_headers["content-type"].startswith("text/event-stream")
        assert first["type"] == "refetchEvaluation" and reader.events[0]["event"] == "message"
        version = int(reader.events[0]["id"])
        assert str(first["etag"]).startswith(f"{version}-")
        before = bulk(server, key)
        changed_at = time.perf_counter()
        server.retarget(flag, {"fallthrough": {"variation": 1}})
        second = wait_until(lambda: refetches(reader)[1:])[0]
        latency = time.perf_counter() - changed_at
        assert int(reader.events[1]["id"]) > version and second["etag"] != first["etag"]
        assert latency < 2.0, latency
        # What the web provider does next: refetch with the event's etag and its last ETag.
        query = f"?flagConfigEtag={quote(str(second['etag']))}"
        after = bulk(server, key, query, **{"If-None-Match": before.headers["etag"]})
        assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
        assert next(item for item in check(after, BULK)["flags"] if item["key"] == flag)["value"] == "b"
        wait_until(lambda: len(reader.comments) >= 2)  # heartbeats pass through as comments
        assert "heartbeat" in reader.comments


def test_a_change_invisible_to_nobody_still_refetches_each_key_kind(server: LiveServer) -> None:
    server_key, client_key = server.new_key("server"), server.new_key("client")
    with (
        SSEReader(stream_url(server, server_key)) as for_server,
        SSEReader(stream_url(server, client_key)) as for_client,
    ):
        wait_until(lambda: for_server.events and for_client.events)
        server.flag({"variations": [False, True]}, {"on": True})  # server-only: client answers may not change
        wait_until(lambda: len(for_server.events) > 1 and len(for_client.events) > 1)
        assert for_server.events[-1]["id"] == for_client.events[-1]["id"]


def test_reconnect_with_the_last_event_id_is_quiet(server: LiveServer) -> None:
    key = server.new_key("server")
    url = stream_url(server, key)
    with SSEReader(url) as first:
        wait_until(lambda: first.events)
    last_id = first.events[-1]["id"]
    with SSEReader(url, {"Last-Event-ID": last_id}) as again:
        wait_until(lambda: "up to date" in again.comments)
        assert again.events == []
    with SSEReader(url, {"Last-Event-ID": "0"}) as behind:
        assert wait_until(lambda: behind.events)[0]["id"] == last_id


def test_refused_links(server: LiveServer) -> None:
    key = server.new_key("server")
    url = stream_url(server, key)
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    for bad in (tampered, url.split("?")[0], url.split("?")[0] + "?channel=1.2.3"):
        response = httpx.get(bad)
        assert response.status_code == 401 and response.json()["type"] == "urn:vexil:problem:unauthorized"
    key_id = next(
        k["id"]
        for k in httpx.get(f"{server.url}/api/v1/keys", headers=server.admin()).json()["items"]
        if k["prefix"] == key[:8]
    )
    assert httpx.delete(f"{server.url}/api/v1/keys/{key_id}", headers=server.admin()).status_code == 200
    assert httpx.get(url).status_code == 401  # revoked keys' links stop working
