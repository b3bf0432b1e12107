"""API keys, their secrets and the `Principal` a secret authorizes, with the permission checks.

Secrets live only in `Secret` (masked in repr/str) between creation and the caller; never stored or logged.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from ._models import JsonObject, iso


class KeyKind(enum.StrEnum):
    ADMIN = "admin"
    SERVER = "server"
    CLIENT = "client"


class Role(enum.StrEnum):
    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


KEY_PREFIXES: dict[KeyKind, str] = {KeyKind.ADMIN: "vxa_", KeyKind.SERVER: "vxs_", KeyKind.CLIENT: "vxc_"}
_RANK = {Role.READER: 1, Role.WRITER: 2, Role.ADMIN: 3}


class Secret:
    """A key's secret; `reveal()` is the only way to read it, so it cannot leak through repr or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{self._value[:4]}…')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and secrets.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(self._value)


def new_secret(kind: KeyKind) -> Secret:
    return Secret(KEY_PREFIXES[kind] + secrets.token_urlsafe(32))


def hash_secret(secret: str) -> str:
    """SHA-256 is enough: the secrets are 256-bit random, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key without its secret; `prefix` (kind prefix + 4 characters) tells keys apart."""

    id: int
    name: str
    kind: KeyKind
    role: Role | None
    projects: tuple[str, ...] | None
    project: str | None
    environment: str | None
    environment_id: int | None
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> JsonObject:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "role": self.role.value if self.role else None,
            "projects": list(self.projects) if self.projects is not None else None,
            "project": self.project,
            "environment": self.environment,
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """What key creation returns: the stored key and, this once, its secret."""

    key: ApiKey
    secret: Secret

    def to_dict(self) -> JsonObject:
        """The creation response: the key's fields plus `key`, the secret in clear (send once, never log)."""
        return {**self.key.to_dict(), "key": self.secret.reveal()}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: admin keys have a role and a project scope (None = all); SDK keys one environment."""

    name: str
    kind: KeyKind
    key_id: int | None = None
    role: Role | None = None
    projects: frozenset[str] | None = None
    project: str | None = None
    environment: str | None = None
    environment_id: int | None = None

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """An unscoped admin for bootstrap, the CLI and tests; it has no key."""
        return cls(name=name, kind=KeyKind.ADMIN, role=Role.ADMIN)

    def _has(self, role: Role, project: str | None) -> bool:
        if self.kind is not KeyKind.ADMIN or self.role is None or _RANK[self.role] < _RANK[role]:
            return False
        return self.projects is None or (project is not None and project in self.projects)

    def can_read(self, project: str) -> bool:
        return self._has(Role.READER, project)

    def can_write(self, project: str) -> bool:
        return self._has(Role.WRITER, project)

    def can_admin(self, project: str | None = None) -> bool:
        """Manage keys; `None` asks for every project (unscoped), as creating unscoped keys needs."""
        return self._has(Role.ADMIN, project)

    def can_create_projects(self) -> bool:
        """Writers (or admins) scoped to all projects."""
        return self.projects is None and self._has(Role.WRITER, None)

    @property
    def unscoped(self) -> bool:
        return self.kind is KeyKind.ADMIN and self.projects is None

    def can_read_environment(self, project: str, environment: str) -> bool:
        """SDK keys read their one environment's snapshot; admin readers read any they can read."""
        if self.kind is KeyKind.ADMIN:
            return self.can_read(project)
        return self.project == project and self.environment == environment
