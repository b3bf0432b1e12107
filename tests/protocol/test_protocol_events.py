"""The events-ingestion body: round-trips, accepted time formats, and malformed input -> ProtocolError."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.protocol import (
    CustomEvent,
    ProtocolError,
    ProtocolErrorKind,
    SummaryEvent,
    WireEvent,
    decode_events,
    encode_events,
    format_time,
    parse_time,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

times = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,12}", fullmatch=True)
counts = st.integers(1, 2**53 - 1)


@st.composite
def summaries(draw: st.DrawFn) -> SummaryEvent:
    start = draw(times)
    return SummaryEvent(
        flag=draw(keys),
        variation=draw(st.none() | st.integers(0, 1000)),
        version=draw(st.none() | st.integers(0, 2**40)),
        count=draw(counts),
        window_start=start,
        window_end=start + draw(st.timedeltas(timedelta(0), timedelta(days=1))),
    )


customs = st.builds(
    CustomEvent,
    key=keys,
    time=times,
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    count=counts,
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(summaries() | customs, max_size=6))
def test_round_trip(events: list[WireEvent]) -> None:
    decoded = decode_events(encode_events(events))
    assert len(decoded) == len(events)
    for got, sent in zip(decoded, events, strict=True):
        if isinstance(sent, SummaryEvent):
            assert isinstance(got, SummaryEvent)
            assert (got.flag, got.variation, got.version, got.count) == (
                sent.flag,
                sent.variation,
                sent.version,
                sent.count,
            )
            assert abs(got.window_start - sent.window_start) < timedelta(milliseconds=1)
            assert abs(got.window_end - sent.window_end) < timedelta(milliseconds=1)
        else:
            assert got == sent


def test_times_as_rfc3339_or_epoch_milliseconds() -> None:
    body = [
        {"kind": "summary", "flag": "f", "variation": 1, "version": 3, "count": 5,
         "window_start": "2025-03-01T12:00:00Z", "window_end": 1740830460000},
        {"kind": "custom", "key": "checkout", "time": "2025-03-01T13:00:00+01:00", "value": 9},
        {"kind": "identify", "context": {"key": "u"}},
    ]  # fmt: skip
    first, second = decode_events(json.dumps(body))
    assert first == SummaryEvent("f", 1, 3, 5, T0, T0 + timedelta(minutes=1))
    assert second == CustomEvent("checkout", T0, 9.0, 1)
    assert format_time(T0) == "2025-03-01T12:00:00.000Z"
    assert parse_time(0, "t") == datetime(1970, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ([{"kind": "summary"}], "[0].window_start"),
        ([{"kind": "summary", "flag": "f", "count": 1, "window_start": 5, "window_end": 1}],
         "[0].window_end"),
        ("not an array", ""),
        ([1], "[0]"),
        ([{"flag": "f"}], "[0].kind"),
        ([{"kind": 3}], "[0].kind"),
        ([{"kind": "summary", "flag": "f", "count": 1, "window_start": 0}], "[0].window_end"),
        ([{"kind": "summary", "flag": "f", "count": 0, "window_start": 0, "window_end": 0}], "[0].count"),
        ([{"kind": "summary", "flag": "f", "count": 1, "window_start": "2025-01-01T00:00", "window_end": 0}],
         "[0].window_start"),
        ([{"kind": "summary", "flag": "f", "count": 1, "window_start": 10**20, "window_end": 0}],
         "[0].window_start"),
        ([{"kind": "summary", "flag": "f", "variation": -1, "count": 1, "window_start": 0, "window_end": 0}],
         "[0].variation"),
        ([{"kind": "summary", "flag": "a b", "count": 1, "window_start": 0, "window_end": 0}], "[0].flag"),
        ([{"kind": "custom", "key": "k", "time": 0, "value": True}], "[0].value"),
        ([{"kind": "custom", "key": "k", "time": 0, "value": 10**30}], "[0].value"),
        ([{"kind": "custom", "key": "k", "time": "yesterday"}], "[0].time"),
        ([{"kind": "custom", "key": "k", "time": 0, "count": 1.5}], "[0].count"),
    ],
)  # fmt: skip
def test_malformed_bodies(body: object, path: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_events(json.dumps(body))
    assert info.value.path == path
    assert info.value.kind in {ProtocolErrorKind.INVALID_FIELD}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(value=json_values, kind=st.sampled_from(["summary", "custom"]))
def test_arbitrary_events_decode_or_raise_protocol_error_only(value: object, kind: str) -> None:
    event = dict(value) if isinstance(value, dict) else {"x": value}
    event["kind"] = kind
    for body in (json.dumps([event]), json.dumps(value)):
        try:
            decode_events(body)
        except ProtocolError as exc:
            assert isinstance(exc.kind, ProtocolErrorKind)
