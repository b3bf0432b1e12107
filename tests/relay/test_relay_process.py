"""`vexil relay` against a real `vexil serve`, both as processes on 127.0.0.1: the relay serves what the
upstream serves (snapshots, streams, OFREP), forwards events, survives the upstream's kill -9 and restart,
restarts from its disk cache while the upstream is down, and refuses keys the upstream revoked."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from relay_support import Relay, StreamClient, Upstream, bearer, wait_until

from vexil.protocol import Message, Patch, Put, SSEDecoder, SSEEvent, SummaryEvent, encode_events

CONTEXT = {"context": {"targetingKey": "user-1", "plan": "pro"}}


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    server = Upstream(tmp_path / "upstream").start()
    try:
        yield server
    finally:
        if server.process is not None:
            server.kill()


@pytest.fixture
def relays(tmp_path: Path) -> Iterator[list[Relay]]:
    """Relays a test starts; each is killed at the end."""
    started: list[Relay] = []
    yield started
    for relay in started:
        relay.stop()


def _start(relays: list[Relay], relay: Relay) -> Relay:
    relays.append(relay.start())
    return relay


def _snapshot(url: str, key: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{url}/sdk/v1/snapshot", headers={**bearer(key), **headers})


def _ofrep(url: str, key: str, flag: str | None = None) -> httpx.Response:
    path = "/ofrep/v1/evaluate/flags" + (f"/{flag}" if flag else "")
    return httpx.post(url + path, headers=bearer(key), json=CONTEXT)


def _without_links(body: dict[str, Any]) -> dict[str, Any]:
    """A bulk answer minus its `eventStreams` (each server signs its own stream links)."""
    return {k: v for k, v in body.items() if k != "eventStreams"}


def _flag_is(key: str, on: bool) -> Any:
    def check(messages: list[Message]) -> bool:
        return any(
            (isinstance(m, Patch) and m.key == key and m.item.get("on") is on)
            or (isinstance(m, Put) and m.document["flags"].get(key, {}).get("on") is on and m is messages[-1])
            for m in messages
        )

    return check


def _summary_batch(flag: str, count: int) -> bytes:
    now = datetime.now(UTC)
    return encode_events([SummaryEvent(flag, 1, None, count, now - timedelta(seconds=30), now)])


def _post_events(url: str, key: str, body: bytes, *, gzipped: bool = False) -> httpx.Response:
    headers = {**bearer(key), "Content-Type": "application/json"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body)
    return httpx.post(f"{url}/events/v1/bulk", headers=headers, content=body)


def _refetch_events(url: str, found: list[str], stop: threading.Event) -> None:
    decoder = SSEDecoder()
    with (
        httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client,
        client.stream("GET", url) as response,
    ):
        for chunk in response.iter_raw():
            found.extend(item.data for item in decoder.feed(chunk) if isinstance(item, SSEEvent))
            if stop.is_set():
                return


def test_relay_serves_what_the_upstream_serves(
    upstream: Upstream, relays: list[Relay], tmp_path: Path
) -> None:
    upstream.create_flag("alpha", client_side=True)
    upstream.create_flag("beta")
    production, client = upstream.sdk_key(), upstream.sdk_key("client")
    development, unmirrored = upstream.sdk_key(environment="development"), upstream.sdk_key()
    relay = _start(
        relays,
        Relay(upstream.url, tmp_path / "relay" / "cache", [production, development], [(client, production)]),
    )

    # Snapshots: the same document, byte for byte (so the same ETags: an SDK may switch between the two).
    for key in (production, client, development):
        direct, relayed = _snapshot(upstream.url, key), _snapshot(relay.url, key)
        assert relayed.status_code == direct.status_code == 200
        assert relayed.json() == direct.json()
        assert relayed.headers["etag"] == direct.headers["etag"]
        assert relayed.headers["x-vexil-snapshot-version"] == direct.headers["x-vexil-snapshot-version"]
        assert relayed.headers.get("content-encoding") == "gzip"  # httpx asks for gzip and decodes it
        assert _snapshot(relay.url, key, **{"If-None-Match": relayed.headers["etag"]}).status_code == 304
    assert set(_snapshot(relay.url, client).json()["document"]["flags"]) == {"alpha"}

    # OFREP: the same evaluations, reasons, errors and metadata.
    for key in (production, client):
        for flag in ("alpha", "beta", "missing"):
            direct, relayed = _ofrep(upstream.url, key, flag), _ofrep(relay.url, key, flag)
            assert (relayed.status_code, relayed.json()) == (direct.status_code, direct.json())
        direct, relayed = _ofrep(upstream.url, key), _ofrep(relay.url, key)
        assert relayed.status_code == direct.status_code == 200
        assert _without_links(relayed.json()) == _without_links(direct.json())
        assert relayed.json()["metadata"] == {"project": "default", "environment": "production"}

    # Only the configured keys, compared with what the relay was given (not with the upstream's database).
    for key in (unmirrored, upstream.admin_key, "vxs_not-a-key"):
        assert _snapshot(relay.url, key).status_code == 401
        assert _ofrep(relay.url, key).status_code == 401
    assert httpx.get(f"{relay.url}/sdk/v1/snapshot").status_code == 401

    # A change through the upstream's admin API reaches stream clients of the relay, SDK and OFREP alike.
    stream = StreamClient(relay.url, production).start()
    stream.wait_for(lambda ms: isinstance(ms[0], Put) if ms else None)
    link = relay.url + _ofrep(relay.url, production).json()["eventStreams"][0]["endpoint"]["requestUri"]
    refetches: list[str] = []
    stop = threading.Event()
    threading.Thread(target=_refetch_events, args=(link, refetches, stop), daemon=True).start()
    wait_until(lambda: refetches, what="the OFREP stream's first refetch")
    seen = len(refetches)
    upstream.set_targeting("beta", on=False)
    stream.wait_for(_flag_is("beta", False))
    wait_until(lambda: len(refetches) > seen, what="an OFREP refetch event after the change")
    assert '"refetchEvaluation"' in refetches[-1]
    assert _ofrep(relay.url, production, "beta").json()["value"] is False
    assert _snapshot(relay.url, production).json() == _snapshot(upstream.url, production).json()
    stop.set()
    stream.close()

    # Events posted to the relay (server and client keys, gzip or not) arrive upstream in batches.
    assert _post_events(relay.url, production, _summary_batch("alpha", 5)).status_code == 202
    assert _post_events(relay.url, client, _summary_batch("alpha", 7), gzipped=True).status_code == 202
    assert _post_events(relay.url, production, b'[{"kind": "summary"}]').status_code == 422
    wait_until(lambda: upstream.usage("alpha") == 12, what="12 evaluations of alpha counted upstream")

    status, ready = relay.readyz()
    assert status == 200 and ready["status"] == "ready"
    assert [e["environment"] for e in ready["environments"]] == ["production", "development"]
    metrics = httpx.get(f"{relay.url}/metrics").text
    assert 'vexil_relay_upstream_connected{environment="production"' in metrics
    assert "vexil_relay_events_forwarded_total 2.0" in metrics

    # A key the upstream revokes stops working at the relay too (its stream there is ended, it reconnects).
    upstream.revoke(development)
    wait_until(lambda: _snapshot(relay.url, development).status_code == 401, what="the revoked key refused")
    status, ready = relay.readyz()
    assert status == 200 and ready["status"] == "degraded"
    assert [e["key_rejected"] for e in ready["environments"]] == [False, True]
    assert _snapshot(relay.url, production).status_code == 200


def test_relay_survives_upstream_kill_and_catches_up(
    upstream: Upstream, relays: list[Relay], tmp_path: Path
) -> None:
    upstream.create_flag("beta")
    key = upstream.sdk_key()
    relay = _start(relays, Relay(upstream.url, tmp_path / "relay" / "cache", [key]))
    before = _snapshot(relay.url, key)
    stream = StreamClient(relay.url, key).start()
    stream.wait_for(lambda ms: isinstance(ms[0], Put) if ms else None)

    upstream.kill()
    status, ready = wait_until(
        lambda: (found := relay.readyz()) and (found if found[1]["status"] == "degraded" else None),
        what="degraded",
    )
    assert status == 200
    [environment] = ready["environments"]
    assert environment["connected"] is False and environment["version"] == before.json()["version"]
    assert environment["last_sync_age_seconds"] >= 0 and environment["error"]
    [gauge] = [
        m
        for m in httpx.get(f"{relay.url}/metrics").text.splitlines()
        if m.startswith("vexil_relay_upstream_c")
    ]
    assert gauge.endswith(" 0.0")
    # Still serving the last copy: snapshots, OFREP, and events (buffered for later).
    kept = _snapshot(relay.url, key)
    assert (kept.status_code, kept.json()) == (200, before.json())
    assert _ofrep(relay.url, key, "beta").json()["value"] is True
    assert _post_events(relay.url, key, _summary_batch("beta", 3)).status_code == 202
    assert httpx.get(f"{relay.url}/healthz").status_code == 200

    upstream.start()  # the same port and data directory
    upstream.set_targeting("beta", on=False)  # right away: possibly before the relay reconnected
    stream.wait_for(_flag_is("beta", False))  # the relay's stream client never reconnected, and caught up
    wait_until(lambda: relay.readyz()[1]["status"] == "ready", what="ready again")
    assert _snapshot(relay.url, key).json() == _snapshot(upstream.url, key).json()
    assert _ofrep(relay.url, key, "beta").json()["value"] is False
    wait_until(lambda: upstream.usage("beta") == 3, what="events from the outage counted upstream")
    stream.close()


def test_relay_restarts_from_disk_cache_while_upstream_down(
    upstream: Upstream, relays: list[Relay], tmp_path: Path
) -> None:
    upstream.create_flag("beta")
    upstream.set_targeting("beta", on=False)
    key = upstream.sdk_key()
    cache = tmp_path / "relay" / "cache"
    first = _start(relays, Relay(upstream.url, cache, [key]))
    synced = _snapshot(first.url, key)
    assert synced.json() == _snapshot(upstream.url, key).json()
    wait_until(lambda: list(cache.glob("env-*.json")), what="the disk cache written")

    first.stop()  # kill -9 both: nothing gets a chance to flush anything more
    upstream.kill()
    second = _start(relays, Relay(upstream.url, cache, [key]))
    cached = _snapshot(second.url, key)
    assert (cached.status_code, cached.json()) == (200, synced.json())
    assert cached.headers["etag"] == synced.headers["etag"]
    assert _ofrep(second.url, key, "beta").json()["value"] is False
    assert _ofrep(second.url, key).json()["metadata"] == {"project": "default", "environment": "production"}
    status, ready = second.readyz()
    assert status == 200 and ready["status"] == "degraded"
    assert ready["environments"][0]["source"] == "cache" and ready["environments"][0]["connected"] is False

    upstream.start()
    upstream.set_targeting("beta", on=True)
    wait_until(lambda: _ofrep(second.url, key, "beta").json()["value"] is True, what="caught up")
    wait_until(lambda: second.readyz()[1]["status"] == "ready", what="ready")
    assert second.readyz()[1]["environments"][0]["source"] == "upstream"


def test_relay_without_upstream_or_cache_is_unavailable_but_alive(
    relays: list[Relay], tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    key = "vxs_" + "k" * 43
    relay = _start(relays, Relay(f"http://127.0.0.1:{closed}", tmp_path / "relay" / "cache", [key]))
    status, ready = relay.readyz()
    assert status == 503 and ready["status"] == "unavailable"
    assert ready["environments"][0]["version"] is None and ready["environments"][0]["error"]
    assert httpx.get(f"{relay.url}/healthz").status_code == 200
    unavailable = _snapshot(relay.url, key)
    assert (
        unavailable.status_code == 503 and unavailable.headers["content-type"] == "application/problem+json"
    )
    assert _snapshot(relay.url, "vxs_" + "x" * 43).status_code == 401
    assert _post_events(relay.url, key, _summary_batch("alpha", 1)).status_code == 202  # buffered
    assert relay.process is not None
    started = time.monotonic()
    assert relay.process.stop(timeout=10) == 0  # SIGTERM: a clean exit, the last flush bounded
    assert time.monotonic() - started < 8
