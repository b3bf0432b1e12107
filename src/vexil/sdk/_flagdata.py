"""The versioned flag data an SDK holds: applies put/patch/delete by the protocol's version rules.

Pure and single-writer (the caller serialises `apply`); it builds a new immutable Snapshot per change and
never touches the network, files or clocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vexil.engine import Snapshot
from vexil.protocol import COLLECTIONS, Delete, ItemKind, Message, Patch, Put

ItemId = tuple[ItemKind, str]


def _item_version(item: object) -> int:
    version = item.get("version") if isinstance(item, Mapping) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else -1


class FlagData:
    """Items by (kind, key) with their versions, tombstones of deleted items, and the compiled snapshot.

    `put` replaces everything (and forgets tombstones); `patch`/`delete` apply only when their version is
    newer than the item's (or its tombstone's), so a late patch never resurrects a deleted flag.
    """

    def __init__(self) -> None:
        self.snapshot = Snapshot.empty()
        self.version: int | None = None
        self._versions: dict[ItemId, int] = {}
        self._tombstones: dict[ItemId, int] = {}

    def current_version(self, kind: ItemKind, key: str) -> int:
        """The version held for an item: its own, else its tombstone's, else -1."""
        item_id = (kind, key)
        found = self._versions.get(item_id)
        if found is not None:
            return found
        return self._tombstones.get(item_id, -1)

    @property
    def tombstones(self) -> Mapping[ItemId, int]:
        return self._tombstones

    def apply(self, message: Message) -> bool:
        """Apply one message; True when the snapshot changed."""
        if isinstance(message, Put):
            self._put(message.version, message.document)
            return True
        if message.version <= self.current_version(message.kind, message.key):
            return False
        item_id = (message.kind, message.key)
        item: dict[str, Any] | None = message.item if isinstance(message, Patch) else None
        change = {message.key: item}
        if message.kind is ItemKind.FLAG:
            self.snapshot = self.snapshot.with_changes(flags=change)
        else:
            self.snapshot = self.snapshot.with_changes(segments=change)
        if isinstance(message, Delete):
            self._versions.pop(item_id, None)
            self._tombstones[item_id] = message.version
        else:
            self._versions[item_id] = message.version
            self._tombstones.pop(item_id, None)
        self.version = message.version if self.version is None else max(self.version, message.version)
        return True

    def _put(self, version: int, document: Mapping[str, Any]) -> None:
        self.snapshot = Snapshot.from_document(document, strict=False)
        versions: dict[ItemId, int] = {}
        for kind, collection in COLLECTIONS.items():
            items = document.get(collection)
            if isinstance(items, Mapping):
                for key, item in items.items():
                    versions[(kind, key)] = _item_version(item)
        self._versions = versions
        self._tombstones = {}
        self.version = version
