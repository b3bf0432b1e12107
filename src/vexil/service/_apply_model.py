"""The values of a bulk apply (flags as code): the changes asked for, their parsing from the wire format,
the conflicts that refuse a batch and the result of an applied one.

Values and parsing only; `_apply.py` runs the batch. No storage or HTTP here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vexil.engine import Problem

from ._documents import check_key, raise_if
from ._errors import Conflict, ServiceError
from ._models import JsonObject, ResourceKind


class ApplyAction(enum.StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    DELETE = "delete"


#: What a batch may do to each kind of resource. Environments and projects are never deleted by a batch
#: (that cascades to far more than flags); targeting exists for every flag and environment, so it is only
#: ever replaced.
ALLOWED_ACTIONS: Mapping[ResourceKind, frozenset[ApplyAction]] = {
    ResourceKind.PROJECT: frozenset({ApplyAction.CREATE}),
    ResourceKind.ENVIRONMENT: frozenset({ApplyAction.CREATE, ApplyAction.REPLACE}),
    ResourceKind.FLAG: frozenset(ApplyAction),
    ResourceKind.TARGETING: frozenset({ApplyAction.REPLACE}),
    ResourceKind.SEGMENT: frozenset(ApplyAction),
}
_PER_ENVIRONMENT = frozenset({ResourceKind.TARGETING, ResourceKind.SEGMENT})
_CHANGE_FIELDS = frozenset({"resource", "action", "key", "environment", "body", "expected_version"})


@dataclass(frozen=True, slots=True)
class ApplyChange:
    """One change of a batch. `key` is the project, environment, flag (also for targeting) or segment key;
    `environment` names the environment of targeting and segments. `expected_version` is the version the
    caller planned against (None: unconditional; always None for a create, which expects no resource)."""

    resource: ResourceKind
    action: ApplyAction
    key: str
    environment: str | None = None
    body: JsonObject | None = None
    expected_version: int | None = None

    @property
    def identity(self) -> tuple[ResourceKind, str | None, str]:
        return (self.resource, self.environment, self.key)

    @property
    def label(self) -> str:
        where = f" in {self.environment}" if self.environment is not None else ""
        return f"{self.resource.value} {self.key!r}{where}"

    def to_dict(self) -> JsonObject:
        out: JsonObject = {"resource": self.resource.value, "action": self.action.value, "key": self.key}
        if self.environment is not None:
            out["environment"] = self.environment
        if self.body is not None:
            out["body"] = self.body
        out["expected_version"] = self.expected_version
        return out


@dataclass(frozen=True, slots=True)
class ApplyConflictItem:
    """Why one planned change (`index` into the batch; None for a snapshot precondition) cannot apply.

    `field` is "version" (the resource's own version) or "snapshot_version" (an environment changed since
    the plan); a None version means "does not exist".
    """

    index: int | None
    resource: ResourceKind
    key: str
    environment: str | None
    field: str
    expected_version: int | None
    current_version: int | None
    message: str

    def to_dict(self) -> JsonObject:
        return {
            "index": self.index,
            "resource": self.resource.value,
            "key": self.key,
            "environment": self.environment,
            "field": self.field,
            "expected_version": self.expected_version,
            "current_version": self.current_version,
            "message": self.message,
        }


class ApplyConflict(Conflict):
    """Something changed since the batch was planned: nothing was applied. Lists every conflict found."""

    def __init__(self, conflicts: Sequence[ApplyConflictItem]) -> None:
        self.conflicts: tuple[ApplyConflictItem, ...] = tuple(conflicts)
        first = self.conflicts[0]
        more = f" (and {len(self.conflicts) - 1} more)" if len(self.conflicts) > 1 else ""
        ServiceError.__init__(self, f"nothing applied: {first.message}{more}")
        self.kind = first.resource.value
        self.key = first.key
        self.expected_version = first.expected_version if first.expected_version is not None else -1
        self.current_version = first.current_version if first.current_version is not None else -1


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """A change as applied; `version` is the resource's new version (None once deleted)."""

    resource: ResourceKind
    action: ApplyAction
    key: str
    environment: str | None
    version: int | None

    def to_dict(self) -> JsonObject:
        return {
            "resource": self.resource.value,
            "action": self.action.value,
            "key": self.key,
            "environment": self.environment,
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What one batch did, and each changed environment's new snapshot version."""

    applied: tuple[AppliedChange, ...]
    snapshot_versions: dict[str, int]

    def to_dict(self) -> JsonObject:
        return {
            "applied": [change.to_dict() for change in self.applied],
            "snapshot_versions": dict(self.snapshot_versions),
        }


def _version(value: Any, path: str, problems: list[Problem]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(Problem(path, "must be a non-negative integer or null"))
        return None
    return value


def _enum(kind: type[enum.StrEnum], value: Any, path: str, problems: list[Problem]) -> Any:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        problems.append(Problem(path, f"must be one of {names}"))
        return None


def _parse_change(raw: Any, path: str, problems: list[Problem]) -> ApplyChange | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, "must be a JSON object"))
        return None
    before = len(problems)
    problems.extend(Problem(f"{path}.{name}", "unknown field") for name in raw if name not in _CHANGE_FIELDS)
    resource = _enum(ResourceKind, raw.get("resource"), f"{path}.resource", problems)
    action = _enum(ApplyAction, raw.get("action"), f"{path}.action", problems)
    key = raw.get("key")
    problems.extend(check_key(key, f"{path}.key"))
    environment = raw.get("environment")
    expected = _version(raw.get("expected_version"), f"{path}.expected_version", problems)
    body = raw.get("body")
    if resource is not None and resource not in ALLOWED_ACTIONS:
        problems.append(Problem(f"{path}.resource", f"a batch cannot change {resource.value}s"))
    elif resource is not None and action is not None and action not in ALLOWED_ACTIONS[resource]:
        allowed = ", ".join(sorted(a.value for a in ALLOWED_ACTIONS[resource]))
        problems.append(Problem(f"{path}.action", f"{resource.value}: only {allowed}"))
    if resource in _PER_ENVIRONMENT:
        problems.extend(check_key(environment, f"{path}.environment"))
    elif environment is not None:
        problems.append(Problem(f"{path}.environment", "only targeting and segments have an environment"))
    if action is ApplyAction.DELETE and body is not None:
        problems.append(Problem(f"{path}.body", "a delete has no body"))
    elif action is not None and action is not ApplyAction.DELETE and not isinstance(body, Mapping):
        problems.append(Problem(f"{path}.body", "must be a JSON object"))
    if action is ApplyAction.CREATE and expected is not None:
        problems.append(Problem(f"{path}.expected_version", "a create expects no resource: must be null"))
    if len(problems) > before:
        return None
    return ApplyChange(
        resource=resource,
        action=action,
        key=str(key),
        environment=str(environment) if resource in _PER_ENVIRONMENT else None,
        body=dict(body) if isinstance(body, Mapping) else None,
        expected_version=expected,
    )


def parse_changes(raw: Any, path: str = "changes") -> list[ApplyChange]:
    """The wire format (a JSON array of change objects) as `ApplyChange`s; `ValidationFailed` with paths."""
    if not isinstance(raw, list):
        raise_if([Problem(path, "must be an array of changes")])
    problems: list[Problem] = []
    changes: list[ApplyChange] = []
    seen: dict[tuple[ResourceKind, str | None, str], int] = {}
    for index, item in enumerate(raw):
        change = _parse_change(item, f"{path}[{index}]", problems)
        if change is None:
            continue
        if change.identity in seen:
            problems.append(
                Problem(
                    f"{path}[{index}]",
                    f"{change.label} is already changed by {path}[{seen[change.identity]}]",
                )
            )
            continue
        seen[change.identity] = index
        changes.append(change)
    raise_if(problems)
    return changes


def parse_snapshot_versions(raw: Any, path: str = "snapshot_versions") -> dict[str, int]:
    """`{environment: snapshot version}` preconditions (absent or null: none)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise_if([Problem(path, "must be an object of environment keys to snapshot versions")])
    problems: list[Problem] = []
    out: dict[str, int] = {}
    for name, value in raw.items():
        problems.extend(check_key(name, f"{path}.{name}"))
        version = _version(value, f"{path}.{name}", problems)
        if version is None and value is None:
            problems.append(Problem(f"{path}.{name}", "must be a non-negative integer"))
        if version is not None:
            out[str(name)] = version
    raise_if(problems)
    return out
