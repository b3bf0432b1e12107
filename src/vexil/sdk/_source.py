"""The interface between a client and its data sources (stream/poll, file, bootstrap, in-memory).

Interfaces only: a source pushes protocol messages and state reports into `Updates`; it never evaluates.
"""

from __future__ import annotations

from typing import Protocol

from vexil.protocol import Message
from vexil.sdk._status import SourceError, State


class Updates(Protocol):
    """What a data source feeds; the client implements it. Safe to call from any one source thread."""

    def apply(self, message: Message) -> None:
        """A put, patch or delete, applied by the protocol's version rules."""

    def report(self, state: State, error: SourceError | None = None) -> None:
        """The source's state changed (connected, interrupted, stopped for good)."""


class DataSource(Protocol):
    """Where a client's flags come from. `start` may deliver data synchronously or from a thread."""

    name: str

    def start(self, updates: Updates) -> None: ...

    def stop(self, timeout: float) -> None:
        """Stop background work, waiting at most `timeout` seconds."""

    def after_fork(self) -> None:
        """Called in a forked child: restart whatever background work was running in the parent."""
