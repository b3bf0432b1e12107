"""Use cases for projects and their environments (create, read, replace, merge-patch, delete).

Environment creation seeds default targeting for every flag; no flag or segment logic beyond that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vexil.engine import Problem

from ._access import KeyKind, Principal
from ._base import ServiceBase
from ._documents import body_version, check_key, clean_body, default_targeting, raise_if
from ._merge_patch import merge_patch
from ._models import Environment, JsonObject, Project, ResourceKind
from ._ports import Tx
from ._records import AuditAction

#: What a new project starts with: (key, name, critical).
DEFAULT_ENVIRONMENTS = (("development", "Development", False), ("production", "Production", True))


def _text(body: Mapping[str, Any], name: str, default: str, problems: list[Problem], limit: int) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or len(value) > limit:
        problems.append(Problem(name, f"must be a string of at most {limit} characters"))
        return default
    return value


def _project_fields(body: Any, key: str | None) -> tuple[str, str, str]:
    fields = clean_body(body, ("name", "description"), key=key, prefix="")
    problems = [] if key is not None else check_key(body.get("key"))
    the_key = key if key is not None else str(body.get("key"))
    name = _text(fields, "name", the_key, problems, 200)
    description = _text(fields, "description", "", problems, 10_000)
    raise_if(problems)
    return the_key, name, description


def _environment_fields(body: Any, key: str | None) -> tuple[str, str, bool]:
    fields = clean_body(body, ("name", "critical"), key=key, prefix="")
    problems = [] if key is not None else check_key(body.get("key"))
    the_key = key if key is not None else str(body.get("key"))
    name = _text(fields, "name", the_key, problems, 200)
    critical = fields.get("critical", False)
    if not isinstance(critical, bool):
        problems.append(Problem("critical", "must be true or false"))
    raise_if(problems)
    return the_key, name, bool(critical)


class ProjectUseCases(ServiceBase):
    # -- projects
    def list_projects(self, actor: Principal) -> list[Project]:
        """The projects the actor can read, by key; SDK keys read no projects (Forbidden)."""
        self._need(actor.kind is KeyKind.ADMIN and actor.role is not None, actor, "list projects")
        with self._store.read() as tx:
            return [p for p in tx.list_projects() if actor.can_read(p.key)]

    def get_project(self, actor: Principal, project: str) -> Project:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return self._project(tx, project)

    def create_project(
        self, actor: Principal, body: Mapping[str, Any], *, comment: str | None = None
    ) -> Project:
        """Create a project with `development` and `production` (critical); needs an unscoped writer."""
        # Permission first: a key that may not create projects learns nothing from validation problems.
        self._need(actor.can_create_projects(), actor, "create projects")
        key, name, description = _project_fields(body, None)
        now = self._now()
        with self._store.write() as tx:
            project = tx.insert_project(key, name, description, now)
            environments = [
                tx.insert_environment(project.id, env_key, env_name, critical, now)
                for env_key, env_name, critical in DEFAULT_ENVIRONMENTS
            ]
            after = {**project.to_dict(), "environments": [e.key for e in environments]}
            self._audit_project(
                tx, actor, project, AuditAction.CREATE, before=None, after=after, comment=comment, now=now
            )
        return project

    def replace_project(
        self,
        actor: Principal,
        project: str,
        body: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Project:
        return self._update_project(
            actor,
            project,
            body=body,
            patch=None,
            expected=body_version(body, expected_version),
            comment=comment,
        )

    def patch_project(
        self,
        actor: Principal,
        project: str,
        patch: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Project:
        return self._update_project(
            actor,
            project,
            body=None,
            patch=patch,
            expected=body_version(patch, expected_version),
            comment=comment,
        )

    def _update_project(
        self,
        actor: Principal,
        key: str,
        *,
        body: Mapping[str, Any] | None,
        patch: Mapping[str, Any] | None,
        expected: int | None,
        comment: str | None,
    ) -> Project:
        self._need_write(actor, key)
        now = self._now()
        with self._store.write() as tx:
            current = self._project(tx, key, lock=True)
            self._check_version("project", key, current.version, expected)
            if patch is not None:
                body = merge_patch({"name": current.name, "description": current.description}, patch)
            _, name, description = _project_fields(body, key)
            updated = tx.update_project(current.id, name, description, now)
            self._audit_project(
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

    def delete_project(
        self,
        actor: Principal,
        project: str,
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Delete a project and everything in it (environments, flags, segments, SDK keys); needs admin."""
        self._need(actor.can_admin(project), actor, f"delete project {project!r}")
        now = self._now()
        with self._store.write() as tx:
            current = self._project(tx, project, lock=True)
            self._check_version("project", project, current.version, expected_version)
            tx.delete_project(current.id)
            self._audit_project(
                tx,
                actor,
                current,
                AuditAction.DELETE,
                before=current.to_dict(),
                after=None,
                comment=comment,
                now=now,
            )

    def _audit_project(
        self,
        tx: Tx,
        actor: Principal,
        project: Project,
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
            project=project.key,
            kind=ResourceKind.PROJECT,
            resource=project.key,
            action=action,
            before=before,
            after=after,
            comment=comment,
            now=now,
        )

    # -- environments
    def list_environments(self, actor: Principal, project: str) -> list[Environment]:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return tx.list_environments(self._project(tx, project).id)

    def get_environment(self, actor: Principal, project: str, environment: str) -> Environment:
        self._need_read(actor, project)
        with self._store.read() as tx:
            return self._environment(tx, self._project(tx, project), environment)

    def create_environment(
        self, actor: Principal, project: str, body: Mapping[str, Any], *, comment: str | None = None
    ) -> Environment:
        """Create an environment; every existing flag gets its default (off) targeting there."""
        self._need_write(actor, project)
        key, name, critical = _environment_fields(body, None)
        now = self._now()
        with self._store.write() as tx:
            owner = self._project(tx, project, lock=True)
            environment = tx.insert_environment(owner.id, key, name, critical, now)
            for flag in tx.list_flags(owner.id):
                tx.insert_targeting(
                    flag.id, environment.id, default_targeting(flag.body.get("variations")), 0, now
                )
            self._audit_environment(
                tx,
                actor,
                environment,
                AuditAction.CREATE,
                before=None,
                after=environment,
                comment=comment,
                now=now,
            )
        return environment

    def replace_environment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        body: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Environment:
        expected = body_version(body, expected_version)
        return self._update_environment(
            actor, project, environment, body=body, patch=None, expected=expected, comment=comment
        )

    def patch_environment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        patch: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> Environment:
        expected = body_version(patch, expected_version)
        return self._update_environment(
            actor, project, environment, body=None, patch=patch, expected=expected, comment=comment
        )

    def _update_environment(
        self,
        actor: Principal,
        project: str,
        key: str,
        *,
        body: Mapping[str, Any] | None,
        patch: Mapping[str, Any] | None,
        expected: int | None,
        comment: str | None,
    ) -> Environment:
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            current = self._environment(tx, self._project(tx, project, lock=True), key)
            self._check_version("environment", f"{project}/{key}", current.version, expected)
            if patch is not None:
                body = merge_patch({"name": current.name, "critical": current.critical}, patch)
            _, name, critical = _environment_fields(body, key)
            updated = tx.update_environment(current.id, name, critical, now)
            self._audit_environment(
                tx,
                actor,
                updated,
                AuditAction.UPDATE,
                before=current,
                after=updated,
                comment=comment,
                now=now,
            )
        return updated

    def delete_environment(
        self,
        actor: Principal,
        project: str,
        environment: str,
        *,
        expected_version: int | None = None,
        comment: str | None = None,
    ) -> None:
        """Delete an environment with its targeting, segments and SDK keys; critical ones need an admin."""
        self._need_write(actor, project)
        now = self._now()
        with self._store.write() as tx:
            current = self._environment(tx, self._project(tx, project, lock=True), environment)
            if current.critical:
                self._need(actor.can_admin(project), actor, f"delete critical environment {environment!r}")
            self._check_version("environment", f"{project}/{environment}", current.version, expected_version)
            tx.delete_environment(current.id)
            self._audit_environment(
                tx, actor, current, AuditAction.DELETE, before=current, after=None, comment=comment, now=now
            )

    def _audit_environment(
        self,
        tx: Tx,
        actor: Principal,
        environment: Environment,
        action: AuditAction,
        *,
        before: Environment | None,
        after: Environment | None,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._audit(
            tx,
            actor,
            project=environment.project,
            environment=environment.key,
            kind=ResourceKind.ENVIRONMENT,
            resource=environment.key,
            action=action,
            before=before.to_dict() if before else None,
            after=after.to_dict() if after else None,
            comment=comment,
            now=now,
        )
