"""The resources the use cases read and write: projects, environments, flags, targeting, segments.

Plain frozen values with `to_dict()` for the API representation; no storage or HTTP code here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonObject = dict[str, Any]


class ResourceKind(enum.StrEnum):
    PROJECT = "project"
    ENVIRONMENT = "environment"
    FLAG = "flag"
    TARGETING = "targeting"
    SEGMENT = "segment"
    KEY = "key"


class ItemKind(enum.StrEnum):
    """What a change-feed entry (and an SSE patch) carries."""

    FLAG = "flag"
    SEGMENT = "segment"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    key: str
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> JsonObject:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Environment:
    """`snapshot_version` grows by one per committed transaction that changes this environment's document."""

    id: int
    project_id: int
    project: str
    key: str
    name: str
    critical: bool
    version: int
    snapshot_version: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> JsonObject:
        return {
            "key": self.key,
            "project": self.project,
            "name": self.name,
            "critical": self.critical,
            "version": self.version,
            "snapshot_version": self.snapshot_version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class FlagDefinition:
    """The per-project half of a flag: `body` holds variations, variation_info, salt and metadata."""

    id: int
    project_id: int
    project: str
    key: str
    body: JsonObject
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def variations(self) -> list[Any]:
        return list(self.body.get("variations", []))

    @property
    def client_side(self) -> bool:
        return bool(self.body.get("client_side", False))

    def to_dict(self) -> JsonObject:
        return {
            "key": self.key,
            "project": self.project,
            **self.body,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class FlagTargeting:
    """The per-environment half: `body` holds on, targets, rules, fallthrough, off_variation, prerequisites.

    `item_version` is the flag's `version` inside that environment's snapshot (see docs in service-api.md).
    """

    flag_id: int
    environment_id: int
    project: str
    flag: str
    environment: str
    body: JsonObject
    version: int
    item_version: int
    updated_at: datetime

    @property
    def on(self) -> bool:
        return bool(self.body.get("on", False))

    def to_dict(self) -> JsonObject:
        return {
            "flag": self.flag,
            "project": self.project,
            "environment": self.environment,
            **self.body,
            "version": self.version,
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Segment:
    """`body` is the segment in the engine's format without `key` and `version`."""

    id: int
    environment_id: int
    project: str
    environment: str
    key: str
    body: JsonObject
    version: int
    item_version: int
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> JsonObject:
        return {
            "key": self.key,
            "project": self.project,
            "environment": self.environment,
            **self.body,
            "version": self.version,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class EnvironmentSnapshot:
    """One environment's whole document in the engine's flag format, at `version` (the snapshot version)."""

    environment_id: int
    project: str
    environment: str
    version: int
    document: JsonObject


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change of a snapshot item; `item` is None when the item was deleted (a tombstone).

    The item is in the engine's flag format and its `version` equals `snapshot_version`.
    """

    environment_id: int
    snapshot_version: int
    kind: ItemKind
    key: str
    item: JsonObject | None

    @property
    def deleted(self) -> bool:
        return self.item is None
