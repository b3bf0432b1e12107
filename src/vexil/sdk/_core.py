"""The client's data side: holds the evaluation view, applies source updates, cache, status, listeners, fork.

Everything here runs on background threads or at start/close; evaluation only reads `_view` (one attribute,
swapped whole) and never waits on the lock that writers hold.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vexil.engine import Snapshot
from vexil.protocol import Message, Put
from vexil.sdk._cache import read_cache, write_cache
from vexil.sdk._events import EventProcessor
from vexil.sdk._flagdata import FlagData
from vexil.sdk._forking import REGISTRY
from vexil.sdk._source import DataSource
from vexil.sdk._status import ClientStatus, SourceError, State
from vexil.sdk._summaries import Window

Listener = Callable[[ClientStatus], None]
CLOSE_BUDGET = 2.0


class View:
    """What one evaluation reads, swapped whole: the snapshot, its counters, and whether it is ready."""

    __slots__ = ("counts", "ready", "snapshot", "window")

    def __init__(self, window: Window, ready: bool) -> None:
        self.snapshot = window.snapshot
        self.window = window
        self.counts = window.counts
        self.ready = ready


class _Feed:
    """The `Updates` a data source sees: forwards to the client without exposing it."""

    def __init__(self, client: ClientCore) -> None:
        self._client = client

    def apply(self, message: Message) -> None:
        self._client._apply(message)

    def report(self, state: State, error: SourceError | None = None) -> None:
        self._client._report(state, error)


class ClientCore:
    """State and lifecycle shared by every `Client`; see `Client` for the public evaluation API."""

    __slots__ = (
        "__weakref__",
        "_cache_path",
        "_closed",
        "_data",
        "_error",
        "_events",
        "_feed",
        "_listeners",
        "_lock",
        "_log",
        "_logged",
        "_retired",
        "_settled",
        "_source",
        "_stale",
        "_state",
        "_updated_at",
        "_view",
    )

    _events: EventProcessor | None

    def _setup(self, source: DataSource, logger: logging.Logger, *, cache_path: str | Path | None) -> None:
        self._source = source
        self._log = logger
        self._cache_path = Path(cache_path) if cache_path is not None else None
        self._events = None
        self._data = FlagData()
        self._view = View(Window(self._data.snapshot, time.time()), ready=False)
        self._retired: list[Window] = []
        self._lock = threading.Lock()
        self._settled = threading.Event()
        self._state = State.INITIALIZING
        self._error: SourceError | None = None
        self._stale = False
        self._closed = False
        self._updated_at: datetime | None = None
        self._listeners: list[Listener] = []
        self._logged = 0
        self._feed = _Feed(self)

    def _begin(self, start_wait: float) -> None:
        REGISTRY.add(self)
        if self._events is not None:
            self._events.start()
        self._source.start(self._feed)
        if start_wait > 0:
            self._settled.wait(start_wait)
        if not self._view.ready:
            self._load_cache()

    # -- state -----------------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        """The current immutable snapshot (for tools and integrations; evaluate through the client)."""
        return self._view.snapshot

    def wait_until_ready(self, timeout: float = 5.0) -> bool:
        """Wait until the client has flags to serve (live, cached or from a file); False after `timeout`
        or as soon as the data source gave up (a rejected SDK key)."""
        self._settled.wait(max(0.0, timeout))
        return self._view.ready

    def status(self) -> ClientStatus:
        view = self._view
        events = self._events
        return ClientStatus(
            state=self._state,
            ready=view.ready,
            stale=self._stale,
            source=self._source.name,
            version=self._data.version,
            flags=len(view.snapshot),
            updated_at=self._updated_at,
            error=self._error,
            events_sent=events.sent if events is not None else 0,
            events_dropped=events.dropped if events is not None else 0,
        )

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(status)` after each change of flags or state (from a background thread).

        Returns a function that removes it.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def flush(self, timeout: float = 5.0) -> bool:
        """Send pending events now; True when everything was accepted (or nothing was pending)."""
        events = self._events
        return True if events is None else events.flush(timeout)

    def close(self) -> None:
        """Stop the data source, send pending events and stop the threads, within 2 s. Idempotent.

        A closed client keeps answering from its last snapshot.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._state = State.CLOSED
        deadline = time.monotonic() + CLOSE_BUDGET
        self._source.stop(0.3)
        if self._events is not None:
            self._events.close(max(0.0, deadline - time.monotonic() - 0.05))
        REGISTRY.discard(self)
        self._settled.set()

    # -- updates from the data source (its thread) -----------------------------------------------------

    def _apply(self, message: Message) -> None:
        with self._lock:
            if not self._data.apply(message):
                return
            self._stale = False
            self._install()
            version, document = self._data.version, self._data.snapshot.document()
        self._save_cache(version, document)
        self._notify()

    def _report(self, state: State, error: SourceError | None) -> None:
        with self._lock:
            if self._closed:
                return
            self._state = state
            self._error = error
            if state is State.OFF:
                self._settled.set()
            want_cache = error is not None and not self._view.ready
        if want_cache:
            self._load_cache()
        self._notify()

    def _install(self) -> None:
        """Swap in a view of the current data (caller holds the lock)."""
        old = self._view
        self._view = View(Window(self._data.snapshot, time.time()), ready=True)
        if self._events is not None and (old.counts or old.window.other):
            self._retired.append(old.window)
        self._updated_at = datetime.now(UTC)
        self._settled.set()

    def _collect(self) -> list[Window]:
        """Hand the evaluation counters to the event worker and start new ones."""
        with self._lock:
            old = self._view
            self._view = View(Window(old.snapshot, time.time()), ready=old.ready)
            retired, self._retired = self._retired, []
        retired.append(old.window)
        return retired

    def _load_cache(self) -> None:
        path = self._cache_path
        if path is None or self._view.ready:
            return
        cached = read_cache(path)
        if not isinstance(cached, Put):
            self._log.warning("vexil: no usable flag cache: %s", cached)
            return
        with self._lock:
            if self._view.ready:
                return
            self._data.apply(cached)
            self._stale = True
            self._install()
        self._log.warning(
            "vexil: the server is unreachable; serving %d cached flags (version %d) from %s",
            len(self._data.snapshot),
            cached.version,
            path,
        )
        self._notify()

    def _save_cache(self, version: int | None, document: Mapping[str, Any]) -> None:
        if self._cache_path is None:
            return
        try:
            write_cache(self._cache_path, version or 0, document)
        except (OSError, ValueError) as exc:
            self._log.warning("vexil: cannot write the flag cache %s: %s", self._cache_path, exc)

    def _notify(self) -> None:
        if not self._listeners:
            return
        status = self.status()
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:  # noqa: BLE001 -- user code: it must not stop the data source
                self._log.exception("vexil: a status listener raised")

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        settled = threading.Event()  # a fresh one: the parent's may be mid-wait in another thread
        if self._settled.is_set():
            settled.set()
        self._settled = settled
        old = self._view
        self._view = View(Window(old.snapshot, time.time()), ready=old.ready)
        self._retired = []
        if self._closed:
            return
        if self._events is not None:
            self._events.after_fork()
        self._source.after_fork()
