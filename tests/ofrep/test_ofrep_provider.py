"""The published Python OFREP provider (`openfeature-provider-ofrep`) with `openfeature-sdk` against a live
`vexil serve`: values, variants, reasons, errors, rate limiting, a change picked up after an admin write."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ofrep_live import LiveServer, running, wait_until
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

USER = EvaluationContext("user-1", {"email": "ada@example.com", "plan": "pro"})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # A low per-key limit so one test can exhaust it; every other test uses its own key.
    env = {"VEXIL_OFREP_RATE_LIMIT": "2", "VEXIL_OFREP_RATE_BURST": "40"}
    with running(tmp_path_factory.mktemp("ofrep-provider"), env) as started:
        yield started


@pytest.fixture
def client_for(server: LiveServer) -> Iterator[Any]:
    domains: list[str] = []

    def make(kind: str = "server") -> OpenFeatureClient:
        key = server.new_key(kind)
        domain = f"vexil-{kind}-{len(domains)}"
        provider = OFREPProvider(server.url, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
        api.set_provider(provider, domain=domain)
        domains.append(domain)
        return api.get_client(domain)

    yield make
    api.shutdown()


@pytest.fixture(scope="module")
def flags(server: LiveServer) -> dict[str, str]:
    staff = {"clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}]}
    return {
        "bool": server.flag({"variations": [False, True]}, {"on": True}),
        "string": server.flag(
            {
                "variations": ["classic", "semantic"],
                "variation_info": [{"name": "Classic"}, {"name": "Semantic"}],
            },
            {"on": True, "rules": [{**staff, "serve": {"variation": 1}}], "fallthrough": {"variation": 0}},
        ),
        "int": server.flag(
            {"variations": [10, 50]}, {"on": True, "targets": [{"variation": 1, "values": ["user-1"]}]}
        ),
        "float": server.flag(
            {"variations": [0.5, 1.5]},
            {
                "on": True,
                "fallthrough": {
                    "rollout": {
                        "variations": [{"variation": 0, "weight": 50000}, {"variation": 1, "weight": 50000}]
                    }
                },
            },
        ),
        "object": server.flag({"variations": [{"theme": "dark", "size": 3}]}, {"on": True}),
        "off": server.flag({"variations": [False, True], "client_side": True, "description": "Kill switch"}),
    }


def test_values_variants_and_reasons(client_for: Any, flags: dict[str, str]) -> None:
    client = client_for()
    details = client.get_boolean_details(flags["bool"], False, USER)
    assert (details.value, details.variant, details.reason, details.error_code) == (
        True,
        "1",
        Reason.STATIC,
        None,
    )
    details = client.get_string_details(flags["string"], "none", USER)
    assert (details.value, details.variant, details.reason) == (
        "semantic",
        "Semantic",
        Reason.TARGETING_MATCH,
    )
    assert details.flag_metadata["rule_index"] == 0 and details.flag_metadata["vexil_reason"] == "RULE_MATCH"
    other = client.get_string_details(
        flags["string"], "none", EvaluationContext("user-2", {"email": "x@y.org"})
    )
    assert (other.value, other.variant, other.reason) == ("classic", "Classic", Reason.UNKNOWN)
    details = client.get_integer_details(flags["int"], 0, USER)
    assert (details.value, details.reason) == (50, Reason.TARGETING_MATCH)
    assert client.get_integer_value(flags["int"], 0, EvaluationContext("user-9")) == 10
    split = {
        client.get_float_details(flags["float"], 0.0, EvaluationContext(f"u{i}")).value for i in range(30)
    }
    assert split == {0.5, 1.5}
    assert client.get_float_details(flags["float"], 0.0, USER).reason == Reason.SPLIT
    assert client.get_object_value(flags["object"], {}, USER) == {"theme": "dark", "size": 3}
    details = client.get_boolean_details(flags["off"], True, USER)
    assert (details.value, details.variant, details.reason) == (False, "0", Reason.DISABLED)
    assert details.flag_metadata["description"] == "Kill switch"


def test_errors(client_for: Any, flags: dict[str, str]) -> None:
    client, browser_key_client = client_for(), client_for("client")
    cases = [
        (client.get_boolean_details("no-such-flag", True, USER), ErrorCode.FLAG_NOT_FOUND),
        (
            client.get_boolean_details(flags["string"], True, USER),
            ErrorCode.TYPE_MISMATCH,
        ),  # the provider's check
        (
            client.get_boolean_details(flags["bool"], False, EvaluationContext()),
            ErrorCode.TARGETING_KEY_MISSING,
        ),
        (
            client.get_boolean_details(flags["bool"], False, EvaluationContext("u", {"kind": "no spaces"})),
            ErrorCode.INVALID_CONTEXT,
        ),
        (browser_key_client.get_boolean_details(flags["bool"], False, USER), ErrorCode.FLAG_NOT_FOUND),
    ]
    for details, code in cases:
        assert (details.reason, details.error_code) == (Reason.ERROR, code), details
        assert details.value is (details.flag_key in ("no-such-flag", flags["string"]))  # the default given
        assert details.error_message
    assert browser_key_client.get_boolean_value(flags["off"], True, USER) is False  # client-side flags work


def test_rate_limit_pauses_the_provider(client_for: Any, flags: dict[str, str]) -> None:
    client = client_for()
    results = [client.get_boolean_details(flags["bool"], False, USER) for _ in range(60)]
    limited = [r for r in results if r.error_code is not None]
    assert limited, "the burst of 40 is exhausted within 60 quick requests"
    assert all(r.error_code == ErrorCode.GENERAL and r.value is False for r in limited)
    assert "retry after" in (limited[0].error_message or "").lower()


def test_a_change_is_picked_up(server: LiveServer, client_for: Any, flags: dict[str, str]) -> None:
    client = client_for()
    flag = server.flag({"variations": ["before", "after"]}, {"on": True, "fallthrough": {"variation": 0}})
    assert client.get_string_value(flag, "default", USER) == "before"
    changed = time.perf_counter()
    server.retarget(flag, {"fallthrough": {"variation": 1}})
    details = wait_until(
        lambda: (d := client.get_string_details(flag, "default", USER)).value == "after" and d
    )
    assert details.variant == "1" and details.reason == Reason.STATIC
    assert time.perf_counter() - changed < 2.0
    server.retarget(flag, {"on": False})
    assert wait_until(lambda: client.get_string_details(flag, "default", USER).reason == Reason.DISABLED)
