"""The bulk apply use case behind flags as code: a batch of creates, replaces and deletes of environments,
flags, targeting and segments, checked against the versions it was planned with and written in ONE
transaction (per-item audit entries, one snapshot-version bump and one change-feed notice per environment).

It reuses the single-resource use cases' building blocks (body cleaning, whole-document validation,
audit, publishing); it never commits part of a batch: any conflict or problem rolls everything back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from vexil.engine import Problem

from ._access import Principal
from ._apply_batch import AUDIT_ACTION, Batch, Checks, stage
from ._apply_model import AppliedChange, ApplyChange, ApplyConflict, ApplyConflictItem, ApplyResult
from ._apply_writer import Writer
from ._base import ServiceBase
from ._documents import default_targeting, raise_if, storable
from ._errors import NotFound, ValidationFailed
from ._models import Environment, FlagDefinition, Project, ResourceKind
from ._ports import Tx
from ._projects import DEFAULT_ENVIRONMENTS, _environment_fields, _project_fields
from ._records import AuditAction


class ApplyUseCases(ServiceBase):
    def apply_changes(
        self,
        actor: Principal,
        project: str,
        changes: Sequence[ApplyChange],
        *,
        snapshot_versions: Mapping[str, int] | None = None,
        comment: str | None = None,
    ) -> ApplyResult:
        """Apply a batch atomically: all of it, or nothing.

        Every change's `expected_version` and every `snapshot_versions[env]` (the environment's snapshot
        version the batch was planned against) must still hold, else `ApplyConflict` lists every mismatch;
        afterwards each affected environment's whole document must validate (`ValidationFailed`).
        """
        self._need_write(actor, project)
        batch = Batch.of(changes)
        now = self._now()
        with self._store.write() as tx:
            owner = self._apply_project(tx, actor, project, batch, comment, now)
            environments = {e.key: e for e in tx.list_environments(owner.id)}
            flags = {f.key: f for f in tx.list_flags(owner.id)}
            self._check(tx, owner, batch, environments, flags, snapshot_versions or {})
            applied = self._apply_environments(tx, actor, owner, batch, environments, comment, now)
            environments = {e.key: e for e in tx.list_environments(owner.id)}
            states = {key: self._env_state(tx, owner, env) for key, env in environments.items()}
            definitions, problems = stage(batch, states)
            raise_if(problems)
            touched = {e for _, e in batch.targeting} | {e for e, _ in batch.segments}
            versions = {
                key: tx.bump_snapshot_version(env.id)
                for key, env in environments.items()
                if batch.flags or key in touched
            }
            written = Writer(
                self, tx, actor, owner, environments, states, definitions, versions, comment, now
            )
            applied += written.flags(batch, flags)
            applied += written.segments(batch)
            written.publish(batch)
        return ApplyResult(tuple(applied), versions)

    # -- the project and the version checks

    def _apply_project(
        self, tx: Tx, actor: Principal, project: str, batch: Batch, comment: str | None, now: datetime
    ) -> Project:
        # A key that could never have been stored names nothing (and must not reach the database).
        found = tx.get_project(project, lock=True) if storable(project) else None
        change = batch.project
        if change is None or change.key != project:
            if change is not None:
                raise_if(
                    [
                        Problem(
                            f"changes[{batch.index[change.identity]}].key", "must be the project in the path"
                        )
                    ]
                )
            if found is None:
                raise NotFound("project", project)
            return found
        if found is not None:
            checks = Checks(batch)
            checks.version(change, found.version)
            raise ApplyConflict(checks.conflicts)
        self._need(actor.unscoped and actor.can_write(project), actor, "create projects")
        _, name, description = _project_fields(change.body or {}, project)
        created = tx.insert_project(project, name, description, now)
        defaults = [tx.insert_environment(created.id, k, n, c, now) for k, n, c in DEFAULT_ENVIRONMENTS]
        self._audit(
            tx,
            actor,
            project=project,
            kind=ResourceKind.PROJECT,
            resource=project,
            action=AuditAction.CREATE,
            before=None,
            after={**created.to_dict(), "environments": [e.key for e in defaults]},
            comment=comment,
            now=now,
        )
        return created

    def _check(
        self,
        tx: Tx,
        owner: Project,
        batch: Batch,
        environments: Mapping[str, Environment],
        flags: Mapping[str, FlagDefinition],
        snapshot_versions: Mapping[str, int],
    ) -> None:
        checks = Checks(batch)
        for env_key, expected in sorted(snapshot_versions.items()):
            env = environments.get(env_key)
            if env is None or env.snapshot_version != expected:
                checks.conflicts.append(_snapshot_conflict(tx, env_key, env, expected))
        for key, change in batch.environments.items():
            found = environments.get(key)
            checks.version(change, found.version if found else None)
        for key, change in batch.flags.items():
            definition = flags.get(key)
            checks.version(change, definition.version if definition else None)
        for (flag, env_key), change in batch.targeting.items():
            definition, env = flags.get(flag), environments.get(env_key)
            pending = (definition is not None or batch.creates(ResourceKind.FLAG, flag)) and (
                env is not None or batch.creates(ResourceKind.ENVIRONMENT, env_key)
            )
            targeting = tx.get_targeting(definition.id, env.id) if definition and env else None
            checks.version(change, targeting.version if targeting else None, pending=pending)
        for (env_key, key), change in batch.segments.items():
            env = environments.get(env_key)
            if env is None and not batch.creates(ResourceKind.ENVIRONMENT, env_key):
                raise NotFound("environment", f"{owner.key}/{env_key}")
            segment = tx.get_segment(env.id, key) if env is not None else None
            checks.version(change, segment.version if segment else None)
        if checks.conflicts:
            raise ApplyConflict(checks.conflicts)

    # -- environments are written first: flags and segments of the batch may live in new ones

    def _apply_environments(
        self,
        tx: Tx,
        actor: Principal,
        owner: Project,
        batch: Batch,
        environments: Mapping[str, Environment],
        comment: str | None,
        now: datetime,
    ) -> list[AppliedChange]:
        applied: list[AppliedChange] = []
        problems: list[Problem] = []
        for key, change in sorted(batch.environments.items()):
            try:
                _, name, critical = _environment_fields(change.body or {}, key)
            except ValidationFailed as exc:
                problems += [
                    Problem(f"environments.{key}.{p.path}".rstrip("."), p.message) for p in exc.problems
                ]
                continue
            before = environments.get(key)
            if before is None:
                env = tx.insert_environment(owner.id, key, name, critical, now)
                for flag in tx.list_flags(owner.id):
                    tx.insert_targeting(
                        flag.id, env.id, default_targeting(flag.body.get("variations")), 0, now
                    )
            else:
                env = tx.update_environment(before.id, name, critical, now)
            self._audit(
                tx,
                actor,
                project=owner.key,
                environment=key,
                kind=ResourceKind.ENVIRONMENT,
                resource=key,
                action=AUDIT_ACTION[change.action],
                before=before.to_dict() if before else None,
                after=env.to_dict(),
                comment=comment,
                now=now,
            )
            applied.append(AppliedChange(change.resource, change.action, key, None, env.version))
        raise_if(problems)
        return applied


def _snapshot_conflict(tx: Tx, key: str, env: Environment | None, expected: int) -> ApplyConflictItem:
    if env is None:
        message = f"environment {key!r} no longer exists"
    else:
        changed = tx.changes_since(env.id, expected) if env.snapshot_version > expected else None
        what = sorted({f"{c.kind.value} {c.key}" for c in changed}) if changed else []
        listed = f": {', '.join(what)}" if what else ""
        message = (
            f"environment {key!r} changed since the plan (snapshot version {expected}, "
            f"now {env.snapshot_version}){listed}"
        )
    return ApplyConflictItem(
        index=None,
        resource=ResourceKind.ENVIRONMENT,
        key=key,
        environment=key,
        field="snapshot_version",
        expected_version=expected,
        current_version=env.snapshot_version if env else None,
        message=message,
    )
