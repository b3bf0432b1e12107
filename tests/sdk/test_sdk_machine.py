"""The data-source state machine and its backoff, driven event by event with a fake clock and jitter."""

from __future__ import annotations

import itertools

import pytest

from vexil.protocol import Delete, ItemKind, Patch, Put, SSEComment, SSEEvent
from vexil.sdk import (
    Apply,
    Backoff,
    Continue,
    DataSourceMachine,
    FallBackToPolling,
    Mode,
    PollAfter,
    Reconnect,
    SourceErrorKind,
    State,
    Stop,
)

PUT = SSEEvent('{"version":3,"document":{"flags":{},"segments":{}}}', "put", "3")


def machine(
    *, streaming: bool = True, jitter: float = 1.0, fallback_after: int = 3, stream_retry_after: float = 300.0
) -> DataSourceMachine:
    return DataSourceMachine(
        streaming=streaming,
        poll_interval=30.0,
        backoff=Backoff(jitter=lambda: jitter),
        fallback_after=fallback_after,
        stream_retry_after=stream_retry_after,
        healthy_after=60.0,
    )


def state(m: DataSourceMachine) -> State:
    """Read the state through a call, so mypy does not carry a narrowed value across method calls."""
    return m.state


def mode(m: DataSourceMachine) -> Mode:
    return m.mode


# -- backoff --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.5, 1.0])
def test_backoff_doubles_within_half_to_full_and_caps(jitter: float) -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, jitter=lambda: jitter)
    ceilings = [1, 2, 4, 8, 16, 30, 30, 30]
    delays = [backoff.next_delay() for _ in ceilings]
    assert delays == [c / 2 + c / 2 * jitter for c in ceilings]
    assert backoff.attempts == len(ceilings)


def test_backoff_reset_starts_over_and_clamps_a_wild_jitter_source() -> None:
    values = itertools.cycle([5.0, -3.0])
    backoff = Backoff(initial=2.0, maximum=8.0, jitter=lambda: next(values))
    assert backoff.next_delay() == 2.0  # jitter 5.0 clamped to 1.0 -> the full ceiling
    assert backoff.next_delay() == 2.0  # jitter -3.0 clamped to 0.0 -> half of 4
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.next_delay() == 2.0


def test_backoff_default_jitter_stays_in_range_and_survives_huge_attempt_counts() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0)
    backoff.attempts = 10_000
    assert all(15.0 <= backoff.next_delay() <= 30.0 for _ in range(200))


@pytest.mark.parametrize(("initial", "maximum"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_backoff_rejects_nonsense(initial: float, maximum: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial=initial, maximum=maximum)


# -- streaming ------------------------------------------------------------------------------------------


def test_start_connects_at_once_when_streaming_and_polls_at_once_when_polling() -> None:
    assert machine().start() == Reconnect(0.0, "start")
    polling = machine(streaming=False)
    assert polling.start() == PollAfter(0.0)
    assert polling.mode is Mode.POLLING


def test_put_applies_and_makes_the_source_valid() -> None:
    m = machine()
    m.start()
    assert m.connected(0.0) == Continue()
    assert state(m) is State.INITIALIZING  # connected is not yet current: wait for the put
    decision = m.received(PUT, 0.1)
    assert decision == Apply(Put(3, {"flags": {}, "segments": {}}))
    assert state(m) is State.VALID
    assert m.error is None


def test_patch_and_delete_apply_and_comments_and_unknown_events_are_ignored() -> None:
    m = machine()
    m.connected(0.0)
    patch = SSEEvent('{"version":4,"kind":"flag","key":"a","item":{"on":true}}', "patch", "4")
    delete = SSEEvent('{"version":5,"kind":"segment","key":"s"}', "delete", "5")
    assert m.received(patch, 1.0) == Apply(Patch(4, ItemKind.FLAG, "a", {"on": True}))
    assert m.received(delete, 1.0) == Apply(Delete(5, ItemKind.SEGMENT, "s"))
    assert m.received(SSEComment("heartbeat"), 1.0) == Continue()
    assert m.received(SSEEvent("{}", "metrics-v2"), 1.0) == Continue()  # an event name from the future
    newer_kind = SSEEvent('{"version":6,"kind":"experiment","key":"x","item":{}}', "patch", "6")
    assert m.received(newer_kind, 1.0) == Continue()  # an item kind from the future
    assert m.failures == 0


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("put", "not json"),
        ("put", '{"version":-1,"document":{}}'),
        ("put", '{"version":1}'),
        ("patch", '{"version":1,"kind":"flag","key":"bad key!","item":{}}'),
        ("patch", '{"version":1,"kind":"flag","key":"a","item":[]}'),
        ("delete", '{"kind":"flag","key":"a"}'),
        ("put", '{"version":1,"document":{"flags":{"a":1}}}'),
    ],
)
def test_a_malformed_event_is_dropped_and_the_stream_restarted(name: str, data: str) -> None:
    m = machine(jitter=0.0)
    m.connected(0.0)
    m.received(PUT, 0.0)
    decision = m.received(SSEEvent(data, name), 1.0)
    assert isinstance(decision, Reconnect)
    assert decision.delay == 0.5  # the first backoff step, jitter 0
    assert m.error is not None and m.error.kind is SourceErrorKind.MALFORMED
    assert m.state is State.INTERRUPTED


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_stops_for_good_in_either_mode(status: int) -> None:
    for streaming in (True, False):
        m = machine(streaming=streaming)
        decision = m.failed(status, "nope", 0.0)
        assert isinstance(decision, Stop)
        assert decision.error.kind is SourceErrorKind.UNAUTHORIZED
        assert decision.error.status == status
        assert str(status) in decision.error.message and "key" in decision.error.message
        assert m.state is State.OFF


@pytest.mark.parametrize("status", [None, 400, 404, 429, 500, 502, 503])
def test_other_failures_reconnect_with_growing_delays(status: int | None) -> None:
    m = machine(jitter=1.0, fallback_after=10)
    delays = []
    for i in range(4):
        decision = m.failed(status, "boom", float(i))
        assert isinstance(decision, Reconnect)
        delays.append(decision.delay)
    assert delays == [1.0, 2.0, 4.0, 8.0]
    expected = SourceErrorKind.NETWORK if status is None else SourceErrorKind.HTTP
    assert m.error is not None and m.error.kind is expected and m.error.status == status
    assert m.state is State.INITIALIZING  # never had data: still initializing, not "interrupted"


def test_a_clean_end_of_stream_reconnects() -> None:
    m = machine(jitter=0.0)
    m.connected(0.0)
    m.received(PUT, 0.0)
    decision = m.closed(5.0)
    assert decision == Reconnect(0.5, "the stream ended")
    assert m.state is State.INTERRUPTED


def test_a_healthy_connection_resets_the_backoff() -> None:
    m = machine(jitter=1.0, fallback_after=100)
    for i in range(3):
        m.failed(None, "down", float(i))
    assert m.backoff.attempts == 3
    m.connected(10.0)
    m.received(PUT, 10.0)
    short = m.closed(30.0)  # up for 20 s: not healthy yet, the backoff keeps growing
    assert isinstance(short, Reconnect) and short.delay == 8.0
    m.connected(40.0)
    long = m.closed(40.0 + 60.0)  # up for a minute: healthy, start over
    assert isinstance(long, Reconnect) and long.delay == 1.0


def test_a_put_clears_the_failure_run_but_not_the_backoff() -> None:
    m = machine(jitter=1.0, fallback_after=3)
    m.failed(None, "down", 0.0)
    m.failed(None, "down", 1.0)
    m.connected(2.0)
    m.received(PUT, 2.0)
    assert m.failures == 0
    decision = m.closed(3.0)  # a flapping server: not a fallback yet, but no fast retry either
    assert isinstance(decision, Reconnect) and decision.delay == 4.0


def test_streaming_that_keeps_failing_falls_back_to_polling_then_retries_the_stream() -> None:
    m = machine(jitter=0.0, fallback_after=3, stream_retry_after=300.0)
    assert isinstance(m.failed(None, "down", 0.0), Reconnect)
    assert isinstance(m.failed(503, "busy", 1.0), Reconnect)
    decision = m.failed(None, "down", 2.0)
    assert isinstance(decision, FallBackToPolling)
    assert decision.reason == "down"
    assert m.mode is Mode.POLLING
    # Polls work while the stream did not: the stream itself is the problem; keep polling a while.
    assert m.polled(10.0) == PollAfter(30.0)
    assert state(m) is State.VALID
    assert m.polled(40.0) == PollAfter(30.0)
    retry = m.polled(302.0)
    assert retry == Reconnect(0.0, "retrying the stream")
    assert mode(m) is Mode.STREAMING and m.failures == 0


def test_a_poll_that_succeeds_after_failed_ones_retries_the_stream_at_once() -> None:
    m = machine(jitter=0.0, fallback_after=2)
    m.failed(None, "refused", 0.0)
    assert isinstance(m.failed(None, "refused", 1.0), FallBackToPolling)
    assert m.failed(None, "poll refused", 2.0) == PollAfter(2.0)  # the whole server is down: backoff
    assert state(m) is State.INITIALIZING
    assert m.polled(32.0) == Reconnect(0.0, "retrying the stream")  # it is back: stream again
    assert mode(m) is Mode.STREAMING
    assert state(m) is State.VALID


def test_failed_polls_back_off_up_to_the_poll_interval_and_a_success_resets_it() -> None:
    m = machine(streaming=False, jitter=1.0)
    assert [m.failed(None, "down", float(i)) for i in range(7)] == [
        PollAfter(d) for d in (1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0)
    ]
    assert m.polled(100.0) == PollAfter(30.0)
    assert m.failed(None, "down", 130.0) == PollAfter(1.0)


def test_a_failed_poll_after_the_retry_period_also_retries_the_stream() -> None:
    m = machine(fallback_after=1, stream_retry_after=100.0)
    assert isinstance(m.failed(None, "down", 0.0), FallBackToPolling)
    decision = m.failed(None, "still down", 150.0)
    assert isinstance(decision, Reconnect) and mode(m) is Mode.STREAMING


def test_polling_only_never_switches_to_streaming() -> None:
    m = machine(streaming=False, stream_retry_after=1.0)
    for now in (0.0, 10.0, 1000.0):
        assert m.polled(now) == PollAfter(30.0)
        assert m.failed(500, "x", now) == PollAfter(1.0)
    assert m.malformed("bad body", 2000.0) == PollAfter(2.0)
    assert m.mode is Mode.POLLING
    assert m.error is not None and m.error.kind is SourceErrorKind.MALFORMED


def test_a_stop_is_final_even_if_a_later_put_arrived_on_a_stale_connection() -> None:
    m = machine()
    assert isinstance(m.failed(401, "x", 0.0), Stop)
    assert m.state is State.OFF
    # The caller stops acting on decisions after Stop; the machine keeps its OFF explanation meanwhile.
    assert m.error is not None and m.error.status == 401
