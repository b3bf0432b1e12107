"""The bulk apply's writer: puts a staged, validated batch into the store (rows, one audit entry per
resource, the change-feed items of each environment under its one new snapshot version).

Runs inside the use case's transaction; it checks nothing (the batch was checked and validated before).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ._access import Principal
from ._apply_batch import AUDIT_ACTION, Batch
from ._apply_model import AppliedChange, ApplyAction
from ._base import EnvState, ServiceBase
from ._documents import flag_item, segment_item
from ._models import Environment, FlagDefinition, ItemKind, JsonObject, Project, ResourceKind, Segment
from ._ports import Tx
from ._records import AuditAction


class Writer:
    """Writes a staged, validated batch: rows, audit entries and the change-feed items per environment."""

    def __init__(
        self,
        service: ServiceBase,
        tx: Tx,
        actor: Principal,
        owner: Project,
        environments: Mapping[str, Environment],
        states: Mapping[str, EnvState],
        definitions: Mapping[str, JsonObject],
        versions: Mapping[str, int],
        comment: str | None,
        now: datetime,
    ) -> None:
        self._service, self._tx, self._actor, self._owner = service, tx, actor, owner
        self._environments, self._states, self._versions = environments, states, versions
        self._comment, self._now = comment, now
        self._items: dict[str, dict[tuple[ItemKind, str], JsonObject | None]] = {k: {} for k in versions}
        self._definitions = definitions

    def _audit(
        self,
        kind: ResourceKind,
        resource: str,
        action: AuditAction,
        before: JsonObject | None,
        after: JsonObject | None,
        environment: str | None = None,
    ) -> None:
        self._service._audit(
            self._tx,
            self._actor,
            project=self._owner.key,
            environment=environment,
            kind=kind,
            resource=resource,
            action=action,
            before=before,
            after=after,
            comment=self._comment,
            now=self._now,
        )

    def flags(self, batch: Batch, current: Mapping[str, FlagDefinition]) -> list[AppliedChange]:
        tx, applied = self._tx, []
        ids = {key: flag.id for key, flag in current.items()}
        for key, change in sorted(batch.flags.items()):
            before = current.get(key)
            version: int | None = None
            if change.action is ApplyAction.DELETE:
                assert before is not None  # checked
                tx.delete_flag(before.id)
                self._audit(ResourceKind.FLAG, key, AuditAction.DELETE, before.to_dict(), None)
            else:
                definition = self._definitions[key]
                if before is None:
                    written = tx.insert_flag(self._owner.id, key, definition, self._now)
                    ids[key] = written.id
                    for env_key, env in self._environments.items():
                        body = self._states[env_key].targeting[key]
                        tx.insert_targeting(written.id, env.id, body, self._versions[env_key], self._now)
                else:
                    written = tx.update_flag(before.id, definition, self._now)
                    for env_key, env in self._environments.items():
                        tx.set_targeting_item_version(before.id, env.id, self._versions[env_key])
                old = before.to_dict() if before is not None else None
                self._audit(ResourceKind.FLAG, key, AUDIT_ACTION[change.action], old, written.to_dict())
                version = written.version
            for env_key in self._versions:
                self._items[env_key][(ItemKind.FLAG, key)] = self._flag_item(env_key, key)
            applied.append(AppliedChange(change.resource, change.action, key, None, version))
        for (key, env_key), change in sorted(batch.targeting.items()):
            env, body = self._environments[env_key], self._states[env_key].targeting[key]
            previous = tx.get_targeting(ids[key], env.id)
            assert previous is not None  # every flag has targeting in every environment
            if key in batch.flags and batch.flags[key].action is ApplyAction.CREATE:
                new, shown = previous, None  # inserted above with this very body
            else:
                new = tx.update_targeting(ids[key], env.id, body, self._versions[env_key], self._now)
                shown = previous.to_dict()
            self._audit(ResourceKind.TARGETING, key, AuditAction.UPDATE, shown, new.to_dict(), env_key)
            self._items[env_key][(ItemKind.FLAG, key)] = self._flag_item(env_key, key)
            applied.append(AppliedChange(change.resource, change.action, key, env_key, new.version))
        return applied

    def segments(self, batch: Batch) -> list[AppliedChange]:
        tx, applied = self._tx, []
        for (env_key, key), change in sorted(batch.segments.items()):
            env, version = self._environments[env_key], self._versions[env_key]
            before = tx.get_segment(env.id, key)
            after: Segment | None = None
            if change.action is ApplyAction.DELETE:
                assert before is not None  # checked
                tx.delete_segment(before.id)
                self._items[env_key][(ItemKind.SEGMENT, key)] = None
            else:
                body = self._states[env_key].segments[key]
                if before is None:
                    after = tx.insert_segment(env.id, key, body, version, self._now)
                else:
                    after = tx.update_segment(before.id, body, version, self._now)
                self._items[env_key][(ItemKind.SEGMENT, key)] = segment_item(key, body, version)
            self._audit(
                ResourceKind.SEGMENT,
                key,
                AUDIT_ACTION[change.action],
                before.to_dict() if before else None,
                after.to_dict() if after else None,
                env_key,
            )
            new_version = after.version if after is not None else None
            applied.append(AppliedChange(change.resource, change.action, key, env_key, new_version))
        return applied

    def publish(self, batch: Batch) -> None:
        for env_key, items in self._items.items():
            listed = [(kind, key, item) for (kind, key), item in sorted(items.items())]
            if listed:
                self._service._publish(
                    self._tx, self._environments[env_key].id, self._versions[env_key], listed
                )

    def _flag_item(self, env_key: str, key: str) -> JsonObject | None:
        state = self._states[env_key]
        if key not in state.definitions:
            return None
        return flag_item(key, state.definitions[key], state.targeting[key], self._versions[env_key])
