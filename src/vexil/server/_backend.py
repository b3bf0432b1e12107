"""What the data plane (hub, authenticator, SDK and OFREP endpoints) needs from whatever holds the flags.

Interfaces only: `vexil.service.Service` satisfies them (the server) and so does the relay's mirror of an
upstream (`_relay_backend`). Nothing here does I/O; implementations are called from worker threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from vexil.service import ApiKey, CustomEvent, EnvironmentSnapshot, EvaluationSummary, Listener, Principal


class SnapshotFeed(Protocol):
    """Environment documents by id, and a notice per committed change (what `Hub` serves and fans out)."""

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        """The current document; raises `NotFound` (no such environment) or `Unavailable` (cannot read)."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(change)` per change, in version order per environment; returns unsubscribe."""
        ...

    def inactive_keys(self, key_ids: Iterable[int]) -> frozenset[int]:
        """Which of these key ids are revoked or gone (their streams end)."""
        ...


class KeyDirectory(Protocol):
    """Bearer secrets to principals (`Authenticator`), and key ids to keys (OFREP stream links)."""

    def authorize(self, secret: str) -> Principal:
        """The principal of a live key; raises `Unauthorized` otherwise (and `Unavailable`)."""
        ...

    def get_key(self, actor: Principal, key_id: int) -> ApiKey:
        """The key with this id; raises `NotFound`."""
        ...


class EventSink(Protocol):
    """Where `POST /events/v1/bulk` puts an SDK's evaluation summaries and custom events."""

    def record_events(
        self,
        actor: Principal,
        evaluations: Sequence[EvaluationSummary],
        custom: Sequence[CustomEvent] = (),
    ) -> None: ...


class DataPlaneBackend(SnapshotFeed, KeyDirectory, EventSink, Protocol):
    """Everything `sdk_routes` and `ofrep_routes` use, plus `ping` (is the source of truth reachable now?)."""

    def ping(self) -> bool: ...
