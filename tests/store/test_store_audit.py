"""The audit log: written in the same transaction as the change, filtered, paginated newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vexil.service import (
    AuditAction,
    AuditQuery,
    Forbidden,
    KeyKind,
    Principal,
    ResourceKind,
    Role,
    Service,
    Store,
    ValidationFailed,
)


def test_every_change_is_audited_with_actor_before_after_and_comment(
    service: Service, admin: Principal, shop: str
) -> None:
    service.patch_targeting(admin, shop, "checkout", "production", {"on": True}, comment="launch day")
    entry = service.query_audit(admin, AuditQuery(limit=1)).entries[0]
    assert (entry.actor, entry.project, entry.environment) == ("tester", "shop", "production")
    assert (entry.kind, entry.resource, entry.action) == (
        ResourceKind.TARGETING,
        "checkout",
        AuditAction.UPDATE,
    )
    assert entry.before is not None and entry.after is not None
    assert (entry.before["on"], entry.after["on"], entry.comment) == (False, True, "launch day")
    kinds = [e.kind for e in service.query_audit(admin, AuditQuery(project="shop")).entries]
    assert kinds == [ResourceKind.TARGETING, ResourceKind.FLAG, ResourceKind.FLAG, ResourceKind.PROJECT]


def test_a_failing_change_leaves_no_audit_entry_and_no_partial_write(
    service: Service, admin: Principal, shop: str
) -> None:
    before_audit = service.query_audit(admin, AuditQuery(limit=500)).entries
    before_snapshot = service.get_snapshot(admin, shop, "production")
    with pytest.raises(ValidationFailed):
        service.patch_targeting(admin, shop, "checkout", "production", {"off_variation": 9})
    with pytest.raises(ValidationFailed):
        service.create_flag(admin, shop, {"key": "broken", "variations": []})
    assert service.query_audit(admin, AuditQuery(limit=500)).entries == before_audit
    assert service.get_snapshot(admin, shop, "production") == before_snapshot
    assert [f.key for f in service.list_flags(admin, shop)] == ["checkout", "theme"]


def test_an_error_after_the_audit_write_rolls_both_back(
    service: Service, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force a failure late in the transaction: the audit row written earlier must vanish with it."""

    class BoomError(Exception):
        pass

    original = service._audit

    def audit_then_fail(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise BoomError

    monkeypatch.setattr(service, "_audit", audit_then_fail)
    with pytest.raises(BoomError):
        service.create_project(admin, {"key": "doomed"})
    monkeypatch.undo()
    assert service.query_audit(admin, AuditQuery()).entries == ()
    assert service.list_projects(admin) == []


def test_filters_time_range_and_pagination(store: Store, admin: Principal) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    service = Service(store, clock=lambda: now[0])
    service.create_project(admin, {"key": "a"})
    service.create_project(admin, {"key": "b"})
    for day in range(1, 6):
        now[0] = datetime(2026, 1, 1 + day, tzinfo=UTC)
        service.create_flag(admin, "a", {"key": f"f{day}", "variations": [False, True]})
        service.patch_targeting(admin, "a", f"f{day}", "production", {"on": True})
        service.create_flag(admin, "b", {"key": f"g{day}", "variations": [1, 2]})
    everything = service.query_audit(admin, AuditQuery(limit=500)).entries
    assert len(everything) == 2 + 15
    assert [e.id for e in everything] == sorted((e.id for e in everything), reverse=True)
    only_a = service.query_audit(admin, AuditQuery(project="a", limit=500)).entries
    assert {e.project for e in only_a} == {"a"} and len(only_a) == 11
    flag = service.query_audit(admin, AuditQuery(project="a", flag="f3")).entries
    assert [(e.kind, e.action) for e in flag] == [
        (ResourceKind.TARGETING, AuditAction.UPDATE),
        (ResourceKind.FLAG, AuditAction.CREATE),
    ]
    prod = service.query_audit(admin, AuditQuery(environment="production", limit=500)).entries
    assert len(prod) == 5 and all(e.kind is ResourceKind.TARGETING for e in prod)
    window = AuditQuery(
        since=datetime(2026, 1, 3, tzinfo=UTC), until=datetime(2026, 1, 5, tzinfo=UTC), limit=500
    )
    days = {e.time.date().day for e in service.query_audit(admin, window).entries}
    assert days == {3, 4}
    # Pages of 4 walk through everything exactly once, newest first.
    seen, cursor = [], None
    while True:
        page = service.query_audit(admin, AuditQuery(limit=4, cursor=cursor))
        seen += [e.id for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [e.id for e in everything]
    assert everything[0].time - everything[-1].time == timedelta(days=5)


def test_audit_scoping_and_bad_queries(service: Service, admin: Principal, shop: str) -> None:
    service.create_project(admin, {"key": "other"})
    scoped = Principal(name="r", kind=KeyKind.ADMIN, role=Role.READER, projects=frozenset({"shop"}))
    assert {e.project for e in service.query_audit(scoped, AuditQuery(limit=500)).entries} == {"shop"}
    with pytest.raises(Forbidden):
        service.query_audit(scoped, AuditQuery(project="other"))
    sdk = Principal(name="s", kind=KeyKind.SERVER, project="shop", environment="production", environment_id=1)
    with pytest.raises(Forbidden):
        service.query_audit(sdk, AuditQuery())
    with pytest.raises(ValidationFailed) as bad:
        service.query_audit(admin, AuditQuery(limit=0, cursor="x"))
    assert {p.path for p in bad.value.problems} == {"limit", "cursor"}
    with pytest.raises(ValidationFailed):
        service.query_audit(admin, AuditQuery(cursor=str(2**64)))
