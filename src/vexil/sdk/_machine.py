"""The data-source state machine: connection events in, decisions out (apply, reconnect, poll, stop).

I/O-free and clock-free: the caller passes `now` (monotonic seconds) and performs every decision itself,
so each path (backoff, fallback to polling, a rejected key, malformed events) is unit-testable exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vexil.protocol import Message, ProtocolError, ProtocolErrorKind, Put, SSEComment, SSEEvent, decode_sse
from vexil.sdk._backoff import Backoff
from vexil.sdk._status import SourceError, SourceErrorKind, State

#: HTTP statuses that mean "this key will not work": retrying cannot help, a person must act.
UNAUTHORIZED_STATUSES = frozenset({401, 403})


class Mode(enum.StrEnum):
    STREAMING = "streaming"
    POLLING = "polling"


@dataclass(frozen=True, slots=True)
class Continue:
    """Keep reading the stream."""


@dataclass(frozen=True, slots=True)
class Apply:
    """Apply this message to the flag data, then keep reading."""

    message: Message


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Close the stream (if open) and open it again after `delay` seconds."""

    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class FallBackToPolling:
    """Streaming keeps failing: poll the snapshot endpoint after `delay`, retry the stream later."""

    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class PollAfter:
    """(Polling mode) poll again after `delay` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class Stop:
    """Give up for good; `error` says why (shown in status() and the log)."""

    error: SourceError


Decision = Continue | Apply | Reconnect | FallBackToPolling | PollAfter | Stop
CONTINUE = Continue()


class DataSourceMachine:
    """Tracks one data source's connection and decides what to do next.

    - Stream failures back off exponentially with jitter; a connection that stayed up for `healthy_after`
      seconds resets the backoff. A `put` clears the run of failures.
    - After `fallback_after` failures in a row the source polls every `poll_interval` (sooner, by the
      backoff, while polls fail). It tries the stream
      again as soon as a poll succeeds after failed ones (the server was down and is back), or else after
      `stream_retry_after` seconds of polling (the stream itself is the problem, say a buffering proxy).
    - 401/403 stop everything (a rejected key); malformed events restart the stream; unknown event names
      and item kinds are ignored (newer servers).
    """

    def __init__(
        self,
        *,
        streaming: bool,
        poll_interval: float,
        backoff: Backoff,
        fallback_after: int = 3,
        stream_retry_after: float = 300.0,
        healthy_after: float = 60.0,
    ) -> None:
        self.mode = Mode.STREAMING if streaming else Mode.POLLING
        self.streaming = streaming
        self.state = State.INITIALIZING
        self.error: SourceError | None = None
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.fallback_after = fallback_after
        self.stream_retry_after = stream_retry_after
        self.healthy_after = healthy_after
        self.failures = 0
        self._connected_at: float | None = None
        self._polling_since: float | None = None
        self._poll_failures = 0

    def start(self) -> Decision:
        return Reconnect(0.0, "start") if self.mode is Mode.STREAMING else PollAfter(0.0)

    # -- streaming -------------------------------------------------------------------------------------

    def connected(self, now: float) -> Decision:
        """The stream answered 200 with an event stream."""
        self._connected_at = now
        return CONTINUE

    def received(self, item: SSEEvent | SSEComment, now: float) -> Decision:
        """One decoded SSE item (events and heartbeat comments)."""
        if isinstance(item, SSEComment):
            return CONTINUE
        try:
            message = decode_sse(item)
        except ProtocolError as exc:
            if exc.kind is ProtocolErrorKind.UNKNOWN_KIND:
                return CONTINUE  # an item kind from a newer server: not ours to apply
            error = SourceError(SourceErrorKind.MALFORMED, f"dropped a malformed {item.event!r} event: {exc}")
            return self._failed(error, now)
        if message is None:
            return CONTINUE
        if isinstance(message, Put):
            self.failures = 0
            self.state = State.VALID
            self.error = None
        return Apply(message)

    def closed(self, now: float) -> Decision:
        """The stream ended without an error (the server shut down or dropped a slow client)."""
        return self._failed(SourceError(SourceErrorKind.NETWORK, "the stream ended"), now)

    # -- both modes ------------------------------------------------------------------------------------

    def failed(self, status: int | None, message: str, now: float) -> Decision:
        """A request failed: `status` is the HTTP status, None for a network error or a timeout."""
        if status in UNAUTHORIZED_STATUSES:
            self.state = State.OFF
            self.error = SourceError(
                SourceErrorKind.UNAUTHORIZED,
                f"the server rejected the SDK key (HTTP {status}); not retrying: check the key",
                status,
            )
            return Stop(self.error)
        kind = SourceErrorKind.NETWORK if status is None else SourceErrorKind.HTTP
        return self._failed(SourceError(kind, message, status), now)

    def malformed(self, message: str, now: float) -> Decision:
        return self._failed(SourceError(SourceErrorKind.MALFORMED, message), now)

    # -- polling ---------------------------------------------------------------------------------------

    def polled(self, now: float) -> Decision:
        """A poll succeeded (200 applied by the caller, or 304)."""
        self.state = State.VALID
        self.error = None
        self.backoff.reset()
        if self._polling_since is not None and (
            self._poll_failures > 0 or now - self._polling_since >= self.stream_retry_after
        ):
            return self._retry_stream()
        return PollAfter(self.poll_interval)

    # -- internals -------------------------------------------------------------------------------------

    def _failed(self, error: SourceError, now: float) -> Decision:
        self.error = error
        if self.state is State.VALID:
            self.state = State.INTERRUPTED
        if self.mode is Mode.POLLING:
            self._poll_failures += 1
            if self._polling_since is not None and now - self._polling_since >= self.stream_retry_after:
                return self._retry_stream()
            # A server that is down is retried sooner than the interval, so it is noticed when it is back.
            return PollAfter(min(self.poll_interval, self.backoff.next_delay()))
        if self._connected_at is not None and now - self._connected_at >= self.healthy_after:
            self.backoff.reset()
            self.failures = 0
        self._connected_at = None
        self.failures += 1
        if self.failures >= self.fallback_after:
            self.mode = Mode.POLLING
            self._polling_since = now
            self._poll_failures = 0
            return FallBackToPolling(self.backoff.next_delay(), error.message)
        return Reconnect(self.backoff.next_delay(), error.message)

    def _retry_stream(self) -> Decision:
        self.mode = Mode.STREAMING
        self._polling_since = None
        self.failures = 0
        return Reconnect(0.0, "retrying the stream")
