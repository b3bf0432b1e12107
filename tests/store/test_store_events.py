"""Events ingestion: evaluation counts per flag, environment, day and variation; last evaluation; custom."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from vexil.service import (
    CustomEvent,
    EvaluationSummary,
    Forbidden,
    Principal,
    Service,
    Store,
    ValidationFailed,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _summary(flag: str, variation: int | None, count: int, end: datetime) -> EvaluationSummary:
    return EvaluationSummary(flag, variation, 3, count, end - timedelta(seconds=30), end)


def test_counts_by_day_and_variation_with_last_evaluated(store: Store, admin: Principal) -> None:
    service = Service(store, clock=lambda: NOW)
    service.create_project(admin, {"key": "shop"})
    service.create_flag(admin, "shop", {"key": "checkout", "variations": [False, True]})
    key = service.create_key(
        admin, {"name": "s", "kind": "server", "project": "shop", "environment": "production"}
    )
    sdk = service.authorize(key.secret.reveal())
    day1, day2 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC), datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    service.record_events(sdk, [_summary("checkout", 1, 10, day1), _summary("checkout", 0, 5, day1)])
    service.record_events(
        sdk,
        [
            _summary("checkout", 1, 7, day2),
            _summary("checkout", None, 2, day2),
            _summary("theme", 0, 1, day1),
        ],
        [CustomEvent("purchase", day2, value=20.5), CustomEvent("purchase", day2, value=4.5, count=2)],
    )
    # A clock running ahead is capped at the server's now.
    service.record_events(sdk, [_summary("theme", 1, 1, NOW + timedelta(days=3))])
    usage = {u.flag: u for u in service.flag_usage(admin, "shop")}
    checkout = usage["checkout"]
    assert (checkout.environment, checkout.total, checkout.last_evaluated) == ("production", 24, day2)
    assert [(d.day, d.variation, d.count) for d in checkout.days] == [
        (date(2026, 3, 1), 0, 5),
        (date(2026, 3, 1), 1, 10),
        (date(2026, 3, 2), None, 2),
        (date(2026, 3, 2), 1, 7),
    ]
    assert usage["theme"].last_evaluated == NOW
    only_day2 = service.flag_usage(admin, "shop", flag="checkout", since=date(2026, 3, 2))
    assert [u.total for u in only_day2] == [9]
    assert service.flag_usage(admin, "shop", environment="development") == []
    (purchases,) = service.event_counts(admin, "shop", key="purchase")
    assert (purchases.environment, purchases.day, purchases.count, purchases.value_sum) == (
        "production",
        date(2026, 3, 2),
        3,
        25.0,
    )
    assert checkout.to_dict()["days"][0] == {"day": "2026-03-01", "variation": 0, "count": 5}


def test_only_sdk_keys_record_and_bad_summaries_are_rejected(
    service: Service, admin: Principal, shop: str
) -> None:
    with pytest.raises(Forbidden):
        service.record_events(admin, [_summary("checkout", 1, 1, NOW)])
    key = service.create_key(
        admin, {"name": "c", "kind": "client", "project": shop, "environment": "development"}
    )
    sdk = service.authorize(key.secret.reveal())
    with pytest.raises(ValidationFailed) as bad:
        service.record_events(
            sdk,
            [_summary("checkout", 1, -1, NOW), _summary("bad key", 0, 1, NOW), _summary("x", 2**64, 1, NOW)],
        )
    assert [p.path for p in bad.value.problems] == ["evaluations[0]", "evaluations[1].flag", "evaluations[2]"]
    assert service.flag_usage(admin, shop) == []
    service.record_events(sdk, [_summary("checkout", 1, 4, NOW)])
    assert [(u.environment, u.total) for u in service.flag_usage(admin, shop)] == [("development", 4)]
