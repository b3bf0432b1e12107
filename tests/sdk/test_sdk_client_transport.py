"""The client against a scripted fake server (httpx.MockTransport): stream, poll, fallback, 401, cache."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from sdk_support import END, FakeServer, delete, flag, patch, put, wait_for

from vexil.engine import ErrorKind
from vexil.protocol import decode_json
from vexil.sdk import Backoff, Client, ClientStatus, SourceErrorKind, State
from vexil.sdk._http import HttpConfig
from vexil.sdk._remote import RemoteSource

CTX = {"key": "u1"}
BASE = "http://vexil.test"


def fast_client(
    fake: FakeServer, *, streaming: bool = True, poll_interval: float = 0.05, **kwargs: object
) -> Client:
    """A client whose reconnects take milliseconds (the public constructor's backoff starts at 0.5 s)."""
    source = RemoteSource(
        HttpConfig(BASE, "vxs_test", fake.transport),
        streaming=streaming,
        poll_interval=poll_interval,
        logger=logging.getLogger("vexil.test"),
        backoff=Backoff(initial=0.01, maximum=0.04),
    )
    return Client.from_source(source, start_wait=2.0, **kwargs)  # type: ignore[arg-type]


def test_streaming_put_patch_delete_reach_the_client() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(True, version=1), "b": flag("x", version=1)}, version=1)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False) as client:
        assert client.status().ready  # the constructor waited for the first put
        assert client.bool("a", CTX, False) is True
        fake.push(patch("a", flag(False), version=2))
        wait_for(lambda: client.bool("a", CTX, True) is False)
        fake.push(patch("a", flag(True), version=1))  # older: ignored
        fake.push(delete("b", version=3))
        wait_for(lambda: client.detail("b", CTX, "d").reason.error_kind is ErrorKind.FLAG_NOT_FOUND)
        assert client.bool("a", CTX, True) is False
        status = client.status()
        assert (status.state, status.version, status.source, status.stale) == (
            State.VALID,
            3,
            "streaming",
            False,
        )
        stream_request = next(r for r in fake.requests if r.url.path == "/sdk/v1/stream")
        assert stream_request.headers["authorization"] == "Bearer vxs_test"
        assert stream_request.headers["accept"] == "text/event-stream"
        assert stream_request.headers["user-agent"].startswith("vexil-python/")


def test_a_malformed_event_restarts_the_stream_and_keeps_the_data() -> None:
    fake = FakeServer(
        stream_script=[put({"a": flag(1, version=1)}, version=1), put({"a": flag(2, version=5)}, version=5)]
    )
    with fast_client(fake) as client:
        assert client.number("a", CTX, 0) == 1
        errors: list[ClientStatus] = []
        client.add_listener(lambda s: errors.append(s) if s.error is not None else None)
        fake.push(b"event: patch\ndata: {broken\n\n")
        wait_for(lambda: client.number("a", CTX, 0) == 2)  # reconnected and got the new put
        assert fake.count("/sdk/v1/stream") == 2
        assert any(s.error is not None and s.error.kind is SourceErrorKind.MALFORMED for s in errors)
        assert client.status().state is State.VALID and client.status().error is None


def test_a_stream_that_ends_is_reopened() -> None:
    fake = FakeServer(
        stream_script=[put({"a": flag(1, version=1)}, version=1), put({"a": flag(2, version=2)}, version=2)]
    )
    with fast_client(fake) as client:
        fake.push(END)
        wait_for(lambda: client.number("a", CTX, 0) == 2)
        assert fake.count("/sdk/v1/stream") == 2


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_stops_retrying_and_says_why(status: int, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeServer(stream_default=status, snapshot_default=status)
    started = time.monotonic()
    client = Client("vxs_wrong", BASE, transport=fake.transport, events=False, start_wait=10.0)
    assert time.monotonic() - started < 5.0  # gave up at once instead of waiting start_wait
    assert not client.wait_until_ready(0.1)
    time.sleep(0.3)
    assert fake.count("/sdk/v1/stream") == 1  # no retries
    assert fake.count("/sdk/v1/snapshot") == 0
    status_now = client.status()
    assert status_now.state is State.OFF
    assert status_now.error is not None and status_now.error.kind is SourceErrorKind.UNAUTHORIZED
    assert status_now.error.status == status
    assert "rejected the SDK key" in caplog.text
    assert "vxs_wrong" not in caplog.text  # the key never reaches the log
    assert client.detail("a", CTX, 0).reason.error_kind is ErrorKind.CLIENT_NOT_READY
    client.close()


def test_polling_uses_etags_and_applies_only_changes() -> None:
    doc1 = {"flags": {"a": flag(1, version=1)}}
    doc2 = {"flags": {"a": flag(2, version=2)}}
    fake = FakeServer(snapshot_script=[(1, doc1), (1, doc1), (1, doc1)], snapshot_default=(2, doc2))
    with fast_client(fake, streaming=False, poll_interval=0.02) as client:
        assert client.status().source == "polling"
        wait_for(lambda: client.number("a", CTX, 0) == 2)
    polls = [r for r in fake.requests if r.url.path == "/sdk/v1/snapshot"]
    assert "if-none-match" not in polls[0].headers
    assert polls[1].headers["if-none-match"] == '"v1"'  # the second poll got a 304
    assert fake.count("/sdk/v1/stream") == 0


def test_the_public_constructor_can_poll_instead_of_stream() -> None:
    fake = FakeServer(snapshot_default=(4, {"flags": {"a": flag("p", version=4)}}))
    with Client("vxs_test", BASE, stream=False, transport=fake.transport, events=False) as client:
        assert client.string("a", CTX, "") == "p"
        assert client.status().version == 4


def test_a_failing_stream_falls_back_to_polling() -> None:
    fake = FakeServer(stream_default=503, snapshot_default=(7, {"flags": {"a": flag("polled", version=7)}}))
    with fast_client(fake) as client:
        wait_for(lambda: client.string("a", CTX, "") == "polled")
        assert fake.count("/sdk/v1/stream") == 3  # fallback_after
        assert client.status().state is State.VALID


def test_a_malformed_snapshot_while_polling_is_reported_and_retried() -> None:
    fake = FakeServer(
        snapshot_script=[(1, {"flags": "not an object"})], snapshot_default=(2, {"flags": {"a": flag(1)}})
    )
    with fast_client(fake, streaming=False, poll_interval=0.02) as client:
        wait_for(lambda: client.number("a", CTX, 0) == 1)
        assert fake.count("/sdk/v1/snapshot") >= 2


# -- last known good -------------------------------------------------------------------------------------


def test_each_snapshot_is_written_to_the_cache_atomically(tmp_path: Path) -> None:
    cache = tmp_path / "flags.json"
    fake = FakeServer(stream_script=[put({"a": flag(1, version=1)}, version=1)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False, cache_path=cache) as client:
        assert client.status().ready
        fake.push(patch("a", flag(2), version=2))
        wait_for(lambda: cache.exists() and json.loads(cache.read_bytes())["version"] == 2)
    message = decode_json("put", cache.read_bytes())
    assert message == decode_json("put", json.dumps({"version": 2, "document": client.snapshot.document()}))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flags.json"]  # no temporary files left


def test_a_client_that_cannot_reach_the_server_serves_its_cache_as_stale(tmp_path: Path) -> None:
    cache = tmp_path / "flags.json"
    cache.write_text(json.dumps({"version": 9, "document": {"flags": {"a": flag("cached", version=9)}}}))
    fake = FakeServer(stream_default=503, snapshot_default=503)
    started = time.monotonic()
    client = Client(
        "vxs_test", BASE, transport=fake.transport, events=False, cache_path=cache, start_wait=5.0
    )
    assert time.monotonic() - started < 2.0  # the first failure loads the cache: no need to wait longer
    assert client.string("a", CTX, "") == "cached"
    status = client.status()
    assert status.ready and status.stale and status.version == 9
    assert status.error is not None and status.error.status == 503
    client.close()


def test_live_data_replaces_the_cache_and_clears_stale(tmp_path: Path) -> None:
    cache = tmp_path / "flags.json"
    cache.write_text(json.dumps({"version": 1, "document": {"flags": {"a": flag("cached")}}}))
    fake = FakeServer(stream_script=[503, put({"a": flag("live", version=2)}, version=2)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False, cache_path=cache) as client:
        assert client.string("a", CTX, "") == "cached" and client.status().stale
        wait_for(lambda: client.string("a", CTX, "") == "live")  # after one backoff step (0.5-1 s)
        assert not client.status().stale
        wait_for(lambda: json.loads(cache.read_bytes())["version"] == 2)


def test_an_unusable_cache_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "flags.json"
    cache.write_text("{not json")
    fake = FakeServer(stream_default=503, snapshot_default=503)
    client = Client(
        "vxs_test", BASE, transport=fake.transport, events=False, cache_path=cache, start_wait=0.2
    )
    assert client.detail("a", CTX, 0).reason.error_kind is ErrorKind.CLIENT_NOT_READY
    assert "no usable flag cache" in caplog.text
    client.close()


def test_an_unwritable_cache_path_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeServer(stream_script=[put({"a": flag(1, version=1)}, version=1)])
    cache = tmp_path / "missing-dir" / "flags.json"
    with Client("vxs_test", BASE, transport=fake.transport, events=False, cache_path=cache) as client:
        assert client.number("a", CTX, 0) == 1
    assert "cannot write the flag cache" in caplog.text


# -- lifecycle ------------------------------------------------------------------------------------------


def test_close_is_quick_idempotent_and_the_client_keeps_answering() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(1, version=1)}, version=1)])
    client = Client("vxs_test", BASE, transport=fake.transport)
    started = time.monotonic()
    client.close()
    client.close()
    assert time.monotonic() - started < 2.0
    assert client.status().state is State.CLOSED
    assert client.number("a", CTX, 0) == 1


def test_constructor_arguments_are_checked() -> None:
    for bad in ("", "   "):
        with pytest.raises(ValueError, match="SDK key"):
            Client(bad)
    with pytest.raises(ValueError, match="poll_interval"):
        Client("k", poll_interval=0)


def test_listeners_hear_about_changes_and_can_be_removed() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(1, version=1)}, version=1)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False) as client:
        heard: list[int | None] = []
        remove = client.add_listener(lambda s: heard.append(s.version))
        fake.push(patch("a", flag(2), version=2))
        wait_for(lambda: 2 in heard)
        remove()
        remove()  # twice is harmless
        fake.push(patch("a", flag(3), version=3))
        wait_for(lambda: client.number("a", CTX, 0) == 3)
        assert 3 not in heard


def test_a_raising_listener_does_not_stop_updates(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeServer(stream_script=[put({"a": flag(1, version=1)}, version=1)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False) as client:

        def bad(_: ClientStatus) -> None:
            raise RuntimeError("listener bug")

        client.add_listener(bad)
        fake.push(patch("a", flag(2), version=2))
        fake.push(patch("a", flag(3), version=3))
        wait_for(lambda: client.number("a", CTX, 0) == 3)
    assert "a status listener raised" in caplog.text
