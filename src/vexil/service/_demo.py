"""Demo content for `vexil serve --demo`: a few realistic flags and a segment, written through the use cases.

Data only plus one loader; the loader skips what already exists so it can run on every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._access import Principal

if TYPE_CHECKING:
    from ._service import Service

_BETA = {
    "description": "People who opted into early features",
    "included": ["user-1", "user-2"],
    "rules": [{"id": "opted-in", "clauses": [{"attribute": "beta", "op": "in", "values": [True]}]}],
}
_STAFF_RULE = {
    "id": "staff",
    "description": "Employees see it first",
    "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
    "serve": {"variation": 1},
}

#: (definition, {environment: targeting}) in creation order.
DEMO_FLAGS: list[tuple[dict[str, Any], dict[str, dict[str, Any]]]] = [
    (
        {
            "key": "new-checkout",
            "variations": [False, True],
            "description": "The redesigned checkout flow",
            "tags": ["checkout", "web"],
            "temporary": True,
            "owner": "payments-team",
            "client_side": True,
        },
        {
            "development": {"on": True, "off_variation": 0, "fallthrough": {"variation": 1}},
            "production": {
                "on": True,
                "off_variation": 0,
                "rules": [_STAFF_RULE],
                "fallthrough": {
                    "rollout": {
                        "variations": [{"variation": 0, "weight": 80000}, {"variation": 1, "weight": 20000}]
                    }
                },
            },
        },
    ),
    (
        {
            "key": "search-ranking",
            "variations": ["classic", "semantic", "hybrid"],
            "variation_info": [{"name": "Classic"}, {"name": "Semantic"}, {"name": "Hybrid"}],
            "description": "Which ranking the search service uses",
            "tags": ["search"],
            "owner": "search-team",
        },
        {
            "development": {"on": True, "off_variation": 0, "fallthrough": {"variation": 2}},
            "production": {
                "on": True,
                "off_variation": 0,
                "rules": [
                    {
                        "id": "beta",
                        "clauses": [{"attribute": "key", "op": "segment_match", "values": ["beta-testers"]}],
                        "serve": {"variation": 2},
                    }
                ],
                "fallthrough": {"variation": 0},
            },
        },
    ),
    (
        {
            "key": "max-upload-mb",
            "variations": [10, 50, 200],
            "description": "Upload size limit by plan",
            "tags": ["limits"],
            "owner": "platform-team",
        },
        {
            "production": {
                "on": True,
                "off_variation": 0,
                "rules": [
                    {
                        "id": "pro",
                        "clauses": [{"attribute": "plan", "op": "in", "values": ["pro"]}],
                        "serve": {"variation": 1},
                    },
                    {
                        "id": "enterprise",
                        "clauses": [{"attribute": "plan", "op": "in", "values": ["enterprise"]}],
                        "serve": {"variation": 2},
                    },
                ],
                "fallthrough": {"variation": 0},
            }
        },
    ),
    (
        {
            "key": "maintenance-banner",
            "variations": [{"show": False}, {"show": True, "text": "Maintenance on Sunday 02:00-03:00 UTC"}],
            "description": "Kill switch for the maintenance banner",
            "tags": ["ops"],
            "client_side": True,
        },
        {},
    ),
]


def load_demo(service: Service, actor: Principal, project: str) -> list[str]:
    """Create the demo segment and flags that do not exist yet in `project`; returns the flag keys created."""
    existing = {f.key for f in service.list_flags(actor, project)}
    environments = {e.key for e in service.list_environments(actor, project)}
    for environment in sorted(environments):
        if "beta-testers" not in {s.key for s in service.list_segments(actor, project, environment)}:
            service.create_segment(
                actor, project, environment, {"key": "beta-testers", **_BETA}, comment="demo"
            )
    created = []
    for definition, targeting in DEMO_FLAGS:
        if definition["key"] in existing:
            continue
        service.create_flag(actor, project, definition, comment="demo")
        for environment, body in targeting.items():
            if environment in environments:
                service.replace_targeting(
                    actor, project, definition["key"], environment, body, comment="demo"
                )
        created.append(str(definition["key"]))
    return created
