"""The relay's local copy of each mirrored environment: documents kept by the protocol's version rules, turned
into the same `Change` notices the server's store emits, so the data plane's `Hub` serves them unchanged.

Event-loop owned: `apply`/`load` run on the loop; `snapshot_by_id` may run on worker threads, which is safe
because every published document is immutable (a change copies the maps it touches). No I/O here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from vexil.protocol import COLLECTIONS, Delete, ItemKind, Message, Patch, Put
from vexil.service import Change, EnvironmentSnapshot, JsonObject, Listener, NotFound, Unavailable
from vexil.service import ItemKind as ChangeKind

logger = logging.getLogger(__name__)
ItemId = tuple[ItemKind, str]


@dataclass(eq=False)
class EnvironmentStatus:
    """How current one environment is (for `/readyz` and `/metrics`); written by its upstream sync."""

    #: "cache" (loaded from disk, not confirmed by the upstream yet), "upstream", or None (no data at all).
    source: str | None = None
    #: The upstream stream is open and past its `put` (or, when polling, the last poll succeeded).
    connected: bool = False
    mode: str = "streaming"
    #: Unix time of the last sign that the copy was current (a stream event or heartbeat, a good poll).
    last_sync: float | None = None
    #: Why it is not connected (None when it is).
    error: str | None = None
    #: The upstream refused the key (401/403): the sync stopped for good.
    rejected: bool = False


@dataclass(eq=False)
class _Environment:
    snapshot: EnvironmentSnapshot | None
    status: EnvironmentStatus
    versions: dict[ItemId, int]
    tombstones: dict[ItemId, int]


def _item_version(item: object, fallback: int) -> int:
    version = item.get("version") if isinstance(item, Mapping) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else fallback


def _normalised(document: Mapping[str, Any]) -> JsonObject:
    out: JsonObject = dict(document)
    for collection in COLLECTIONS.values():
        items = out.get(collection)
        out[collection] = dict(items) if isinstance(items, Mapping) else {}
    return out


def client_projection(document: Mapping[str, Any]) -> JsonObject:
    """What a client-side key reads (as on the server): the `client_side` flags and every segment."""
    flags = {k: f for k, f in document.get("flags", {}).items() if f.get("client_side") is True}
    return {"flags": flags, "segments": dict(document.get("segments", {}))}


def diff(old: Mapping[str, Any], new: Mapping[str, Any], environment_id: int, version: int) -> list[Change]:
    """The patches and deletes that turn document `old` into `new` (a `put` after a reconnect), oldest first:
    changed items carry their own version, removed ones a tombstone at the new snapshot `version`."""
    changes: list[Change] = []
    for kind, collection in COLLECTIONS.items():
        before, after = old.get(collection, {}), new.get(collection, {})
        for key, item in after.items():
            if before.get(key) != item:
                changes.append(
                    Change(environment_id, _item_version(item, version), ChangeKind(kind.value), key, item)
                )
        changes.extend(
            Change(environment_id, version, ChangeKind(kind.value), key, None)
            for key in before
            if key not in after
        )
    changes.sort(key=lambda change: change.snapshot_version)
    return changes


class Mirror:
    """Documents of the relay's environments (ids 1..N), their statuses and the change listeners."""

    def __init__(self, environment_ids: list[int], *, wall_clock: Callable[[], float] = time.time) -> None:
        self._environments = {i: _Environment(None, EnvironmentStatus(), {}, {}) for i in environment_ids}
        self._names = {i: ("", "") for i in environment_ids}
        self._listeners: list[Listener] = []
        self._wall = wall_clock

    @property
    def environment_ids(self) -> list[int]:
        return list(self._environments)

    def status(self, environment_id: int) -> EnvironmentStatus:
        return self._environments[environment_id].status

    def current(self, environment_id: int) -> EnvironmentSnapshot | None:
        return self._environments[environment_id].snapshot

    def names(self, environment_id: int) -> tuple[str, str]:
        """(project, environment) as the upstream calls them; empty until learned."""
        return self._names[environment_id]

    def set_names(self, environment_id: int, project: str, environment: str) -> None:
        self._names[environment_id] = (project, environment)
        found = self._environments[environment_id]
        if found.snapshot is not None:
            found.snapshot = replace(found.snapshot, project=project, environment=environment)

    # -- the data plane's side (any thread)

    def snapshot_by_id(self, environment_id: int, *, client_side_only: bool = False) -> EnvironmentSnapshot:
        found = self._environments.get(environment_id)
        if found is None:
            raise NotFound("environment", str(environment_id))
        snapshot = found.snapshot
        if snapshot is None:
            raise Unavailable("the relay has no copy of this environment yet: the upstream was never reached")
        if client_side_only:
            return replace(snapshot, document=client_projection(snapshot.document))
        return snapshot

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- the upstream's side (event loop)

    def load(self, environment_id: int, version: int, document: Mapping[str, Any], synced_at: float) -> None:
        """Start from a disk copy (before any listener or upstream data): no change notices."""
        found = self._environments[environment_id]
        self._put(found, environment_id, version, _normalised(document))
        found.status.source = "cache"
        found.status.last_sync = synced_at

    def apply(self, environment_id: int, message: Message) -> bool:
        """Apply an upstream message by the version rules, notify listeners; True when anything changed."""
        found = self._environments[environment_id]
        if isinstance(message, Put):
            old = found.snapshot
            if old is not None and message.version < old.version:
                # Versions only compare within one database: the upstream's was replaced or restored. The
                # data plane keeps the higher-versioned copy it built; only a restart with an empty cache
                # directory trusts the new versions.
                logger.error(
                    "vexil relay: the upstream's snapshot version went back from %d to %d (a replaced or "
                    "restored database?): restart the relay with an empty cache directory",
                    old.version,
                    message.version,
                )
            document = _normalised(message.document)
            changes = [] if old is None else diff(old.document, document, environment_id, message.version)
            self._put(found, environment_id, message.version, document)
            found.status.source = "upstream"
            self._notify(changes)
            return old is None or bool(changes) or old.version != message.version
        return self._item(found, environment_id, message)

    def _put(self, found: _Environment, environment_id: int, version: int, document: JsonObject) -> None:
        project, environment = self._names[environment_id]
        found.snapshot = EnvironmentSnapshot(environment_id, project, environment, version, document)
        found.versions = {
            (kind, key): _item_version(item, -1)
            for kind, collection in COLLECTIONS.items()
            for key, item in document[collection].items()
        }
        found.tombstones = {}

    def _item(self, found: _Environment, environment_id: int, message: Patch | Delete) -> bool:
        snapshot = found.snapshot
        item_id = (message.kind, message.key)
        held = found.versions.get(item_id, found.tombstones.get(item_id, -1))
        if snapshot is None or message.version <= held:
            return False  # no put yet (the stream always starts with one), or older than what is held
        collection = COLLECTIONS[message.kind]
        items = dict(snapshot.document[collection])
        if isinstance(message, Patch):
            new_key = message.key not in items
            items[message.key] = message.item
            if new_key:  # the upstream lists items by key; keeping its order keeps the bytes (and ETag) equal
                items = dict(sorted(items.items()))
            found.versions[item_id] = message.version
            found.tombstones.pop(item_id, None)
        else:
            items.pop(message.key, None)
            found.versions.pop(item_id, None)
            found.tombstones[item_id] = message.version
        document = {**snapshot.document, collection: items}
        found.snapshot = replace(snapshot, version=max(snapshot.version, message.version), document=document)
        item = message.item if isinstance(message, Patch) else None
        self._notify(
            [Change(environment_id, message.version, ChangeKind(message.kind.value), message.key, item)]
        )
        return True

    def _notify(self, changes: list[Change]) -> None:
        for change in changes:
            for listener in list(self._listeners):
                try:
                    listener(change)
                except Exception:  # one broken listener must not starve the others
                    logger.exception("relay change listener failed")
