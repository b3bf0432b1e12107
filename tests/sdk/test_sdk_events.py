"""Events: evaluation summaries, exposures and custom events, gzip batches, bounded buffer, close budget."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time
from typing import Any

import httpx
import pytest
from sdk_support import FakeServer, flag, put

from vexil.sdk import Client
from vexil.sdk._events import EventProcessor
from vexil.sdk._http import HttpConfig

CTX = {"key": "u1"}
BASE = "http://vexil.test"
EXPERIMENT = {
    "on": True,
    "variations": ["a", "b"],
    "version": 4,
    "fallthrough": {
        "rollout": {
            "kind": "experiment",
            "variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}],
        }
    },
}


def summaries(fake: FakeServer) -> dict[tuple[str, Any, Any], int]:
    out: dict[tuple[str, Any, Any], int] = {}
    for event in fake.events():
        if event["kind"] == "summary":
            group = (event["flag"], event["variation"], event["version"])
            out[group] = out.get(group, 0) + event["count"]
    return out


def client_with(fake: FakeServer) -> Client:
    return Client("vxs_test", BASE, transport=fake.transport, flush_interval=3600)


def test_evaluations_are_summarised_per_flag_variation_and_version() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(True, version=3), "s": flag("x", version=5)}, version=5)])
    with client_with(fake) as client:
        for _ in range(5):
            client.bool("a", CTX, False)
        client.string("s", CTX, "")
        client.bool("s", CTX, False)  # wrong type: counted as the default (variation None)
        client.bool("missing", CTX, False)
        client.detail("a", CTX, False)
        client.all_flags(CTX)  # not counted, like LaunchDarkly's all-flags state
        assert client.flush()
        assert summaries(fake) == {
            ("a", 0, 3): 6,
            ("s", 0, 5): 1,
            ("s", None, 5): 1,
            ("missing", None, None): 1,
        }
        assert client.status().events_sent == 4
        batch_request = next(r for r in fake.requests if r.url.path == "/events/v1/bulk")
        assert batch_request.headers["content-encoding"] == "gzip"
        assert batch_request.headers["content-type"] == "application/json"
        assert batch_request.headers["authorization"] == "Bearer vxs_test"
        event = fake.events()[0]
        assert event["window_start"] <= event["window_end"]
        assert client.flush()  # nothing new: nothing sent
        assert len(fake.event_batches) == 1


def test_counts_survive_a_snapshot_change_with_the_version_they_were_evaluated_at() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(True, version=1)}, version=1)])
    with client_with(fake) as client:
        client.bool("a", CTX, False)
        fake.push(put({"a": flag(True, version=2)}, version=2))
        deadline = time.monotonic() + 5
        while client.status().version != 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        client.bool("a", CTX, False)
        client.bool("a", CTX, False)
        assert client.flush()
    assert summaries(fake) == {("a", 0, 1): 1, ("a", 0, 2): 2}


def test_custom_events_and_experiment_exposures() -> None:
    fake = FakeServer(stream_script=[put({"exp": EXPERIMENT}, version=4)])
    with client_with(fake) as client:
        client.track("checkout-completed", CTX, value=42.5)
        client.track("signup")
        client.track("bad key!", CTX)  # invalid key: dropped with a warning, never sent
        client.track("nan-value", CTX, value=float("nan"))  # not finite: dropped
        client.track("bool-value", CTX, value=True)
        served = client.string("exp", CTX, "")
        client.string("exp", CTX, "")  # the same exposure twice in a window is sent once
        client.string("exp", {"key": "u2"}, "")
        assert client.flush()
    events = fake.events()
    customs = [e for e in events if e["kind"] == "custom"]
    assert [(e["key"], e.get("value")) for e in customs] == [("checkout-completed", 42.5), ("signup", None)]
    exposures = [e for e in events if e["kind"] == "exposure"]
    assert [(e["flag"], e["context_keys"], e["version"]) for e in exposures] == [
        ("exp", {"user": "u1"}, 4),
        ("exp", {"user": "u2"}, 4),
    ]
    assert ["a", "b"][exposures[0]["variation"]] == served
    assert sum(v for k, v in summaries(fake).items() if k[0] == "exp") == 3


def test_events_false_sends_nothing() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(True)}, version=1)])
    with Client("vxs_test", BASE, transport=fake.transport, events=False) as client:
        client.bool("a", CTX, False)
        client.track("x")
        assert client.flush()
    assert fake.count("/events/v1/bulk") == 0


def test_close_sends_what_is_pending() -> None:
    fake = FakeServer(stream_script=[put({"a": flag(True)}, version=1)])
    client = client_with(fake)
    client.bool("a", CTX, False)
    client.close()
    assert summaries(fake) == {("a", 0, 1): 1}


# -- the worker, directly ---------------------------------------------------------------------------------


def processor(transport: httpx.BaseTransport, **kwargs: Any) -> EventProcessor:
    return EventProcessor(
        HttpConfig(BASE, "vxs_test", transport),
        list,
        flush_interval=3600,
        logger=logging.getLogger("vexil.test"),
        **kwargs,
    )


def test_a_full_buffer_drops_and_counts_without_blocking() -> None:
    fake = FakeServer()
    events = processor(fake.transport, capacity=3)
    events.start()
    started = time.perf_counter()
    for i in range(10):
        events.custom(f"e{i}", None)
    assert time.perf_counter() - started < 0.5
    assert events.dropped == 7
    assert events.flush()
    assert [e["key"] for e in fake.events()] == ["e0", "e1", "e2"]
    events.close(1.0)


def test_a_half_full_buffer_wakes_the_worker_early() -> None:
    fake = FakeServer()
    events = processor(fake.transport, capacity=4)
    events.start()
    events.custom("a", None)
    events.custom("b", None)
    deadline = time.monotonic() + 5
    while not fake.events() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e["key"] for e in fake.events()] == ["a", "b"]
    events.close(1.0)


def test_batches_are_split_at_the_batch_size() -> None:
    fake = FakeServer()
    events = processor(fake.transport, batch_size=2)
    events.start()
    for i in range(5):
        events.custom(f"e{i}", float(i))
    assert events.flush()
    assert [len(b) for b in fake.event_batches] == [2, 2, 1]
    assert [e["key"] for e in fake.events()] == [f"e{i}" for i in range(5)]
    events.close(1.0)


@pytest.mark.parametrize(("status", "attempts"), [(500, 2), (503, 2), (429, 2), (422, 1), (400, 1), (401, 1)])
def test_a_failed_batch_is_retried_once_then_dropped(status: int, attempts: int) -> None:
    fake = FakeServer(events_status=status)
    events = processor(fake.transport)
    events.start()
    events.custom("x", None)
    assert not events.flush()
    assert fake.count("/events/v1/bulk") == attempts
    assert (events.sent, events.dropped) == (0, 1)
    events.close(1.0)


def test_network_errors_are_retried_once() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("refused", request=request)

    events = processor(httpx.MockTransport(handler))
    events.start()
    events.custom("x", None)
    assert not events.flush()
    assert len(calls) == 2
    events.close(1.0)


def test_close_returns_within_its_budget_when_the_server_hangs() -> None:
    release = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(202)

    fake = FakeServer(stream_script=[put({"a": flag(True)}, version=1)])

    def route(request: httpx.Request) -> httpx.Response:
        return handler(request) if request.url.path == "/events/v1/bulk" else fake.handle(request)

    client = Client("vxs_test", BASE, transport=httpx.MockTransport(route))
    client.bool("a", CTX, False)
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started < 2.2
    release.set()


def test_the_gzip_body_is_valid_json() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(gzip.decompress(request.read()))
        return httpx.Response(202)

    events = processor(httpx.MockTransport(handler))
    events.start()
    events.custom("x", 1.0)
    assert events.flush()
    assert json.loads(bodies[0])[0]["kind"] == "custom"
    events.close(1.0)
