"""The bulk apply's batch: changes grouped by resource, their version checks (collected, not stopped at
the first) and their staging onto the in-memory environment documents, which are then validated whole.

Pure in-memory work over what the use case read in its transaction; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vexil.engine import Problem

from ._apply_model import ALLOWED_ACTIONS, ApplyAction, ApplyChange, ApplyConflictItem
from ._base import EnvState
from ._documents import (
    DEFINITION_FIELDS,
    SEGMENT_FIELDS,
    TARGETING_FIELDS,
    clean_body,
    default_targeting,
    raise_if,
)
from ._errors import NotFound, ValidationFailed
from ._flags import _DEFINITION_HINT, _TARGETING_HINT, _validate_all
from ._models import JsonObject, ResourceKind
from ._records import AuditAction

AUDIT_ACTION = {
    ApplyAction.CREATE: AuditAction.CREATE,
    ApplyAction.REPLACE: AuditAction.UPDATE,
    ApplyAction.DELETE: AuditAction.DELETE,
}


@dataclass
class Batch:
    """The changes grouped by resource, keyed the way they are looked up."""

    project: ApplyChange | None = None
    environments: dict[str, ApplyChange] = field(default_factory=dict)
    flags: dict[str, ApplyChange] = field(default_factory=dict)
    targeting: dict[tuple[str, str], ApplyChange] = field(default_factory=dict)  # (flag, environment)
    segments: dict[tuple[str, str], ApplyChange] = field(default_factory=dict)  # (environment, segment)
    index: dict[tuple[ResourceKind, str | None, str], int] = field(default_factory=dict)

    @classmethod
    def of(cls, changes: Sequence[ApplyChange]) -> Batch:
        """Group `changes`; `ValidationFailed` for a resource changed twice or an action it does not allow
        (what `parse_changes` already refuses, checked again for callers that build changes in code)."""
        batch = cls()
        problems: list[Problem] = []
        for i, change in enumerate(changes):
            if change.identity in batch.index:
                problems.append(Problem(f"changes[{i}]", f"{change.label} is changed twice"))
            if change.action not in ALLOWED_ACTIONS.get(change.resource, ()):
                problems.append(
                    Problem(f"changes[{i}].action", f"cannot {change.action.value} a {change.resource.value}")
                )
            batch.index[change.identity] = i
            env = change.environment or ""
            if change.resource is ResourceKind.PROJECT:
                batch.project = change
            elif change.resource is ResourceKind.ENVIRONMENT:
                batch.environments[change.key] = change
            elif change.resource is ResourceKind.FLAG:
                batch.flags[change.key] = change
            elif change.resource is ResourceKind.TARGETING:
                batch.targeting[(change.key, env)] = change
            else:
                batch.segments[(env, change.key)] = change
        raise_if(problems)
        return batch

    def creates(self, resource: ResourceKind, key: str) -> bool:
        found = {
            ResourceKind.ENVIRONMENT: self.environments.get(key),
            ResourceKind.FLAG: self.flags.get(key),
        }.get(resource)
        return found is not None and found.action is ApplyAction.CREATE


@dataclass
class Checks:
    """Collects version conflicts of a batch instead of stopping at the first."""

    batch: Batch
    conflicts: list[ApplyConflictItem] = field(default_factory=list)

    def version(self, change: ApplyChange, current: int | None, *, pending: bool = False) -> None:
        """`current` is the stored version (None: absent); `pending` means the batch itself creates it."""
        if change.action is ApplyAction.CREATE:
            if current is not None:
                self._add(change, current, f"{change.label} already exists (version {current})")
            return
        if current is None and not pending:
            if change.expected_version is None:
                raise NotFound(change.resource.value, _where(change))
            self._add(
                change,
                None,
                f"{change.label}: planned against version {change.expected_version}, but it no longer exists",
            )
        elif change.expected_version is not None and change.expected_version != current:
            shown = "it is created by this batch" if current is None else f"now at version {current}"
            self._add(
                change, current, f"{change.label}: planned against version {change.expected_version}, {shown}"
            )

    def _add(self, change: ApplyChange, current: int | None, message: str) -> None:
        self.conflicts.append(
            ApplyConflictItem(
                index=self.batch.index[change.identity],
                resource=change.resource,
                key=change.key,
                environment=change.environment,
                field="version",
                expected_version=change.expected_version,
                current_version=current,
                message=message,
            )
        )


def _where(change: ApplyChange) -> str:
    return f"{change.environment}/{change.key}" if change.environment else change.key


def _clean(
    change: ApplyChange, fields: frozenset[str], prefix: str, hint: Mapping[str, str] | None
) -> JsonObject:
    return clean_body(change.body, fields, key=change.key, prefix=prefix, hint=hint)


def stage(batch: Batch, states: Mapping[str, EnvState]) -> tuple[dict[str, JsonObject], list[Problem]]:
    """Apply the batch to the in-memory environment documents. Returns the cleaned flag definitions, and
    every problem found on the way and in the resulting documents (validated as a whole, like every
    single-resource write)."""
    problems: list[Problem] = []
    definitions: dict[str, JsonObject] = {}
    every = list(states.values())
    for key, change in sorted(batch.flags.items()):
        if change.action is ApplyAction.DELETE:
            for state in every:
                state.definitions.pop(key, None)
                state.targeting.pop(key, None)
            continue
        try:
            definition = _clean(change, DEFINITION_FIELDS, f"flags.{key}.", _TARGETING_HINT)
        except ValidationFailed as exc:
            problems += exc.problems
            continue
        definitions[key] = definition
        for state in every:
            state.definitions[key] = definition
            if change.action is ApplyAction.CREATE:
                state.targeting[key] = default_targeting(definition.get("variations"))
    for (flag, env_key), change in sorted(batch.targeting.items()):
        state = states[env_key]
        if flag not in state.definitions:
            problems.append(Problem(f"flags.{flag}", f"no such flag (targeting in environment {env_key})"))
            continue
        try:
            state.targeting[flag] = _clean(change, TARGETING_FIELDS, f"flags.{flag}.", _DEFINITION_HINT)
        except ValidationFailed as exc:
            problems += [Problem(p.path, f"{p.message} (in environment {env_key})") for p in exc.problems]
    for (env_key, key), change in sorted(batch.segments.items()):
        state = states[env_key]
        if change.action is ApplyAction.DELETE:
            state.segments.pop(key, None)
            continue
        try:
            state.segments[key] = _clean(change, SEGMENT_FIELDS, f"segments.{key}.", None)
        except ValidationFailed as exc:
            problems += [Problem(p.path, f"{p.message} (in environment {env_key})") for p in exc.problems]
    if problems:
        return definitions, problems
    if not every:  # a project without environments: still check the definitions on their own
        alone = EnvState(None, definitions={**definitions})
        alone.targeting = {key: default_targeting(d.get("variations")) for key, d in definitions.items()}
        every = [alone]
    return definitions, _validate_all(every)
