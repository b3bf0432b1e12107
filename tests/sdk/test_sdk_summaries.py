"""Evaluation counters -> summary events, exposures and the bulk body (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from vexil.engine import Context, Snapshot
from vexil.protocol import CustomEvent, SummaryEvent, decode_events
from vexil.sdk._summaries import MAX_COUNTERS, Window, context_keys, encode_batch, exposure, summarize

SNAP = Snapshot.from_document(
    {"flags": {"a": {"on": True, "variations": [1, 2], "fallthrough": {"variation": 0}, "version": 7}}}
)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_counts_of_several_windows_add_up_per_flag_variation_and_version() -> None:
    newer = SNAP.with_changes(
        flags={"a": {"on": True, "variations": [1, 2], "fallthrough": {"variation": 1}, "version": 8}}
    )
    w1 = Window(SNAP, 100.0, {"a": [3, 0]}, {("missing", None): 2})
    w2 = Window(SNAP, 110.0, {"a": [4, 0]})
    w3 = Window(newer, 120.0, {"a": [0, 5]}, {("a", None): 1})
    events = summarize([w1, w2, w3], 130.0)
    assert sorted(events, key=lambda e: (e.flag, e.version or 0, e.variation or -1)) == [
        SummaryEvent("a", 0, 7, 7, at(100.0), at(130.0)),
        SummaryEvent("a", None, 8, 1, at(120.0), at(130.0)),
        SummaryEvent("a", 1, 8, 5, at(120.0), at(130.0)),
        SummaryEvent("missing", None, None, 2, at(100.0), at(130.0)),
    ]


def test_the_slow_path_count_creates_fast_counters_only_where_they_are_safe() -> None:
    experiment = {
        "on": True,
        "variations": [1, 2],
        "fallthrough": {
            "rollout": {"kind": "experiment", "variations": [{"variation": 0, "weight": 100000}]}
        },
    }
    snap = SNAP.with_changes(flags={"exp": experiment})
    window = Window(snap, 0.0)
    window.count("a", 1)
    window.count("a", 1)
    window.count("a", None)
    window.count("exp", 0)  # experiment flags stay on the slow path (it records exposures)
    window.count("unknown", None)
    window.count("not a key!", None)  # never summarised, and not even kept
    window.count("a", 9)  # out of range for the list: kept aside rather than crash
    assert window.counts == {"a": [0, 2]}
    assert window.other == {("a", None): 1, ("exp", 0): 1, ("unknown", None): 1, ("a", 9): 1}
    assert sorted(window.items(), key=str) == sorted(
        [(("a", 1), 2), (("a", None), 1), (("exp", 0), 1), (("unknown", None), 1), (("a", 9), 1)], key=str
    )


def test_unknown_keys_stop_being_counted_past_the_cap() -> None:
    window = Window(SNAP, 0.0)
    for i in range(MAX_COUNTERS + 50):
        window.count(f"k{i}", None)
    window.count("a", None)  # known flags always count
    assert len(window.other) == MAX_COUNTERS + 1


def test_keys_the_server_would_reject_are_not_summarised() -> None:
    events = summarize([Window(SNAP, 0.0, {"a": [1, 0]}, {("bad key", None): 1})], 1.0)
    assert [e.flag for e in events] == ["a"]


def test_the_batch_body_is_what_the_server_decodes_plus_exposures() -> None:
    summary = SummaryEvent("a", 0, 7, 3, at(0.0), at(60.0))
    custom = CustomEvent("checkout", at(30.0), 42.5)
    extra = [exposure("a", 1, 7, {"user": "u1"}, 31.0)]
    body = encode_batch([summary, custom], extra)
    assert decode_events(body) == [summary, custom]  # the server skips the kind it does not know
    items = json.loads(body)
    assert items[-1] == {
        "kind": "exposure",
        "flag": "a",
        "variation": 1,
        "version": 7,
        "context_keys": {"user": "u1"},
        "time": "1970-01-01T00:00:31.000Z",
    }
    assert json.loads(encode_batch([], extra)) == items[-1:]
    assert encode_batch([summary], []) == encode_batch([summary], [])
    assert json.loads(encode_batch([], [])) == []


def test_context_keys_of_every_context_shape() -> None:
    assert context_keys({"key": "u1"}) == {"user": "u1"}
    assert context_keys({"key": "o1", "kind": "org"}) == {"org": "o1"}
    multi = {"kind": "multi", "user": {"key": "u1"}, "org": {"key": "o1"}}
    assert context_keys(multi) == {"user": "u1", "org": "o1"}
    assert context_keys(Context.from_dict(multi)) == {"user": "u1", "org": "o1"}
    assert context_keys({"kind": "multi"}) is None
    assert context_keys({"name": "no key"}) is None
    assert context_keys("nonsense") is None
    assert context_keys(Context.from_dict({"key": ""})) is None
