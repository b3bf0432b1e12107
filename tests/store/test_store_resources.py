"""CRUD, versions, optimistic concurrency, merge patch and validation of every resource, on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from vexil.engine import Snapshot
from vexil.service import (
    AlreadyExists,
    Conflict,
    Forbidden,
    KeyKind,
    NotFound,
    Principal,
    Role,
    Service,
    ValidationFailed,
    default_targeting,
)


def test_a_new_project_has_development_and_production(service: Service, admin: Principal) -> None:
    project = service.create_project(admin, {"key": "web", "name": "Web shop", "description": "the shop"})
    assert (project.key, project.name, project.description, project.version) == (
        "web",
        "Web shop",
        "the shop",
        1,
    )
    envs = {e.key: e for e in service.list_environments(admin, "web")}
    assert sorted(envs) == ["development", "production"]
    assert envs["production"].critical and not envs["development"].critical
    assert [p.key for p in service.list_projects(admin)] == ["web"]
    assert service.get_project(admin, "web") == project


def test_project_update_patch_delete_and_versions(service: Service, admin: Principal) -> None:
    service.create_project(admin, {"key": "web", "name": "Web"})
    replaced = service.replace_project(admin, "web", {"name": "Web 2"}, expected_version=1)
    assert (replaced.name, replaced.description, replaced.version) == ("Web 2", "", 2)
    patched = service.patch_project(admin, "web", {"description": "new"})
    assert (patched.name, patched.description, patched.version) == ("Web 2", "new", 3)
    with pytest.raises(Conflict) as stale:
        service.patch_project(admin, "web", {"name": "late"}, expected_version=2)
    assert stale.value.current_version == 3
    assert service.get_project(admin, "web").name == "Web 2"
    # A `version` in the body acts as the expected version.
    with pytest.raises(Conflict):
        service.replace_project(admin, "web", {"name": "x", "version": 1})
    service.delete_project(admin, "web", expected_version=3)
    with pytest.raises(NotFound):
        service.get_project(admin, "web")


def test_duplicates_unknowns_and_bad_keys(service: Service, admin: Principal, shop: str) -> None:
    with pytest.raises(AlreadyExists):
        service.create_project(admin, {"key": "shop"})
    with pytest.raises(AlreadyExists):
        service.create_flag(admin, shop, {"key": "checkout", "variations": [1]})
    with pytest.raises(AlreadyExists):
        service.create_environment(admin, shop, {"key": "production"})
    with pytest.raises(NotFound):
        service.get_flag(admin, shop, "nope")
    with pytest.raises(NotFound):
        service.get_targeting(admin, shop, "checkout", "staging")
    with pytest.raises(ValidationFailed) as bad:
        service.create_project(admin, {"key": "bad key!", "colour": "red"})
    assert {p.path for p in bad.value.problems} == {"colour"}
    with pytest.raises(ValidationFailed) as bad_key:
        service.create_project(admin, {"key": "bad key!"})
    assert [p.path for p in bad_key.value.problems] == ["key"]


def test_new_flags_start_off_everywhere_with_sensible_defaults(
    service: Service, admin: Principal, shop: str
) -> None:
    for env in ("development", "production"):
        targeting = service.get_targeting(admin, shop, "checkout", env)
        assert targeting.body == {"on": False, "off_variation": 0, "fallthrough": {"variation": 1}}
        assert targeting.version == 1
    assert default_targeting([True, False]) == {
        "on": False,
        "off_variation": 1,
        "fallthrough": {"variation": 0},
    }
    assert default_targeting(["a", "b", "c"]) == {
        "on": False,
        "off_variation": 0,
        "fallthrough": {"variation": 0},
    }
    snapshot = Snapshot.from_document(service.get_snapshot(admin, shop, "production").document)
    assert snapshot.evaluate("checkout", {"key": "u1"}).value is False


def test_targeting_replace_patch_kill_switch_and_conflict(
    service: Service, admin: Principal, shop: str
) -> None:
    rule = {"clauses": [{"attribute": "country", "op": "in", "values": ["NZ"]}], "serve": {"variation": 1}}
    body = {"on": True, "rules": [rule], "fallthrough": {"variation": 0}, "off_variation": 0}
    replaced = service.replace_targeting(admin, shop, "checkout", "production", body, expected_version=1)
    assert replaced.version == 2 and replaced.on
    killed = service.patch_targeting(admin, shop, "checkout", "production", {"on": False})
    assert killed.version == 3 and not killed.on and killed.body["rules"] == [rule]
    with pytest.raises(Conflict) as stale:
        service.patch_targeting(admin, shop, "checkout", "production", {"on": True}, expected_version=2)
    assert stale.value.current_version == 3
    # Merge patch: null removes a member, objects merge.
    patched = service.patch_targeting(admin, shop, "checkout", "production", {"rules": None, "on": True})
    assert "rules" not in patched.body and patched.on
    # The other environment is untouched.
    assert service.get_targeting(admin, shop, "checkout", "development").version == 1
    doc = service.get_snapshot(admin, shop, "production").document
    assert Snapshot.from_document(doc).evaluate("checkout", {"key": "u"}).value is False  # fallthrough 0


def test_validation_failures_carry_paths_and_change_nothing(
    service: Service, admin: Principal, shop: str
) -> None:
    before = service.get_snapshot(admin, shop, "production")
    bad_rule = {"clauses": [{"attribute": "x", "op": "equals", "values": [1]}], "serve": {"variation": 7}}
    with pytest.raises(ValidationFailed) as failed:
        service.patch_targeting(admin, shop, "checkout", "production", {"rules": [bad_rule]})
    assert {p.path for p in failed.value.problems} == {
        "flags.checkout.rules[0].clauses[0].op",
        "flags.checkout.rules[0].serve.variation",
    }
    with pytest.raises(ValidationFailed) as misplaced:
        service.patch_flag(admin, shop, "checkout", {"on": True})
    assert [p.path for p in misplaced.value.problems] == ["flags.checkout.on"]
    assert "per environment" in misplaced.value.problems[0].message
    after = service.get_snapshot(admin, shop, "production")
    assert after.version == before.version and after.document == before.document


def test_definition_changes_are_checked_against_every_environment(
    service: Service, admin: Principal, shop: str
) -> None:
    service.patch_targeting(admin, shop, "theme", "production", {"fallthrough": {"variation": 1}})
    with pytest.raises(ValidationFailed) as failed:
        service.patch_flag(admin, shop, "theme", {"variations": ["light"]})
    messages = [str(p) for p in failed.value.problems]
    assert any(
        "flags.theme.fallthrough.variation" in m and "(in environment production)" in m for m in messages
    )
    assert not any("(in environment development)" in m for m in messages)
    updated = service.patch_flag(
        admin, shop, "theme", {"variations": ["light", "dark", "sepia"], "owner": "ux"}
    )
    assert updated.version == 2 and updated.variations == ["light", "dark", "sepia"]
    assert service.get_snapshot(admin, shop, "development").document["flags"]["theme"]["owner"] == "ux"


def test_segments_crud_and_cross_references(service: Service, admin: Principal, shop: str) -> None:
    seg = service.create_segment(admin, shop, "production", {"key": "beta", "included": ["u1"]})
    assert (seg.key, seg.version, seg.body) == ("beta", 1, {"included": ["u1"]})
    rule = {
        "clauses": [{"op": "segment_match", "values": ["beta"], "attribute": "key"}],
        "serve": {"variation": 1},
    }
    service.patch_targeting(admin, shop, "checkout", "production", {"on": True, "rules": [rule]})
    doc = service.get_snapshot(admin, shop, "production").document
    assert Snapshot.from_document(doc).evaluate("checkout", {"key": "u1"}).value is True
    # The segment exists only in production.
    with pytest.raises(ValidationFailed) as missing:
        service.patch_targeting(admin, shop, "checkout", "development", {"rules": [rule]})
    assert [p.path for p in missing.value.problems] == ["flags.checkout.rules[0].clauses[0].values[0]"]
    with pytest.raises(ValidationFailed):
        service.delete_segment(admin, shop, "production", "beta")
    patched = service.patch_segment(
        admin, shop, "production", "beta", {"excluded": ["u9"]}, expected_version=1
    )
    assert patched.version == 2 and patched.body == {"included": ["u1"], "excluded": ["u9"]}
    with pytest.raises(Conflict):
        service.replace_segment(admin, shop, "production", "beta", {"included": []}, expected_version=1)
    service.patch_targeting(admin, shop, "checkout", "production", {"rules": None})
    service.delete_segment(admin, shop, "production", "beta")
    assert service.list_segments(admin, shop, "production") == []


def test_prerequisites_block_deleting_the_required_flag(
    service: Service, admin: Principal, shop: str
) -> None:
    service.patch_targeting(
        admin, shop, "theme", "production", {"prerequisites": [{"flag": "checkout", "variation": 1}]}
    )
    with pytest.raises(ValidationFailed) as failed:
        service.delete_flag(admin, shop, "checkout")
    assert failed.value.problems[0].path.startswith("flags.theme.prerequisites[0]")
    service.delete_flag(admin, shop, "theme")
    service.delete_flag(admin, shop, "checkout", expected_version=1)
    assert service.list_flags(admin, shop) == []
    assert service.get_snapshot(admin, shop, "production").document == {"flags": {}, "segments": {}}


def test_environments_crud_seed_targeting_and_cascade(service: Service, admin: Principal, shop: str) -> None:
    staging = service.create_environment(admin, shop, {"key": "staging", "name": "Staging"})
    assert (staging.version, staging.critical) == (1, False)
    assert {t.environment for t in service.list_flag_targeting(admin, shop, "checkout")} == {
        "development",
        "production",
        "staging",
    }
    patched = service.patch_environment(admin, shop, "staging", {"critical": True}, expected_version=1)
    assert patched.critical and patched.version == 2
    with pytest.raises(ValidationFailed) as bad:
        service.patch_environment(admin, shop, "staging", {"critical": "yes"})
    assert [p.path for p in bad.value.problems] == ["critical"]
    writer = Principal(name="w", kind=KeyKind.ADMIN, role=Role.WRITER)
    with pytest.raises(Forbidden):
        service.delete_environment(writer, shop, "staging")
    service.delete_environment(admin, shop, "staging")
    assert [e.key for e in service.list_environments(admin, shop)] == ["development", "production"]


def test_snapshot_documents_merge_definition_and_targeting(
    service: Service, admin: Principal, shop: str
) -> None:
    snap = service.get_snapshot(admin, shop, "production")
    theme = snap.document["flags"]["theme"]
    assert theme["key"] == "theme" and theme["variations"] == ["light", "dark"] and theme["on"] is False
    assert theme["version"] <= snap.version
    client = service.get_snapshot(admin, shop, "production", client_side_only=True)
    assert sorted(client.document["flags"]) == ["theme"]
    Snapshot.from_document(snap.document)  # the engine accepts what we serve


def test_concurrent_writers_with_the_same_version_one_wins(
    service: Service, admin: Principal, shop: str
) -> None:
    """Optimistic concurrency under real concurrency: never a silent overwrite, one winner per version."""
    outcomes: list[str] = []

    def attempt(number: int) -> None:
        try:
            service.patch_targeting(
                admin,
                shop,
                "checkout",
                "production",
                {"on": True, "off_variation": number % 2},
                expected_version=1,
            )
            outcomes.append("won")
        except Conflict as conflict:
            outcomes.append(f"conflict at {conflict.current_version}")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(attempt, range(6)))
    assert sorted(outcomes) == ["conflict at 2"] * 5 + ["won"]
    assert service.get_targeting(admin, shop, "checkout", "production").version == 2
