"""Rules the admin-API tests found missing in the service, on both backends: SDK keys list no projects, key
roles are named exactly, permission comes before validation, unknown flags have no usage, strings the
databases cannot store are validation failures, revocation lookups, ping and `Unavailable` when closed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from store_support import Backend

from vexil.service import (
    AuditQuery,
    Forbidden,
    KeyKind,
    NotFound,
    Principal,
    Role,
    Service,
    Store,
    Unavailable,
    ValidationFailed,
)
from vexil.store import SqliteStore

NUL, LONE_SURROGATE = "a\x00b", "x\ud800y"


def _sdk(service: Service, admin: Principal, kind: str) -> Principal:
    body = {"name": kind, "kind": kind, "project": "shop", "environment": "production"}
    return service.authorize(service.create_key(admin, body).secret.reveal())


def _paths(error: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [p.path for p in error.value.problems]


def test_sdk_keys_list_no_projects(service: Service, admin: Principal, shop: str) -> None:
    for kind in ("server", "client"):
        with pytest.raises(Forbidden):
            service.list_projects(_sdk(service, admin, kind))
    assert [p.key for p in service.list_projects(admin)] == [shop]


@pytest.mark.parametrize("role", ["", "owner", "Admin", 3, True, ["admin"]])
def test_a_key_role_must_name_a_role(service: Service, admin: Principal, role: object) -> None:
    with pytest.raises(ValidationFailed) as error:
        service.create_key(admin, {"name": "k", "kind": "admin", "role": role})
    assert _paths(error) == ["role"]


def test_an_absent_or_null_role_is_reader(service: Service, admin: Principal) -> None:
    absent = service.create_key(admin, {"name": "a", "kind": "admin"})
    null = service.create_key(admin, {"name": "n", "kind": "admin", "role": None})
    assert absent.key.role is null.key.role is Role.READER


def test_creating_a_project_checks_permission_before_the_body(
    service: Service, admin: Principal, shop: str
) -> None:
    invalid = {"key": "not a key!", "name": 7, "surprise": True}
    unscoped_reader = Principal(name="r", kind=KeyKind.ADMIN, role=Role.READER)
    scoped_writer = Principal(name="w", kind=KeyKind.ADMIN, role=Role.WRITER, projects=frozenset({shop}))
    for actor in (unscoped_reader, scoped_writer, _sdk(service, admin, "server")):
        with pytest.raises(Forbidden):
            service.create_project(actor, invalid)
    writer = Principal(name="w", kind=KeyKind.ADMIN, role=Role.WRITER)
    with pytest.raises(ValidationFailed) as error:
        service.create_project(writer, invalid)
    assert _paths(error) == ["surprise"]
    with pytest.raises(ValidationFailed) as error:
        service.create_project(writer, {"key": "not a key!", "name": 7})
    assert set(_paths(error)) == {"key", "name"}
    assert service.create_project(writer, {"key": "new"}).key == "new"


def test_usage_of_an_unknown_flag_is_not_found(service: Service, admin: Principal, shop: str) -> None:
    assert service.flag_usage(admin, shop, flag="checkout") == []  # known, never evaluated
    with pytest.raises(NotFound) as error:
        service.flag_usage(admin, shop, flag="no-such-flag")
    assert error.value.kind == "flag"


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE])
def test_strings_the_databases_cannot_store_are_validation_failures(
    service: Service, admin: Principal, shop: str, bad: str
) -> None:
    audit_before = len(service.query_audit(admin, AuditQuery(limit=500)).entries)
    cases: list[tuple[Callable[[], object], str]] = [
        (
            lambda: service.create_flag(admin, shop, {"key": "f", "variations": [1, 2], "description": bad}),
            "flags.f.description",
        ),
        (
            lambda: service.create_flag(admin, shop, {"key": "g", "variations": [{bad: 1}, {"b": 2}]}),
            f"flags.g.variations[0].{bad}",
        ),
        (
            lambda: service.patch_flag(admin, shop, "checkout", {"tags": ["ok", bad]}),
            "flags.checkout.tags[1]",
        ),
        (
            lambda: service.patch_targeting(
                admin, shop, "checkout", "production", {"targets": [{"variation": 1, "values": [bad]}]}
            ),
            "flags.checkout.targets[0].values[0]",
        ),
        (
            lambda: service.create_segment(admin, shop, "production", {"key": "s", "included": [bad]}),
            "segments.s.included[0]",
        ),
        (lambda: service.patch_project(admin, shop, {"description": bad}), "description"),
        (lambda: service.create_environment(admin, shop, {"key": "qa", "name": bad}), "name"),
        (lambda: service.create_key(admin, {"name": bad, "kind": "admin"}), "name"),
        (lambda: service.create_key(admin, {"name": "k", "kind": "admin", "projects": [bad]}), "projects[0]"),
        (lambda: service.patch_flag(admin, shop, "checkout", {"owner": "me"}, comment=bad), "comment"),
        (lambda: service.query_audit(admin, AuditQuery(flag=bad)), "flag"),
        (lambda: service.event_counts(admin, shop, key=bad), "key"),
    ]
    for call, path in cases:
        with pytest.raises(ValidationFailed) as error:
            call()
        assert path in _paths(error), (path, _paths(error))
    # Nothing was stored, and looking such keys up finds nothing (rather than failing in the database).
    assert len(service.query_audit(admin, AuditQuery(limit=500)).entries) == audit_before
    lookups: list[Callable[[], object]] = [
        lambda: service.get_project(admin, bad),
        lambda: service.get_environment(admin, shop, bad),
        lambda: service.get_flag(admin, shop, bad),
        lambda: service.get_segment(admin, shop, "production", bad),
        lambda: service.flag_usage(admin, shop, flag=bad),
    ]
    for lookup in lookups:
        with pytest.raises(NotFound):
            lookup()


def test_inactive_keys_and_ping(service: Service, store: Store, admin: Principal, shop: str) -> None:
    kept = service.create_key(
        admin, {"name": "kept", "kind": "server", "project": shop, "environment": "production"}
    )
    gone = service.create_key(
        admin, {"name": "gone", "kind": "client", "project": shop, "environment": "production"}
    )
    staged = service.create_key(
        admin, {"name": "staged", "kind": "server", "project": shop, "environment": "development"}
    )
    service.revoke_key(admin, gone.key.id)
    service.delete_environment(admin, shop, "development")  # deletes its keys too
    ids = [kept.key.id, gone.key.id, staged.key.id, 10**6]
    assert service.inactive_keys(ids) == {gone.key.id, staged.key.id, 10**6}
    assert service.inactive_keys([]) == frozenset()
    assert service.ping() is True
    store.close()
    assert service.ping() is False


def test_a_closed_store_is_unavailable(backend: Backend, admin: Principal) -> None:
    store = backend.open()
    service = Service(store)
    service.create_project(admin, {"key": "shop"})
    store.close()
    with pytest.raises(Unavailable):
        service.list_projects(admin)
    with pytest.raises(Unavailable):
        service.create_project(admin, {"key": "more"})


def test_a_locked_sqlite_database_is_unavailable_not_an_error(tmp_path: Path, admin: Principal) -> None:
    path = tmp_path / "vexil.db"
    store = SqliteStore(path, busy_timeout_ms=50)
    try:
        service = Service(store)
        service.create_project(admin, {"key": "shop"})
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
            with pytest.raises(Unavailable):
                service.create_flag(admin, "shop", {"key": "f", "variations": [1, 2]})
            other.execute("ROLLBACK")
        assert service.create_flag(admin, "shop", {"key": "f", "variations": [1, 2]}).key == "f"
    finally:
        store.close()
