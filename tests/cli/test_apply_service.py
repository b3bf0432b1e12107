"""The bulk apply use case (`Service.apply_changes`) on both backends: one transaction, all or nothing,
version and snapshot preconditions, whole-document validation, audit entries and change-feed items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import open_store

from vexil.service import (
    ApplyAction,
    ApplyChange,
    ApplyConflict,
    AuditQuery,
    Change,
    Forbidden,
    KeyKind,
    NotFound,
    Principal,
    ResourceKind,
    Role,
    Service,
    Store,
    ValidationFailed,
    parse_changes,
    parse_snapshot_versions,
)

BOOL = [False, True]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with open_store(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
def service(store: Store) -> Service:
    built = Service(store)
    built.ensure_default()
    return built


@pytest.fixture
def admin() -> Principal:
    return Principal.system("tester")


def _changes(*raw: dict[str, Any]) -> Any:
    return parse_changes(list(raw))


def _flag(
    key: str, body: dict[str, Any], action: str = "create", version: int | None = None
) -> dict[str, Any]:
    return {"resource": "flag", "action": action, "key": key, "body": body, "expected_version": version}


def _targeting(key: str, env: str, body: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    return {
        "resource": "targeting",
        "action": "replace",
        "key": key,
        "environment": env,
        "body": body,
        "expected_version": version,
    }


def _audit_count(service: Service, admin: Principal) -> int:
    return len(service.query_audit(admin, AuditQuery(limit=500)).entries)


def test_a_batch_applies_everything_with_one_snapshot_version_per_environment(
    service: Service, admin: Principal
) -> None:
    heard: list[Change] = []
    unsubscribe = service.subscribe(heard.append)
    before = {e.key: e.snapshot_version for e in service.list_environments(admin, "default")}
    audit_before = _audit_count(service, admin)
    result = service.apply_changes(
        admin,
        "default",
        _changes(
            _flag("checkout", {"variations": BOOL, "description": "new flow"}),
            _flag("theme", {"variations": ["light", "dark"]}),
            _targeting(
                "checkout", "production", {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}}
            ),
            {
                "resource": "segment",
                "action": "create",
                "key": "beta",
                "environment": "production",
                "body": {"included": ["u1"]},
            },
            {
                "resource": "environment",
                "action": "create",
                "key": "staging",
                "body": {"name": "Staging", "critical": False},
            },
            _targeting("theme", "staging", {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}}),
        ),
        comment="batch",
    )
    unsubscribe()
    after = {e.key: e.snapshot_version for e in service.list_environments(admin, "default")}
    assert after["production"] == before["production"] + 1
    assert after["development"] == before["development"] + 1
    assert result.snapshot_versions == after
    production = service.get_snapshot(admin, "default", "production").document
    assert production["flags"]["checkout"]["on"] is True
    assert production["flags"]["theme"]["on"] is False  # default targeting where the batch says nothing
    assert production["segments"]["beta"]["included"] == ["u1"]
    staging = service.get_snapshot(admin, "default", "staging").document
    assert staging["flags"]["theme"]["on"] is True and staging["flags"]["checkout"]["on"] is False
    # Every item of one environment carries that environment's one new snapshot version.
    prod_id = service.get_environment(admin, "default", "production").id
    prod_changes = [c for c in heard if c.environment_id == prod_id]
    assert {(c.kind.value, c.key) for c in prod_changes} == {
        ("flag", "checkout"),
        ("flag", "theme"),
        ("segment", "beta"),
    }
    assert {c.snapshot_version for c in prod_changes} == {after["production"]}
    # One audit entry per resource, all with the batch's comment.
    entries = service.query_audit(admin, AuditQuery(limit=500)).entries[
        : _audit_count(service, admin) - audit_before
    ]
    assert sorted((e.kind.value, e.resource, e.environment or "") for e in entries) == [
        ("environment", "staging", "staging"),
        ("flag", "checkout", ""),
        ("flag", "theme", ""),
        ("segment", "beta", "production"),
        ("targeting", "checkout", "production"),
        ("targeting", "theme", "staging"),
    ]
    assert {e.comment for e in entries} == {"batch"}
    applied = {(c.resource.value, c.action.value, c.key, c.environment): c.version for c in result.applied}
    assert applied[("flag", "create", "checkout", None)] == 1
    assert (
        applied[("targeting", "replace", "checkout", "production")] == 1
    )  # written once, with the final body


def test_a_stale_version_applies_nothing_and_lists_every_conflict(service: Service, admin: Principal) -> None:
    service.create_flag(admin, "default", {"key": "a", "variations": BOOL})
    service.create_flag(admin, "default", {"key": "b", "variations": BOOL})
    service.patch_flag(admin, "default", "b", {"description": "changed meanwhile"})  # b: version 2
    snapshot = service.get_environment(admin, "default", "production").snapshot_version
    audit_before = _audit_count(service, admin)
    with pytest.raises(ApplyConflict) as caught:
        service.apply_changes(
            admin,
            "default",
            _changes(
                _flag("a", {"variations": BOOL, "description": "fine"}, "replace", 1),
                _flag("b", {"variations": BOOL, "description": "stale"}, "replace", 1),
                _flag("c", {"variations": BOOL}),
                _flag("a2", {"variations": BOOL}, "delete", 3) | {"body": None},
            ),
        )
    conflicts = {(c.key, c.expected_version, c.current_version) for c in caught.value.conflicts}
    assert conflicts == {("b", 1, 2), ("a2", 3, None)}
    assert service.get_flag(admin, "default", "a").body.get("description") is None  # nothing applied
    assert [f.key for f in service.list_flags(admin, "default")] == ["a", "b"]
    assert service.get_environment(admin, "default", "production").snapshot_version == snapshot
    assert _audit_count(service, admin) == audit_before


def test_a_snapshot_precondition_catches_changes_to_untouched_resources(
    service: Service, admin: Principal
) -> None:
    service.create_flag(admin, "default", {"key": "a", "variations": BOOL})
    service.create_flag(admin, "default", {"key": "other", "variations": BOOL})
    planned = service.get_environment(admin, "default", "production").snapshot_version
    service.patch_targeting(admin, "default", "other", "production", {"on": True})  # not in the batch
    batch = _changes(_flag("a", {"variations": BOOL, "description": "x"}, "replace", 1))
    with pytest.raises(ApplyConflict) as caught:
        service.apply_changes(admin, "default", batch, snapshot_versions={"production": planned})
    (conflict,) = caught.value.conflicts
    assert (conflict.field, conflict.key, conflict.expected_version) == (
        "snapshot_version",
        "production",
        planned,
    )
    assert "flag other" in conflict.message
    assert service.get_flag(admin, "default", "a").version == 1
    current = service.get_environment(admin, "default", "production").snapshot_version
    service.apply_changes(admin, "default", batch, snapshot_versions={"production": current})
    assert service.get_flag(admin, "default", "a").body["description"] == "x"


def test_creating_what_exists_is_a_conflict(service: Service, admin: Principal) -> None:
    service.create_flag(admin, "default", {"key": "a", "variations": BOOL})
    with pytest.raises(ApplyConflict) as caught:
        service.apply_changes(admin, "default", _changes(_flag("a", {"variations": BOOL})))
    assert caught.value.conflicts[0].current_version == 1
    assert "already exists" in caught.value.message


def test_the_whole_documents_are_validated_after_all_changes(service: Service, admin: Principal) -> None:
    service.create_flag(admin, "default", {"key": "base", "variations": BOOL})
    audit_before = _audit_count(service, admin)
    # Valid only together: a segment and the rule that uses it, in one batch.
    service.apply_changes(
        admin,
        "default",
        _changes(
            {
                "resource": "segment",
                "action": "create",
                "key": "beta",
                "environment": "production",
                "body": {"included": ["u1"]},
            },
            _targeting(
                "base",
                "production",
                {
                    "on": True,
                    "off_variation": 0,
                    "rules": [
                        {"clauses": [{"op": "segment_match", "values": ["beta"]}], "serve": {"variation": 1}}
                    ],
                    "fallthrough": {"variation": 0},
                },
            ),
        ),
    )
    assert _audit_count(service, admin) == audit_before + 2
    # Deleting the segment while the rule stays: refused with the path, nothing applied.
    with pytest.raises(ValidationFailed) as caught:
        service.apply_changes(
            admin,
            "default",
            _changes(
                _flag("extra", {"variations": BOOL}),
                {
                    "resource": "segment",
                    "action": "delete",
                    "key": "beta",
                    "environment": "production",
                    "expected_version": 1,
                },
            ),
        )
    assert any(p.path.startswith("flags.base.rules[0]") for p in caught.value.problems), caught.value.problems
    assert [f.key for f in service.list_flags(admin, "default")] == ["base"]
    # Bodies are checked too, with document paths and the environment.
    with pytest.raises(ValidationFailed) as caught:
        service.apply_changes(
            admin,
            "default",
            _changes(
                _flag("x", {"variations": BOOL, "on": True}),
                _targeting("base", "development", {"on": True, "fallthrough": {"variation": 7}}),
            ),
        )
    paths = {p.path for p in caught.value.problems}
    assert "flags.x.on" in paths


def test_projects_are_created_in_the_batch_with_their_default_environments(
    service: Service, admin: Principal
) -> None:
    result = service.apply_changes(
        admin,
        "shop",
        _changes(
            {"resource": "project", "action": "create", "key": "shop", "body": {"name": "Shop"}},
            {
                "resource": "environment",
                "action": "replace",
                "key": "development",
                "body": {"name": "Dev", "critical": False},
                "expected_version": 1,
            },
            _flag("checkout", {"variations": BOOL}),
        ),
    )
    assert service.get_project(admin, "shop").name == "Shop"
    assert [e.key for e in service.list_environments(admin, "shop")] == ["development", "production"]
    assert service.get_environment(admin, "shop", "development").name == "Dev"
    assert len(result.applied) == 2
    with pytest.raises(NotFound):
        service.apply_changes(admin, "nowhere", _changes(_flag("x", {"variations": BOOL})))


def test_permissions_and_wire_format_errors(service: Service, admin: Principal) -> None:
    reader = service.create_key(admin, {"name": "r", "kind": "admin", "role": "reader"})
    who = service.authorize(reader.secret.reveal())
    assert who.kind is KeyKind.ADMIN and who.role is Role.READER
    with pytest.raises(Forbidden):
        service.apply_changes(who, "default", _changes(_flag("x", {"variations": BOOL})))
    with pytest.raises(ValidationFailed) as caught:
        parse_changes(
            [
                {"resource": "flag", "action": "explode", "key": "x"},
                {"resource": "targeting", "action": "delete", "key": "x"},
                {
                    "resource": "flag",
                    "action": "create",
                    "key": "bad key!",
                    "body": {},
                    "expected_version": 2,
                },
                _flag("dup", {"variations": BOOL}),
                _flag("dup", {"variations": BOOL}, "replace"),
                {"resource": "key", "action": "create", "key": "k", "body": {}},
                {"resource": "segment", "action": "create", "key": "s", "body": {}, "extra": 1},
            ]
        )
    paths = {p.path for p in caught.value.problems}
    assert {
        "changes[0].action",
        "changes[1].action",
        "changes[1].environment",
        "changes[2].key",
        "changes[2].expected_version",
        "changes[4]",
        "changes[5].resource",
        "changes[6].extra",
        "changes[6].environment",
    } <= paths, paths
    # Changes built in code get the same checks as the wire format.
    twice = ApplyChange(ResourceKind.FLAG, ApplyAction.CREATE, "x", body={"variations": BOOL})
    wrong = ApplyChange(ResourceKind.TARGETING, ApplyAction.DELETE, "x", environment="production")
    with pytest.raises(ValidationFailed) as caught:
        service.apply_changes(admin, "default", [twice, twice, wrong])
    assert [p.path for p in caught.value.problems] == ["changes[1]", "changes[2].action"]
    with pytest.raises(ValidationFailed):
        parse_snapshot_versions({"production": -1})
    assert parse_snapshot_versions(None) == {}
