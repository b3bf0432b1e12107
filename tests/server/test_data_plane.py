"""The SDK data plane against a real `vexil serve` process: snapshot caching headers, the SSE stream, events.

One server (SQLite, demo data, 0.3 s heartbeats) is shared by the module; each test makes its own flags.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from process_support import Server, StreamReader, running, sdk_key

from vexil.engine import Snapshot
from vexil.protocol import Delete, ItemKind, Message, Patch, Put, decode_json

PROJECT = "/api/v1/projects/default"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("data-plane")
    with running(data_dir, env={"VEXIL_HEARTBEAT_SECONDS": "0.3"}, args=("--demo",)) as started:
        yield started


@pytest.fixture(scope="module")
def server_key(server: Server) -> str:
    return sdk_key(server, "server")


@pytest.fixture(scope="module")
def client_key(server: Server) -> str:
    return sdk_key(server, "client")


def new_flag(server: Server, *, client_side: bool = False) -> str:
    key = f"f-{secrets.token_hex(4)}"
    body = {"key": key, "variations": [False, True], "client_side": client_side}
    response = httpx.post(f"{server.url}{PROJECT}/flags", headers=server.admin(), json=body)
    assert response.status_code == 201, response.text
    return key


def set_on(server: Server, flag: str, on: bool) -> httpx.Response:
    response = httpx.patch(
        f"{server.url}{PROJECT}/flags/{flag}/environments/production",
        headers={**server.admin(), "Content-Type": "application/merge-patch+json"},
        content=json.dumps({"on": on}),
    )
    assert response.status_code == 200, response.text
    return response


def snapshot(server: Server, key: str, **headers: str) -> httpx.Response:
    # httpx asks for gzip by default; plain unless a test asks for an encoding
    sent = {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity", **headers}
    return httpx.get(f"{server.url}/sdk/v1/snapshot", headers=sent)


def test_health_readiness_and_metrics(server: Server, server_key: str) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}
    snapshot(server, server_key)
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'vexil_http_requests_total{method="GET",route="/sdk/v1/snapshot",status="200"}' in text
    assert "vexil_http_request_duration_seconds_bucket" in text
    assert 'vexil_snapshot_version{environment="production",project="default"}' in text
    assert "vexil_stream_clients" in text and "vexil_events_ingested" in text


def test_snapshot_is_the_put_document_with_etag_304_gzip_and_head(server: Server, server_key: str) -> None:
    first = snapshot(server, server_key)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    put = decode_json("put", first.content)
    assert isinstance(put, Put)
    assert first.headers["x-vexil-snapshot-version"] == str(put.version)
    assert {"new-checkout", "search-ranking", "max-upload-mb"} <= set(put.document["flags"])
    assert all(item["version"] <= put.version for item in put.document["flags"].values())
    Snapshot.from_document(put.document)  # the engine accepts the document as served

    again = snapshot(server, server_key, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert snapshot(server, server_key, **{"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert snapshot(server, server_key, **{"If-None-Match": '"stale"'}).status_code == 200

    with httpx.Client() as raw:  # no automatic decompression: look at the bytes on the wire
        request = raw.build_request(
            "GET",
            f"{server.url}/sdk/v1/snapshot",
            headers={"Authorization": f"Bearer {server_key}", "Accept-Encoding": "gzip"},
        )
        zipped = raw.send(request, stream=True)
        wire = b"".join(zipped.iter_raw())
        zipped.close()
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["etag"] != etag
    assert int(zipped.headers["content-length"]) == len(wire) < len(first.content)
    assert gzip.decompress(wire) == first.content
    assert snapshot(server, server_key, **{"If-None-Match": zipped.headers["etag"]}).status_code == 304
    assert (
        snapshot(server, server_key, **{"Accept-Encoding": "gzip;q=0"}).headers.get("content-encoding")
        is None
    )

    head = httpx.head(
        f"{server.url}/sdk/v1/snapshot",
        headers={"Authorization": f"Bearer {server_key}", "Accept-Encoding": "identity"},
    )
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag


def test_snapshot_changes_with_a_write_and_reads_its_own_writes(server: Server, server_key: str) -> None:
    before = snapshot(server, server_key)
    flag = new_flag(server)
    after = snapshot(server, server_key)
    assert after.headers["etag"] != before.headers["etag"]
    put = decode_json("put", after.content)
    assert isinstance(put, Put)
    assert flag in put.document["flags"]
    assert put.version > int(before.headers["x-vexil-snapshot-version"])


def test_keys_and_auth(server: Server, client_key: str) -> None:
    put = decode_json("put", snapshot(server, client_key).content)
    assert isinstance(put, Put)
    assert set(put.document["flags"]) == {"new-checkout", "maintenance-banner"}  # the client_side ones
    for path in ("/sdk/v1/snapshot", "/sdk/v1/stream"):
        missing = httpx.get(f"{server.url}{path}")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert "Bearer" in missing.headers["www-authenticate"]
        bad = httpx.get(f"{server.url}{path}", headers={"Authorization": "Bearer vxs_nope"})
        assert bad.status_code == 401
        admin = httpx.get(f"{server.url}{path}", headers=server.admin())
        assert admin.status_code == 403


def _find(kind: type[Message], key: str) -> object:
    def predicate(messages: list[Message]) -> Message | None:
        return next((m for m in messages if isinstance(m, kind) and getattr(m, "key", None) == key), None)

    return predicate


def test_a_patch_reaches_a_stream_client_and_a_delete_leaves_a_tombstone(
    server: Server, server_key: str
) -> None:
    flag = new_flag(server)
    reader = StreamReader(server.url, server_key).start()
    put = reader.wait_for(lambda ms: ms[0] if ms else None)
    assert isinstance(put, Put)
    assert flag in put.document["flags"]
    assert put.document["flags"][flag]["on"] is False

    latencies = []
    seen = put.version
    for on in (True, False, True):
        sent = time.perf_counter()
        response = set_on(server, flag, on)
        returned = time.perf_counter()
        assert response.json()["on"] is on
        patch = reader.wait_for(
            lambda ms, after=seen: next(
                (m for m in ms if isinstance(m, Patch) and m.key == flag and m.version > after), None
            )
        )
        assert isinstance(patch, Patch)
        assert patch.kind is ItemKind.FLAG and patch.item["on"] is on
        assert patch.item["version"] == patch.version > seen
        seen = patch.version
        arrived = reader.arrival(patch)
        latencies.append(((arrived - sent) * 1000, (arrived - returned) * 1000))
    print(
        "\nPATCH sent -> SSE patch arrived (relative to the PATCH response): "
        + ", ".join(f"{a:.1f} ms ({b:+.1f} ms)" for a, b in latencies)
    )
    assert max(a for a, _ in latencies) < 1000

    last_patch = max(m.version for m in (reader.wait_for(lambda ms: ms)) if isinstance(m, Patch))
    deleted = httpx.delete(f"{server.url}{PROJECT}/flags/{flag}", headers=server.admin())
    assert deleted.status_code == 204, deleted.text
    tombstone = reader.wait_for(_find(Delete, flag))
    assert isinstance(tombstone, Delete)
    assert tombstone.kind is ItemKind.FLAG and tombstone.version > last_patch
    now = decode_json("put", snapshot(server, server_key).content)
    assert isinstance(now, Put) and flag not in now.document["flags"]

    versions = [m.version for m in reader.wait_for(lambda ms: ms)]
    assert versions == sorted(versions)
    deadline = time.monotonic() + 5.0  # a loaded CI machine may delay the first 0.3 s heartbeat
    while not reader.comments and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.comments, "heartbeat comments arrive every 0.3 s"
    assert {text for _, text in reader.comments} == {"heartbeat"}


def test_client_streams_see_only_client_side_flags(server: Server, client_key: str) -> None:
    hidden = new_flag(server)
    shown = new_flag(server, client_side=True)
    reader = StreamReader(server.url, client_key).start()
    put = reader.wait_for(lambda ms: ms[0] if ms else None)
    assert isinstance(put, Put)
    assert shown in put.document["flags"] and hidden not in put.document["flags"]
    set_on(server, shown, True)
    assert reader.wait_for(_find(Patch, shown))
    set_on(server, hidden, True)
    gone = reader.wait_for(_find(Delete, hidden))  # never its contents
    assert isinstance(gone, Delete)
    assert not any(isinstance(m, Patch) and m.key == hidden for m in reader.wait_for(lambda ms: ms))
    exposed = httpx.patch(
        f"{server.url}{PROJECT}/flags/{hidden}",
        headers={**server.admin(), "Content-Type": "application/merge-patch+json"},
        content=json.dumps({"client_side": True}),
    )
    assert exposed.status_code == 200, exposed.text
    assert reader.wait_for(_find(Patch, hidden))


def events_post(server: Server, key: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/events/v1/bulk",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
        content=body,
    )


def test_events_are_ingested_plain_and_gzipped(server: Server, server_key: str, client_key: str) -> None:
    flag = new_flag(server)
    summary = {
        "kind": "summary",
        "flag": flag,
        "variation": 1,
        "version": 3,
        "count": 40,
        "window_start": "2026-03-01T12:00:00Z",
        "window_end": "2026-03-01T12:01:00Z",
    }
    custom = {"kind": "custom", "key": "checkout-done", "time": 1772366400000, "value": 9.5}
    plain = events_post(server, server_key, json.dumps([summary, custom, {"kind": "future"}]).encode())
    assert plain.status_code == 202, plain.text
    assert plain.json() == {"accepted": 2}
    zipped = gzip.compress(json.dumps([{**summary, "count": 2}]).encode())
    assert events_post(server, client_key, zipped, **{"Content-Encoding": "gzip"}).status_code == 202
    usage = httpx.get(f"{server.url}{PROJECT}/flags/{flag}/usage", headers=server.admin())
    assert usage.status_code == 200, usage.text
    assert "42" in usage.text  # 40 + 2 evaluations counted for the flag in production
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'vexil_events_ingested_total{kind="summary"}' in metrics


def test_events_rejections(server: Server, server_key: str) -> None:
    limit = 1024 * 1024
    too_big = events_post(server, server_key, b"[" + b" " * limit + b"]")
    assert too_big.status_code == 413
    bomb = gzip.compress(b"[" + b" " * (9 * limit) + b"]")
    assert len(bomb) < limit
    assert events_post(server, server_key, bomb, **{"Content-Encoding": "gzip"}).status_code == 413
    assert events_post(server, server_key, b"not gzip", **{"Content-Encoding": "gzip"}).status_code == 400
    assert events_post(server, server_key, b"[1,", **{}).status_code == 400
    assert events_post(server, server_key, b"[]", **{"Content-Encoding": "br"}).status_code == 400
    invalid = events_post(server, server_key, json.dumps([{"kind": "summary", "flag": "x"}]).encode())
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["path"] == "[0].window_start"
    assert events_post(server, server.admin_key, b"[]").status_code == 403
    assert httpx.post(f"{server.url}/events/v1/bulk", content=b"[]").status_code == 401


def test_data_dir_holds_the_admin_key_privately(server: Server) -> None:
    key_file = Path(server.data_dir) / "admin.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert server.admin_key.startswith("vxa_")
    assert server.admin_key not in server.output()  # the key itself is never printed
    assert str(key_file.resolve()) in server.output()
