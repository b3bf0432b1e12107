"""Use cases for API keys: create (secret returned once), list, revoke, and `authorize(secret)`.

Only SHA-256 hashes reach the store; secrets are never logged, audited or kept.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from vexil.engine import Problem

from ._access import KEY_PREFIXES, ApiKey, CreatedKey, KeyKind, Principal, Role, hash_secret, new_secret
from ._base import ServiceBase
from ._documents import READ_ONLY_FIELDS, raise_if, unstorable
from ._errors import NotFound, Unauthorized, ValidationFailed
from ._models import ResourceKind
from ._ports import Tx
from ._records import AuditAction

_KEY_FIELDS = frozenset({"name", "kind", "role", "projects", "project", "environment"})
_MAX_SECRET_LENGTH = 200
#: Ids are 64-bit in both databases; larger numbers cannot name a key (and would overflow SQLite).
_MAX_ID = 2**63 - 1


def _parse_key_body(body: Any) -> tuple[str, KeyKind, Role | None, list[str] | None, str | None, str | None]:
    if not isinstance(body, Mapping):
        raise ValidationFailed([Problem("", "must be a JSON object")])
    problems = [
        Problem(name, "unknown field")
        for name in body
        if name not in _KEY_FIELDS and name not in READ_ONLY_FIELDS and name not in ("id", "prefix")
    ]
    problems += unstorable({k: v for k, v in body.items() if k in _KEY_FIELDS}, "")
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        problems.append(Problem("name", "must be a non-empty string of at most 200 characters"))
    try:
        kind = KeyKind(str(body.get("kind")))
    except ValueError:
        raise ValidationFailed(
            [*problems, Problem("kind", 'must be "admin", "server" or "client"')]
        ) from None
    role: Role | None = None
    projects: list[str] | None = None
    project, environment = body.get("project"), body.get("environment")
    if kind is KeyKind.ADMIN:
        raw_role = body.get("role")
        # Absent or null means the default; anything else ("" included) must name a role.
        if raw_role is None:
            role = Role.READER
        elif isinstance(raw_role, str) and raw_role in {r.value for r in Role}:
            role = Role(raw_role)
        else:
            problems.append(Problem("role", 'must be "reader", "writer" or "admin" (or absent for reader)'))
        raw = body.get("projects")
        if raw is not None:
            if not isinstance(raw, list) or not raw:
                problems.append(
                    Problem("projects", "must be a non-empty list of project keys, or null for all")
                )
            else:
                problems += [
                    Problem(f"projects[{i}]", "must be a string")
                    for i, p in enumerate(raw)
                    if not isinstance(p, str)
                ]
                projects = sorted({p for p in raw if isinstance(p, str)})
        problems += [
            Problem(f, "only for server and client keys")
            for f in ("project", "environment")
            if f in body and body[f] is not None
        ]
    else:
        for field, value in (("project", project), ("environment", environment)):
            if not isinstance(value, str) or not value:
                problems.append(Problem(field, f"{kind.value} keys need a {field} key"))
        problems += [
            Problem(f, "only for admin keys")
            for f in ("role", "projects")
            if f in body and body[f] is not None
        ]
    raise_if(problems)
    assert isinstance(name, str)
    return (
        name,
        kind,
        role,
        projects,
        project if kind is not KeyKind.ADMIN else None,
        environment if kind is not KeyKind.ADMIN else None,
    )


class KeyUseCases(ServiceBase):
    def create_key(
        self, actor: Principal, body: Mapping[str, Any], *, comment: str | None = None
    ) -> CreatedKey:
        """Create a key; the result carries the secret, which is not stored and cannot be shown again."""
        name, kind, role, projects, project, environment = _parse_key_body(body)
        if kind is KeyKind.ADMIN:
            if projects is None:
                self._need(actor.can_admin(None), actor, "create keys for all projects")
            for scoped in projects or ():
                self._need(actor.can_admin(scoped), actor, f"create keys for project {scoped!r}")
        else:
            assert project is not None
            self._need(actor.can_admin(project), actor, f"create keys for project {project!r}")
        secret = new_secret(kind)
        now = self._now()
        with self._store.write() as tx:
            environment_id = None
            if kind is KeyKind.ADMIN:
                missing = [p for p in projects or () if tx.get_project(p) is None]
                raise_if([Problem("projects", f"no project {p!r}") for p in missing])
            else:
                assert project is not None and environment is not None
                owner = self._project(tx, project)
                environment_id = self._environment(tx, owner, environment).id
            key = tx.insert_key(
                name=name,
                kind=kind,
                role=role,
                projects=projects,
                environment_id=environment_id,
                prefix=secret.reveal()[: len(KEY_PREFIXES[kind]) + 4],
                secret_hash=hash_secret(secret.reveal()),
                created_by=actor.name,
                now=now,
            )
            self._audit_key(
                tx, actor, key, AuditAction.CREATE, before=None, after=key, comment=comment, now=now
            )
        return CreatedKey(key=key, secret=secret)

    def list_keys(self, actor: Principal) -> list[ApiKey]:
        """Keys the actor administers (all of them for an unscoped admin), revoked ones included."""
        self._need(actor.role is Role.ADMIN and actor.kind is KeyKind.ADMIN, actor, "manage keys")
        with self._store.read() as tx:
            return [k for k in tx.list_keys() if self._administers(actor, k)]

    def get_key(self, actor: Principal, key_id: int) -> ApiKey:
        self._need(actor.role is Role.ADMIN and actor.kind is KeyKind.ADMIN, actor, "manage keys")
        with self._store.read() as tx:
            return self._key(tx, actor, key_id)

    def revoke_key(self, actor: Principal, key_id: int, *, comment: str | None = None) -> ApiKey:
        """Revoke a key (idempotent: revoking a revoked key changes nothing and writes no audit entry)."""
        self._need(actor.role is Role.ADMIN and actor.kind is KeyKind.ADMIN, actor, "manage keys")
        now = self._now()
        with self._store.write() as tx:
            current = self._key(tx, actor, key_id)
            if current.revoked:
                return current
            revoked = tx.revoke_key(key_id, now)
            self._audit_key(
                tx,
                actor,
                revoked,
                AuditAction.REVOKE,
                before=current,
                after=revoked,
                comment=comment,
                now=now,
            )
        return revoked

    def authorize(self, secret: str) -> Principal:
        """The principal of a live key; `Unauthorized` for anything else (unknown, malformed, revoked)."""
        if (
            not isinstance(secret, str)
            or len(secret) > _MAX_SECRET_LENGTH
            or not secret.startswith(tuple(KEY_PREFIXES.values()))
        ):
            raise Unauthorized()
        digest = hash_secret(secret)
        with self._store.read() as tx:
            found = tx.find_key_by_hash(digest)
        if found is None:
            raise Unauthorized()
        key, stored = found
        if not hmac.compare_digest(stored, digest) or key.revoked:
            raise Unauthorized()
        return Principal(
            name=key.name,
            kind=key.kind,
            key_id=key.id,
            role=key.role,
            projects=frozenset(key.projects) if key.projects is not None else None,
            project=key.project,
            environment=key.environment,
            environment_id=key.environment_id,
        )

    def inactive_keys(self, key_ids: Iterable[int]) -> frozenset[int]:
        """Which of these keys are revoked or gone (deleted with their environment). No permission check:
        for the HTTP layer, which only passes ids of principals it authorized, to end their streams."""
        wanted = sorted(set(key_ids))
        if not wanted:
            return frozenset()
        with self._store.read() as tx:
            found = {k: tx.get_key(k) if 0 < k <= _MAX_ID else None for k in wanted}
        return frozenset(k for k, key in found.items() if key is None or key.revoked)

    def _key(self, tx: Tx, actor: Principal, key_id: int) -> ApiKey:
        key = tx.get_key(key_id) if 0 < key_id <= _MAX_ID else None
        # A key outside the actor's scope is reported missing, so scoped admins cannot probe ids.
        if key is None or not self._administers(actor, key):
            raise NotFound("key", str(key_id))
        return key

    @staticmethod
    def _administers(actor: Principal, key: ApiKey) -> bool:
        if key.kind is KeyKind.ADMIN:
            if key.projects is None:
                return actor.can_admin(None)
            return all(actor.can_admin(p) for p in key.projects)
        return actor.can_admin(key.project)

    def _audit_key(
        self,
        tx: Tx,
        actor: Principal,
        key: ApiKey,
        action: AuditAction,
        *,
        before: ApiKey | None,
        after: ApiKey | None,
        comment: str | None,
        now: datetime,
    ) -> None:
        self._audit(
            tx,
            actor,
            project=key.project,
            environment=key.environment,
            kind=ResourceKind.KEY,
            resource=str(key.id),
            action=action,
            before=before.to_dict() if before else None,
            after=after.to_dict() if after else None,
            comment=comment,
            now=now,
        )
