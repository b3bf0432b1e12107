"""The SDK against real `vexil serve` processes: changes stream in, kill -9, restarts, cache, silence, fork.

Each test starts its own server on a free loopback port with its own data directory.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest
from sdk_support import RealServer, real_server, silent_server, wait_for

from vexil.sdk import Backoff, Client, SourceErrorKind, State
from vexil.sdk._http import HttpConfig
from vexil.sdk._remote import RemoteSource

pytestmark = pytest.mark.slow
CTX = {"key": "u1"}


def test_a_change_through_the_admin_api_reaches_streaming_and_polling_clients(tmp_path: Path) -> None:
    with real_server(tmp_path / "data") as server:
        key = server.sdk_key()
        server.create_flag("new-checkout")
        with (
            Client(key, server.url, flush_interval=3600) as streaming,
            Client(key, server.url, stream=False, poll_interval=0.1, events=False) as polling,
        ):
            assert streaming.status().state is State.VALID
            assert streaming.bool("new-checkout", CTX, True) is False  # a new flag starts off
            assert polling.bool("new-checkout", CTX, True) is False
            server.serve("new-checkout", 0)
            changed = time.monotonic()
            wait_for(lambda: streaming.bool("new-checkout", CTX, False) is True, timeout=5)
            assert time.monotonic() - changed < 1.0
            wait_for(lambda: polling.bool("new-checkout", CTX, False) is True, timeout=5)
            server.admin("DELETE", "/projects/default/flags/new-checkout")
            wait_for(lambda: streaming.detail("new-checkout", CTX, None).reason.error_kind is not None)
            assert streaming.flush()


def test_evaluation_counts_reach_the_server(tmp_path: Path) -> None:
    with real_server(tmp_path / "data") as server:
        key = server.sdk_key()
        server.create_flag("counted")
        server.serve("counted", 0)
        with Client(key, server.url, flush_interval=3600) as client:
            for _ in range(7):
                assert client.bool("counted", CTX, False) is True
            client.track("checkout-completed", CTX, value=2.5)
            assert client.flush()
            assert client.status().events_sent >= 2
        usage = server.admin("GET", "/projects/default/flags/counted/usage").json()
        (item,) = usage["items"]
        assert item["total"] == 7 and item["last_evaluated"]


def test_kill_9_keeps_answers_and_a_restart_brings_the_changes_made_meanwhile(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = RealServer(data).start()
    try:
        key = server.sdk_key()
        server.create_flag("kill-switch", ["on", "off", "changed"])
        server.serve("kill-switch", 0)
        client = Client(key, server.url, poll_interval=0.2, events=False, cache_path=tmp_path / "cache.json")
        assert client.string("kill-switch", CTX, "default") == "on"
        port = server.port
        server.kill()
        wait_for(lambda: client.status().state is State.INTERRUPTED, timeout=10)
        for _ in range(1000):  # the last snapshot keeps answering, instantly
            assert client.string("kill-switch", CTX, "default") == "on"
        # While the first process is dead, a second one on the same database makes a change.
        other = RealServer(data).start()
        other.serve("kill-switch", 2)
        other.kill()
        time.sleep(0.5)
        assert client.string("kill-switch", CTX, "default") == "on"
        server.port = port
        server.start()  # the same address again
        wait_for(lambda: client.string("kill-switch", CTX, "default") == "changed", timeout=20)
        assert client.status().state is State.VALID
        server.serve("kill-switch", 1)  # and it is live again after catching up
        wait_for(lambda: client.string("kill-switch", CTX, "default") == "off", timeout=10)
        client.close()
    finally:
        server.kill()


def test_a_client_started_while_the_server_is_down_serves_its_cache_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    server = RealServer(tmp_path / "data").start()
    try:
        key = server.sdk_key()
        server.create_flag("cached-flag", ["from-cache", "live"])
        server.serve("cached-flag", 0)
        with Client(key, server.url, events=False, cache_path=cache) as first:
            assert first.string("cached-flag", CTX, "") == "from-cache"
        assert json.loads(cache.read_text())["document"]["flags"]["cached-flag"]["on"] is True
        port = server.port
        server.kill()

        started = time.monotonic()
        client = Client(key, server.url, events=False, cache_path=cache, start_wait=5.0, poll_interval=0.2)
        assert time.monotonic() - started < 2.0  # connection refused: the cache is used at once
        assert client.string("cached-flag", CTX, "") == "from-cache"
        status = client.status()
        assert status.ready and status.stale and status.state is not State.VALID
        assert status.error is not None and status.error.kind is SourceErrorKind.NETWORK

        server.port = port
        server.start()
        server.serve("cached-flag", 1)
        wait_for(lambda: client.string("cached-flag", CTX, "") == "live", timeout=20)
        assert not client.status().stale
        client.close()
    finally:
        server.kill()


@pytest.mark.parametrize("stream", [True, False])
def test_a_silent_server_never_stalls_start_up_beyond_start_wait(tmp_path: Path, stream: bool) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text(
        json.dumps(
            {
                "version": 3,
                "document": {
                    "flags": {"f": {"on": True, "variations": ["cached"], "fallthrough": {"variation": 0}}}
                },
            }
        )
    )
    with silent_server() as silent:
        port = silent.port
        started = time.monotonic()
        client = Client("vxs_x", f"http://127.0.0.1:{port}", stream=stream, start_wait=0.5, cache_path=cache)
        elapsed = time.monotonic() - started
        # Without start_wait the silent server would hold the constructor for the 45 s read timeout; the
        # margin above 0.5 s absorbs a loaded 2-core CI machine.
        assert 0.5 <= elapsed < 2.0
        assert client.string("f", CTX, "") == "cached"
        assert client.status().stale
        started = time.monotonic()
        client.close()
        assert time.monotonic() - started < 2.0

        started = time.monotonic()
        bare = Client("vxs_x", f"http://127.0.0.1:{port}", stream=stream, start_wait=0.3)
        assert time.monotonic() - started < 0.8
        assert bare.string("f", CTX, "default") == "default"
        bare.close()


def test_a_connection_that_goes_quiet_is_dropped_after_the_read_timeout_and_retried() -> None:
    """The server sends a heartbeat every 15 s; no bytes for the read timeout (45 s) means a dead peer."""
    with silent_server() as silent:
        source = RemoteSource(
            HttpConfig(f"http://127.0.0.1:{silent.port}", "vxs_x"),
            logger=logging.getLogger("vexil.test"),
            backoff=Backoff(initial=0.02, maximum=0.05),
            read_timeout=0.2,
        )
        client = Client.from_source(source, start_wait=0)
        wait_for(lambda: len(silent.accepted) >= 3, timeout=10)  # gave up on each and reconnected
        status = client.status()
        assert status.error is not None and status.error.kind is SourceErrorKind.NETWORK
        assert "Timeout" in status.error.message
        client.close()


def test_a_wrong_key_is_reported_at_once_and_not_retried(tmp_path: Path) -> None:
    with real_server(tmp_path / "data") as server:
        started = time.monotonic()
        client = Client("vxs_not-a-real-key", server.url, start_wait=10.0, events=False)
        assert time.monotonic() - started < 3.0
        status = client.status()
        assert status.state is State.OFF
        assert status.error is not None and status.error.kind is SourceErrorKind.UNAUTHORIZED
        assert status.error.status == 401
        client.close()


def test_a_forked_child_restarts_its_client_and_keeps_receiving_updates(tmp_path: Path) -> None:
    with real_server(tmp_path / "data") as server:
        key = server.sdk_key()
        server.create_flag("forked", ["before", "after"])
        server.serve("forked", 0)
        client = Client(key, server.url, flush_interval=0.2)
        assert client.string("forked", CTX, "") == "before"
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: like a gunicorn worker forked after the app (and client) were created
            code = 1
            try:
                os.close(ready_r)
                os.close(done_r)
                os.write(ready_w, b"r")
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and client.string("forked", CTX, "") != "after":
                    time.sleep(0.01)
                client.string("forked", CTX, "")
                sent = client.flush(5.0)
                os.write(done_w, json.dumps([client.string("forked", CTX, ""), sent]).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(done_w)
        assert os.read(ready_r, 1) == b"r"
        server.serve("forked", 1)  # changed after the fork: only a restarted stream can deliver it
        answer = json.loads(os.read(done_r, 1000) or b"null")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert answer == ["after", True]
        wait_for(lambda: client.string("forked", CTX, "") == "after")  # the parent too
        client.close()
        os.close(ready_r)
        os.close(done_r)


def test_sigterm_ends_the_stream_and_the_client_reconnects_to_the_next_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = RealServer(data).start()
    try:
        key = server.sdk_key()
        server.create_flag("rolling", ["v1", "v2"])
        server.serve("rolling", 0)
        with Client(key, server.url, events=False, poll_interval=0.2) as client:
            assert client.string("rolling", CTX, "") == "v1"
            port = server.port
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            server.proc.wait(15)
            server.port = port
            server.start()
            server.serve("rolling", 1)
            wait_for(lambda: client.string("rolling", CTX, "") == "v2", timeout=20)
    finally:
        server.kill()
