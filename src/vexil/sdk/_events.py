"""The event worker: one background thread that sends evaluation summaries, exposures and custom events.

Callers only append to a bounded buffer (full: the event is dropped and counted, never waited for); all
network I/O happens in the worker or in an explicit flush()/close(). It never evaluates flags.
"""

from __future__ import annotations

import collections
import gzip
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from vexil.protocol import CustomEvent, WireEvent
from vexil.sdk._http import EVENTS_PATH, HttpConfig, describe
from vexil.sdk._summaries import Window, encode_batch, exposure, moment, summarize

#: Statuses where sending the same batch again cannot succeed.
_REJECTED = frozenset({400, 401, 403, 404, 413, 422})
#: Distinct exposures remembered per interval (to send each context's exposure once) before forgetting.
_MAX_SEEN_EXPOSURES = 10_000

Pending = CustomEvent | dict[str, Any]


class EventProcessor:
    """Aggregates and sends events to `/events/v1/bulk` (gzip, batches of `batch_size`).

    `collect()` (given by the client) hands over the evaluation-count windows accumulated so far.
    A failed batch is retried once, then dropped and counted (the protocol's advice).
    """

    def __init__(
        self,
        http: HttpConfig,
        collect: Callable[[], list[Window]],
        *,
        flush_interval: float,
        logger: logging.Logger,
        capacity: int = 10_000,
        batch_size: int = 2_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http_config = http
        self._collect = collect
        self._interval = flush_interval
        self._log = logger
        self._capacity = capacity
        self._batch_size = batch_size
        self._clock = clock
        self._pending: collections.deque[Pending] = collections.deque()
        self._seen: set[tuple[str, int, tuple[tuple[str, str], ...]]] = set()
        self.sent = 0
        self.dropped = 0
        self._warned_auth = False
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self._final_deadline = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        self._http = self._http_config.client()
        self._thread = threading.Thread(target=self._run, name="vexil-events", daemon=True)
        self._thread.start()

    def close(self, timeout: float) -> None:
        """Stop the worker after it sent what is pending; return within `timeout` seconds regardless.

        The final send happens on the worker, so a server that never answers delays only that daemon
        thread, never the caller past its budget.
        """
        self._final_deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is None:
            self.flush(timeout)
        elif thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                self._log.warning("vexil: events still being sent after %.1f s; not waiting longer", timeout)
                return
        http = self._http
        if http is not None:
            http.close()

    def after_fork(self) -> None:
        """In a forked child: the parent sends what it counted; the child starts from zero."""
        self._pending.clear()
        self._seen = set()
        running = self._thread is not None and not self._stop.is_set()
        self._fresh_state()
        if running:
            self.start()

    # -- recording (any thread, never blocks) ----------------------------------------------------------

    def _add(self, item: Pending) -> None:
        pending = self._pending
        if len(pending) >= self._capacity:
            self.dropped += 1
            return
        pending.append(item)
        if len(pending) >= self._capacity // 2:
            self._wake.set()

    def custom(self, key: str, value: float | None) -> None:
        self._add(CustomEvent(key, moment(self._clock()), value))

    def exposure(self, flag: str, variation: int, version: int | None, contexts: dict[str, str]) -> None:
        seen = (flag, variation, tuple(sorted(contexts.items())))
        if seen in self._seen:
            return
        if len(self._seen) >= _MAX_SEEN_EXPOSURES:
            self._seen = set()
        self._seen.add(seen)
        self._add(exposure(flag, variation, version, contexts, self._clock()))

    # -- sending ---------------------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything pending now; True when all of it was accepted (or there was nothing)."""
        deadline = time.monotonic() + timeout
        if not self._send_lock.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            return self._send_all(deadline)
        finally:
            self._send_lock.release()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stop.is_set()
            budget = self._final_deadline - time.monotonic() if stopping else self._interval
            try:
                self.flush(max(0.0, budget))
            except Exception:  # noqa: BLE001 -- the thread's boundary: a send problem must not end the worker
                self._log.exception("vexil: unexpected error sending events")
            if stopping:
                return

    def _send_all(self, deadline: float) -> bool:
        wire: list[WireEvent] = list(summarize(self._collect(), self._clock()))
        extra: list[dict[str, Any]] = []
        self._seen = set()
        while True:
            try:
                item = self._pending.popleft()
            except IndexError:
                break
            if isinstance(item, dict):
                extra.append(item)
            else:
                wire.append(item)
        ok = True
        size = self._batch_size
        for start in range(0, len(wire) + len(extra), size):
            batch_wire = wire[start : start + size]
            taken = len(batch_wire)
            offset = max(0, start - len(wire))
            batch_extra = extra[offset : offset + size - taken]
            count = taken + len(batch_extra)
            if self._post(encode_batch(batch_wire, batch_extra), deadline):
                self.sent += count
            else:
                self.dropped += count
                ok = False
        return ok

    def _post(self, body: bytes, deadline: float) -> bool:
        http = self._http
        if http is None:
            return False
        payload = gzip.compress(body, compresslevel=6)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        for attempt in range(2):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                response = http.post(EVENTS_PATH, content=payload, headers=headers, timeout=remaining)
            except httpx.HTTPError as exc:
                self._log.warning("vexil: sending events failed (attempt %d): %s", attempt + 1, describe(exc))
                continue
            status = response.status_code
            if 200 <= status < 300:
                return True
            if status in _REJECTED:
                self._rejected(status, response.text)
                return False
            self._log.warning("vexil: sending events: HTTP %d (attempt %d)", status, attempt + 1)
        return False

    def _rejected(self, status: int, text: str) -> None:
        if status in (401, 403):
            if not self._warned_auth:
                self._warned_auth = True
                self._log.error("vexil: the server rejected the SDK key for events (HTTP %d)", status)
            return
        self._log.warning("vexil: the server rejected an event batch (HTTP %d): %.300s", status, text)
