"""Bytes of a stream -> SSE decoder -> state machine -> flag data, with no I/O: any chunking, same result."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sdk_support import delete, flag, patch, put

from vexil.protocol import SSEDecoder
from vexil.sdk import Apply, Backoff, Continue, DataSourceMachine, Decision, Reconnect, State
from vexil.sdk._flagdata import FlagData

STREAM = b"".join(
    [
        b"\xef\xbb\xbf",  # a BOM first: skipped
        put({"a": flag(True, version=1), "b": flag("x", version=1)}, version=1),
        b": heartbeat\n\n",
        patch("a", flag(False), version=2),
        b"event: metrics\ndata: {}\n\n",  # unknown event: ignored
        patch("a", flag(True), version=1),  # stale: ignored by version
        delete("b", version=3),
        patch("b", flag("late"), version=2),  # older than the tombstone: ignored
        patch("c", flag(7), version=4),
    ]
)


def run(chunks: list[bytes]) -> tuple[FlagData, list[Decision], DataSourceMachine]:
    machine = DataSourceMachine(streaming=True, poll_interval=30.0, backoff=Backoff(jitter=lambda: 0.0))
    data = FlagData()
    decoder = SSEDecoder()
    decisions: list[Decision] = []
    machine.connected(0.0)
    for chunk in chunks:
        for item in decoder.feed(chunk):
            decision = machine.received(item, 1.0)
            decisions.append(decision)
            if isinstance(decision, Apply):
                data.apply(decision.message)
            elif not isinstance(decision, Continue):
                return data, decisions, machine
    return data, decisions, machine


def values(data: FlagData) -> dict[str, Any]:
    return {key: result.value for key, result in data.snapshot.evaluate_all({"key": "u"}).items()}


def test_the_whole_stream_at_once() -> None:
    data, decisions, machine = run([STREAM])
    assert values(data) == {"a": False, "c": 7}
    assert data.version == 4
    assert sum(isinstance(d, Apply) for d in decisions) == 6  # stale ones reach FlagData, which ignores them
    assert machine.state is State.VALID


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_chunking_gives_the_same_flags(cuts: list[int]) -> None:
    points = sorted({0, len(STREAM), *cuts})
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    data, _, _ = run(chunks)
    assert values(data) == {"a": False, "c": 7}


def test_crlf_line_endings_work_too() -> None:
    data, _, _ = run([STREAM.replace(b"\n", b"\r\n")])
    assert values(data) == {"a": False, "c": 7}


def test_a_malformed_event_stops_reading_and_keeps_what_was_applied() -> None:
    broken = (
        put({"a": flag(True, version=1)}, version=1)
        + b"event: patch\ndata: {not json\n\n"
        + patch("a", flag(False), 2)
    )
    data, decisions, machine = run([broken])
    assert isinstance(decisions[-1], Reconnect)
    assert values(data) == {"a": True}  # the event after the broken one was never read
    assert machine.state is State.INTERRUPTED


def test_an_event_without_its_blank_line_is_not_applied() -> None:
    unfinished = put({"a": flag(True, version=1)}, version=1) + patch("a", flag(False), 2)[:-1]
    data, _, _ = run([unfinished])
    assert values(data) == {"a": True}
