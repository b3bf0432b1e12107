"""API keys: secrets shown once and stored only hashed, authorize, revoke, roles and project scopes."""

from __future__ import annotations

import hashlib

import pytest
from store_support import Backend

from vexil.service import (
    Forbidden,
    KeyKind,
    NotFound,
    Principal,
    Role,
    Service,
    Unauthorized,
    ValidationFailed,
)


def test_secrets_are_returned_once_and_stored_only_as_hashes(
    backend: Backend, service: Service, admin: Principal, shop: str
) -> None:
    created = service.create_key(
        admin, {"name": "ci", "kind": "admin", "role": "writer", "projects": ["shop"]}
    )
    sdk = service.create_key(
        admin, {"name": "api", "kind": "server", "project": shop, "environment": "production"}
    )
    client = service.create_key(
        admin, {"name": "web", "kind": "client", "project": shop, "environment": "development"}
    )
    secrets = [k.secret.reveal() for k in (created, sdk, client)]
    assert [s[:4] for s in secrets] == ["vxa_", "vxs_", "vxc_"]
    assert all(len(s) >= 4 + 43 for s in secrets)  # 32 random bytes, base64url
    assert created.to_dict()["key"] == secrets[0]
    for key in (created, sdk, client):
        assert key.secret.reveal() not in repr(key) and key.secret.reveal() not in str(key)
    dump = backend.dump()
    for secret in secrets:
        assert secret not in dump and secret[4:] not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump
    assert "key" not in service.get_key(admin, created.key.id).to_dict()


def test_authorize_gives_the_principal_and_revocation_ends_it(
    service: Service, admin: Principal, shop: str
) -> None:
    created = service.create_key(
        admin, {"name": "ci", "kind": "admin", "role": "writer", "projects": ["shop"]}
    )
    principal = service.authorize(created.secret.reveal())
    assert (principal.name, principal.kind, principal.role, principal.projects) == (
        "ci",
        KeyKind.ADMIN,
        Role.WRITER,
        frozenset({"shop"}),
    )
    assert (
        principal.can_write("shop") and not principal.can_write("other") and not principal.can_admin("shop")
    )
    sdk = service.create_key(
        admin, {"name": "api", "kind": "server", "project": shop, "environment": "production"}
    )
    server = service.authorize(sdk.secret.reveal())
    env = service.get_environment(admin, shop, "production")
    assert (server.environment_id, server.project, server.environment) == (env.id, "shop", "production")
    assert not server.can_read("shop") and server.can_read_environment("shop", "production")
    for bad in ("", "vxa_nope", "Bearer x", created.secret.reveal() + "x", "vxa_" + "a" * 500):
        with pytest.raises(Unauthorized):
            service.authorize(bad)
    revoked = service.revoke_key(admin, created.key.id, comment="leaked")
    assert revoked.revoked and service.revoke_key(admin, created.key.id) == revoked
    with pytest.raises(Unauthorized):
        service.authorize(created.secret.reveal())
    assert service.authorize(sdk.secret.reveal()).name == "api"


def test_roles_and_scopes(service: Service, admin: Principal, shop: str) -> None:
    service.create_project(admin, {"key": "other"})
    reader = Principal(name="r", kind=KeyKind.ADMIN, role=Role.READER, projects=frozenset({"shop"}))
    writer = Principal(name="w", kind=KeyKind.ADMIN, role=Role.WRITER)
    scoped_admin = Principal(name="a", kind=KeyKind.ADMIN, role=Role.ADMIN, projects=frozenset({"shop"}))
    assert [p.key for p in service.list_projects(reader)] == ["shop"]
    assert service.get_flag(reader, shop, "checkout").key == "checkout"
    with pytest.raises(Forbidden):
        service.patch_targeting(reader, shop, "checkout", "production", {"on": True})
    with pytest.raises(Forbidden):
        service.get_project(reader, "other")
    assert service.patch_targeting(writer, shop, "checkout", "production", {"on": True}).on
    with pytest.raises(Forbidden):
        service.create_key(writer, {"name": "x", "kind": "admin"})
    with pytest.raises(Forbidden):
        service.delete_project(writer, "other")
    with pytest.raises(Forbidden):
        service.create_project(scoped_admin, {"key": "third"})
    # A scoped admin manages keys of its projects only.
    mine = service.create_key(
        scoped_admin, {"name": "m", "kind": "server", "project": shop, "environment": "production"}
    )
    with pytest.raises(Forbidden):
        service.create_key(scoped_admin, {"name": "x", "kind": "admin", "role": "admin"})
    with pytest.raises(Forbidden):
        service.create_key(
            scoped_admin, {"name": "x", "kind": "server", "project": "other", "environment": "production"}
        )
    theirs = service.create_key(
        admin, {"name": "t", "kind": "server", "project": "other", "environment": "production"}
    )
    assert [k.id for k in service.list_keys(scoped_admin)] == [mine.key.id]
    with pytest.raises(NotFound):
        service.revoke_key(scoped_admin, theirs.key.id)
    for absurd in (0, -1, 2**64):
        with pytest.raises(NotFound):
            service.get_key(admin, absurd)
    sdk = Principal(name="s", kind=KeyKind.SERVER, project=shop, environment="production", environment_id=1)
    with pytest.raises(Forbidden):
        service.list_flags(sdk, shop)


def test_key_bodies_are_validated(service: Service, admin: Principal, shop: str) -> None:
    with pytest.raises(ValidationFailed) as bad:
        service.create_key(admin, {"name": "", "kind": "admin", "role": "boss", "projects": [], "colour": 1})
    assert {p.path for p in bad.value.problems} == {"name", "role", "projects", "colour"}
    with pytest.raises(ValidationFailed) as sdk:
        service.create_key(admin, {"name": "s", "kind": "server", "role": "admin"})
    assert {p.path for p in sdk.value.problems} == {"project", "environment", "role"}
    with pytest.raises(ValidationFailed) as kind:
        service.create_key(admin, {"name": "s", "kind": "root"})
    assert [p.path for p in kind.value.problems] == ["kind"]
    with pytest.raises(ValidationFailed) as missing:
        service.create_key(admin, {"name": "s", "kind": "admin", "projects": ["nope"]})
    assert [p.path for p in missing.value.problems] == ["projects"]
    with pytest.raises(NotFound):
        service.create_key(admin, {"name": "s", "kind": "client", "project": shop, "environment": "staging"})


def test_bootstrap_creates_project_and_first_key_once(service: Service) -> None:
    first = service.ensure_default()
    assert first.project_created and first.admin_secret is not None
    assert "vxa_" in first.admin_secret.reveal() and first.admin_secret.reveal() not in repr(first)
    principal = service.authorize(first.admin_secret.reveal())
    assert principal.unscoped and principal.can_admin()
    assert [p.key for p in service.list_projects(principal)] == ["default"]
    again = service.ensure_default()
    assert not again.project_created and again.admin_secret is None
    created = service.load_demo(principal)
    assert "new-checkout" in created and service.load_demo(principal) == []


def test_deleting_an_environment_removes_its_keys(service: Service, admin: Principal, shop: str) -> None:
    created = service.create_environment(admin, shop, {"key": "qa"})
    key = service.create_key(
        admin, {"name": "qa", "kind": "server", "project": shop, "environment": created.key}
    )
    service.delete_environment(admin, shop, "qa")
    with pytest.raises(Unauthorized):
        service.authorize(key.secret.reveal())
