"""`RelayBackend`: the relay's `DataPlaneBackend`, so the server's hub, authenticator, SDK and OFREP endpoints
serve a mirror of an upstream exactly as they serve a database.

Adapts the mirror, the configured keys and the event buffer; safe on worker threads (it reads immutable
state and the thread-safe buffer). It never calls the upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from vexil.protocol import CustomEvent as WireCustomEvent
from vexil.protocol import SummaryEvent, WireEvent
from vexil.service import (
    ApiKey,
    CustomEvent,
    EnvironmentSnapshot,
    EvaluationSummary,
    Forbidden,
    KeyKind,
    Listener,
    NotFound,
    Principal,
    Unauthorized,
)

from ._relay_events import EventBuffer
from ._relay_keys import RelayKey, RelayKeys
from ._relay_mirror import Mirror


class RelayBackend:
    """Snapshots and change notices from `mirror`, principals from `keys`, events into `events`."""

    def __init__(self, mirror: Mirror, keys: RelayKeys, events: EventBuffer) -> None:
        self.mirror = mirror
        self.keys = keys
        self.events = events
        self._created = datetime.now(UTC)

    # -- SnapshotFeed

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        return self.mirror.snapshot_by_id(environment_id, client_side_only=client_side_only)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return self.mirror.subscribe(listener)

    def inactive_keys(self, key_ids: Iterable[int]) -> frozenset[int]:
        """Keys the upstream rejected (or never configured): their open streams end at the next heartbeat."""
        rejected = self.keys.rejected_ids
        return frozenset(k for k in key_ids if k in rejected or self.keys.get(k) is None)

    def ping(self) -> bool:
        """True when every environment has a copy to serve (from the upstream or the disk cache)."""
        return all(self.mirror.current(i) is not None for i in self.mirror.environment_ids)

    # -- KeyDirectory

    def authorize(self, secret: str) -> Principal:
        key = self.keys.match(secret) if isinstance(secret, str) else None
        if key is None or self.keys.rejected(key.key_id):
            raise Unauthorized()
        project, environment = self.mirror.names(key.environment_id)
        return Principal(
            name=f"relay key {key.prefix}",
            kind=key.kind,
            key_id=key.key_id,
            project=project or None,
            environment=environment or None,
            environment_id=key.environment_id,
        )

    def get_key(self, actor: Principal, key_id: int) -> ApiKey:
        key = self.keys.get(key_id)
        if key is None:
            raise NotFound("key", str(key_id))
        return self._api_key(key)

    def _api_key(self, key: RelayKey) -> ApiKey:
        project, environment = self.mirror.names(key.environment_id)
        return ApiKey(
            id=key.key_id,
            name=f"relay key {key.prefix}",
            kind=key.kind,
            role=None,
            projects=None,
            project=project or None,
            environment=environment or None,
            environment_id=key.environment_id,
            prefix=key.prefix,
            created_at=self._created,
            created_by="vexil relay",
            revoked_at=self._created if self.keys.rejected(key.key_id) else None,
        )

    # -- EventSink

    def record_events(
        self,
        actor: Principal,
        evaluations: Sequence[EvaluationSummary],
        custom: Sequence[CustomEvent] = (),
    ) -> None:
        """Queue the events for the upstream (already validated by the endpoint's protocol decoder)."""
        if actor.kind is KeyKind.ADMIN or actor.environment_id is None:
            raise Forbidden(f"key {actor.name!r} is not an SDK key: events need a server or client key")
        wire: list[WireEvent] = [
            SummaryEvent(e.flag, e.variation, e.version, e.count, e.window_start, e.window_end)
            for e in evaluations
        ]
        wire.extend(WireCustomEvent(e.key, e.time, e.value, e.count) for e in custom)
        self.events.add(actor.environment_id, wire)
