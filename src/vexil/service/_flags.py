"""Use cases for flags: the per-project definition and the per-environment targeting.

Every change validates each affected environment's whole document before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vexil.engine import Problem

from ._access import Principal
from ._base import EnvState, ServiceBase
from ._documents import (
    DEFINITION_FIELDS,
    TARGETING_FIELDS,
    body_version,
    clean_body,
    default_targeting,
    flag_item,
    new_key,
    raise_if,
    validate,
)
from ._errors import AlreadyExists, NotFound
from ._merge_patch import merge_patch
from ._models import FlagDefinition, FlagTargeting, ItemKind, JsonObject, Project, ResourceKind
from ._ports import Tx
from ._records import AuditAction

_TARGETING_HINT = {name: "set it per environment, on the flag's targeting" for name in TARGETING_FIELDS}
_DEFINITION_HINT = {
    name: "part of the flag definition, shared by all environments" for name in DEFINITION_FIELDS
}


def _validate_all(states: list[EnvState]) -> list[Problem]:
    """Validate several environments; a problem found in all of them is reported once, without a suffix."""
    if len(states) <= 1:
        return validate(states[0].document()) if states else []
    found = [validate(state.document()) for state in states]
    common = set.intersection(*(set(problems) for problems in found))
    problems = [p for p in found[0] if p in common]
    for state, env_problems in zip(states, found, strict=True):
        problems += [
            Problem(p.path, f"{p.message} (in environment {state.label})")
            for p in env_problems
            if p not in common
        ]
    return problems


class FlagUseCases(ServiceBase):
    # -- definitions
    def list_flags(self, actor: Principal, project: str) -> list[FlagDefinition]:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return tx.list_flags(self._project(tx, project).id)

    def get_flag(self, actor: Principal, project: str, flag: str) -> FlagDefinition:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return self._flag(tx, self._project(tx, project), flag)

    def create_flag(
        self, actor: Principal, project: str, body: Mapping[str, Any], *, comment: str | None = None
    ) -> FlagDefinition:
        """Create a flag; it starts off in every environment with the default targeting."""
        self._need_write(actor, project)
        key = new_key(body)
        definition = clean_body(
            body, DEFINITION_FIELDS, key=key, prefix=f"flags.{key}.", hint=_TARGETING_HINT
        )
        targeting = default_targeting(definition.get("variations"))
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            if tx.get_flag(owner.id, key) is not None:
                raise AlreadyExists("flag", f"{project}/{key}")
            states = self._states(tx, owner)
            for state in states:
                state.definitions[key] = definition
                state.targeting[key] = targeting
            raise_if(_validate_all(states or [EnvState(None, {key: definition}, {key: targeting})]))
            created = tx.insert_flag(owner.id, key, definition, now)
            for env in tx.list_environments(owner.id):
                version = tx.bump_snapshot_version(env.id)
                tx.insert_targeting(created.id, env.id, targeting, version, now)
                item = flag_item(key, definition, targeting, version)
                self._publish(tx, env.id, version, [(ItemKind.FLAG, key, item)])
            self._audit_flag(
                tx,
                actor,
                created,
                AuditAction.CREATE,
                before=None,
                after=created.to_dict(),
                comment=comment,
                now=now,
            )
        return created

    def replace_flag(
        self,
        actor: Principal,
        project: str,
        flag: str,
        body: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> FlagDefinition:
        return self._update_flag(
            actor,
            project,
            flag,
            body=body,
            patch=None,
            expected=body_version(body, expected_version),
            comment=comment,
        )

    def patch_flag(
        self,
        actor: Principal,
        project: str,
        flag: str,
        patch: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> FlagDefinition:
        return self._update_flag(
            actor,
            project,
            flag,
            body=None,
            patch=patch,
            expected=body_version(patch, expected_version),
            comment=comment,
        )

    def _update_flag(
        self,
        actor: Principal,
        project: str,
        key: str,
        *,
        body: Mapping[str, Any] | None,
        patch: Mapping[str, Any] | None,
        expected: int | None,
        comment: str | None,
    ) -> FlagDefinition:
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            current = self._flag(tx, owner, key)
            self._check_version("flag", f"{project}/{key}", current.version, expected)
            if patch is not None:
                if not isinstance(patch, Mapping):
                    raise_if([Problem("", "a merge patch must be a JSON object")])
                body = merge_patch(current.body, patch)
            definition = clean_body(
                body, DEFINITION_FIELDS, key=key, prefix=f"flags.{key}.", hint=_TARGETING_HINT
            )
            states = self._states(tx, owner)
            for state in states:
                state.definitions[key] = definition
            alone = EnvState(None, {key: definition}, {key: default_targeting(definition.get("variations"))})
            raise_if(_validate_all(states or [alone]))
            updated = tx.update_flag(current.id, definition, now)
            for env in tx.list_environments(owner.id):
                version = tx.bump_snapshot_version(env.id)
                tx.set_targeting_item_version(current.id, env.id, version)
                found = tx.get_targeting(current.id, env.id)
                item = flag_item(key, definition, found.body if found else {}, version)
                self._publish(tx, env.id, version, [(ItemKind.FLAG, key, item)])
            self._audit_flag(
                tx,
                actor,
                updated,
                AuditAction.UPDATE,
                before=current.to_dict(),
                after=updated.to_dict(),
                comment=comment,
                now=now,
            )
        return updated

    def delete_flag(
        self,
        actor: Principal,
        project: str,
        flag: str,
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Delete a flag everywhere; refused (ValidationFailed) while a flag names it as a prerequisite."""
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            current = self._flag(tx, owner, flag)
            self._check_version("flag", f"{project}/{flag}", current.version, expected_version)
            states = self._states(tx, owner)
            for state in states:
                state.definitions.pop(flag, None)
                state.targeting.pop(flag, None)
            raise_if(_validate_all(states))
            tx.delete_flag(current.id)
            for env in tx.list_environments(owner.id):
                version = tx.bump_snapshot_version(env.id)
                self._publish(tx, env.id, version, [(ItemKind.FLAG, flag, None)])
            self._audit_flag(
                tx,
                actor,
                current,
                AuditAction.DELETE,
                before=current.to_dict(),
                after=None,
                comment=comment,
                now=now,
            )

    def _states(self, tx: Tx, project: Project) -> list[EnvState]:
        return [self._env_state(tx, project, env) for env in tx.list_environments(project.id)]

    def _audit_flag(
        self,
        tx: Tx,
        actor: Principal,
        flag: FlagDefinition,
        action: AuditAction,
        *,
        before: JsonObject | None,
        after: JsonObject | None,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._audit(
            tx,
            actor,
            project=flag.project,
            kind=ResourceKind.FLAG,
            resource=flag.key,
            action=action,
            before=before,
            after=after,
            comment=comment,
            now=now,
        )

    # -- targeting
    def list_flag_targeting(self, actor: Principal, project: str, flag: str) -> list[FlagTargeting]:
        """The flag's targeting in each environment of the project."""
        self._need_read(actor, project)
        with self._store.read() as tx:
            found = self._flag(tx, self._project(tx, project), flag)
            return tx.list_targeting(flag_id=found.id)

    def get_targeting(self, actor: Principal, project: str, flag: str, environment: str) -> FlagTargeting:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return self._targeting(tx, self._project(tx, project), flag, environment)

    def replace_targeting(
        self,
        actor: Principal,
        project: str,
        flag: str,
        environment: str,
        body: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> FlagTargeting:
        expected = body_version(body, expected_version)
        return self._update_targeting(
            actor, project, flag, environment, body=body, patch=None, expected=expected, comment=comment
        )

    def patch_targeting(
        self,
        actor: Principal,
        project: str,
        flag: str,
        environment: str,
        patch: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> FlagTargeting:
        """Merge-patch the targeting; the kill switch is `patch_targeting(..., {"on": False})`."""
        expected = body_version(patch, expected_version)
        return self._update_targeting(
            actor, project, flag, environment, body=None, patch=patch, expected=expected, comment=comment
        )

    def _targeting(self, tx: Tx, project: Project, flag: str, environment: str) -> FlagTargeting:
        definition = self._flag(tx, project, flag)
        env = self._environment(tx, project, environment)
        targeting = tx.get_targeting(definition.id, env.id)
        if targeting is None:
            raise NotFound("targeting", f"{project.key}/{flag}/{environment}")
        return targeting

    def _update_targeting(
        self,
        actor: Principal,
        project: str,
        flag: str,
        environment: str,
        *,
        body: Mapping[str, Any] | None,
        patch: Mapping[str, Any] | None,
        expected: int | None,
        comment: str | None,
    ) -> FlagTargeting:
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            current = self._targeting(tx, owner, flag, environment)
            self._check_version("targeting", f"{project}/{flag}/{environment}", current.version, expected)
            if patch is not None:
                if not isinstance(patch, Mapping):
                    raise_if([Problem("", "a merge patch must be a JSON object")])
                body = merge_patch(current.body, patch)
            targeting = clean_body(
                body, TARGETING_FIELDS, key=flag, prefix=f"flags.{flag}.", hint=_DEFINITION_HINT
            )
            state = self._env_state(tx, owner, self._environment(tx, owner, environment))
            state.targeting[flag] = targeting
            raise_if(validate(state.document()))
            version = tx.bump_snapshot_version(current.environment_id)
            updated = tx.update_targeting(current.flag_id, current.environment_id, targeting, version, now)
            item = flag_item(flag, state.definitions[flag], targeting, version)
            self._publish(tx, current.environment_id, version, [(ItemKind.FLAG, flag, item)])
            self._audit(
                tx,
                actor,
                project=project,
                environment=environment,
                kind=ResourceKind.TARGETING,
                resource=flag,
                action=AuditAction.UPDATE,
                before=current.to_dict(),
                after=updated.to_dict(),
                comment=comment,
                now=now,
            )
        return updated
