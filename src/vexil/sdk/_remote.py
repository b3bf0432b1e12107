"""The server data source: one background thread that streams (SSE) or polls and feeds the client.

It performs what `DataSourceMachine` decides; the decisions themselves live there. It never evaluates flags,
never blocks a caller, and never lets an exception end the thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from vexil.protocol import ProtocolError, SSEDecoder
from vexil.sdk._backoff import Backoff
from vexil.sdk._http import STREAM_PATH, STREAM_READ_TIMEOUT, HttpConfig, describe, interrupt
from vexil.sdk._machine import (
    Apply,
    Continue,
    DataSourceMachine,
    Decision,
    FallBackToPolling,
    PollAfter,
    Reconnect,
    Stop,
)
from vexil.sdk._polling import NotModified, Poller, PollFailed
from vexil.sdk._source import Updates
from vexil.sdk._status import State

_EVENT_STREAM = "text/event-stream"


class RemoteSource:
    """Streams from `/sdk/v1/stream` (or polls `/sdk/v1/snapshot` when `streaming=False` or as a fallback)."""

    def __init__(
        self,
        http: HttpConfig,
        *,
        streaming: bool = True,
        poll_interval: float = 30.0,
        logger: logging.Logger,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        read_timeout: float = STREAM_READ_TIMEOUT,
    ) -> None:
        self.name = "streaming" if streaming else "polling"
        self._http_config = http
        self._streaming = streaming
        self._poll_interval = poll_interval
        self._log = logger
        self._backoff = backoff
        self._clock = clock
        self._read_timeout = read_timeout
        self._updates: Updates | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: httpx.Response | None = None
        self._reported: tuple[State, object] | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, updates: Updates) -> None:
        self._updates = updates
        self._stop = threading.Event()
        self._reported = None
        self._thread = threading.Thread(target=self._run, name="vexil-data-source", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        interrupt(self._response)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def after_fork(self) -> None:
        # The parent's thread and sockets do not exist here; start afresh with the same updates target.
        self._thread = None
        self._response = None
        if self._updates is not None and not self._stop.is_set():
            self.start(self._updates)

    # -- the thread ------------------------------------------------------------------------------------

    def _run(self) -> None:
        stop = self._stop
        machine = DataSourceMachine(
            streaming=self._streaming,
            poll_interval=self._poll_interval,
            backoff=self._backoff or Backoff(),
        )
        poller = Poller()
        http = self._http_config.client(read_timeout=self._read_timeout)
        decision: Decision | None = machine.start()
        try:
            while decision is not None and not stop.is_set():
                try:
                    decision = self._step(machine, poller, http, decision)
                except Exception as exc:  # noqa: BLE001 -- the thread's boundary: log, back off, carry on
                    self._log.exception("vexil: unexpected error in the data source")
                    decision = machine.failed(None, f"internal error: {describe(exc)}", self._clock())
                self._report(machine)
        finally:
            http.close()

    def _step(
        self, machine: DataSourceMachine, poller: Poller, http: httpx.Client, decision: Decision
    ) -> Decision | None:
        if isinstance(decision, Stop):
            self._log.error("vexil: %s", decision.error.message)
            return None
        if isinstance(decision, Reconnect):
            if decision.delay > 0:
                self._log.info("vexil: reconnecting in %.1f s (%s)", decision.delay, decision.reason)
            return None if self._stop.wait(decision.delay) else self._stream(machine, http)
        if isinstance(decision, FallBackToPolling):
            self._log.warning(
                "vexil: streaming keeps failing (%s); polling every %g s instead",
                decision.reason,
                machine.poll_interval,
            )
        if isinstance(decision, FallBackToPolling | PollAfter):
            return None if self._stop.wait(decision.delay) else self._poll(machine, poller, http)
        raise AssertionError(f"unexpected decision {decision!r}")  # Continue/Apply never reach here

    def _poll(self, machine: DataSourceMachine, poller: Poller, http: httpx.Client) -> Decision:
        result = poller.poll(http)
        now = self._clock()
        if isinstance(result, PollFailed):
            if result.malformed:
                return machine.malformed(result.message, now)
            return machine.failed(result.status, result.message, now)
        decision = machine.polled(now)
        self._report(machine)
        if not isinstance(result, NotModified) and self._updates is not None:
            self._updates.apply(result)
        return decision

    def _stream(self, machine: DataSourceMachine, http: httpx.Client) -> Decision | None:
        decoder = SSEDecoder()
        try:
            with http.stream("GET", STREAM_PATH, headers={"Accept": _EVENT_STREAM}) as response:
                self._response = response
                if self._stop.is_set():
                    return None
                if response.status_code != 200:
                    return machine.failed(
                        response.status_code, f"{STREAM_PATH}: HTTP {response.status_code}", self._clock()
                    )
                if not response.headers.get("content-type", "").startswith(_EVENT_STREAM):
                    return machine.malformed(
                        f"{STREAM_PATH} did not answer with an event stream", self._clock()
                    )
                machine.connected(self._clock())
                for chunk in response.iter_bytes():
                    for item in decoder.feed(chunk):
                        decision = machine.received(item, self._clock())
                        if isinstance(decision, Apply):
                            self._report(machine)  # state first: a reader that sees the data sees VALID
                            if self._updates is not None:
                                self._updates.apply(decision.message)
                        elif not isinstance(decision, Continue):
                            return decision
                    if self._stop.is_set():
                        return None
            decoder.close()
            return None if self._stop.is_set() else machine.closed(self._clock())
        except (httpx.HTTPError, ProtocolError, OSError) as exc:
            if self._stop.is_set():
                return None
            return machine.failed(None, f"{STREAM_PATH}: {describe(exc)}", self._clock())
        finally:
            self._response = None

    def _report(self, machine: DataSourceMachine) -> None:
        current = (machine.state, machine.error)
        if current != self._reported and self._updates is not None:
            self._reported = current
            self._updates.report(machine.state, machine.error)
