"""vexil behind OpenFeature: values, variants, reasons, error codes and events, via the OpenFeature client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import Reason
from openfeature.provider import ProviderStatus
from openfeature.track import TrackingEventDetails
from sdk_support import wait_for

from vexil.openfeature import VexilProvider
from vexil.protocol import ItemKind, Patch, Put
from vexil.sdk import Client, SourceError, SourceErrorKind, State, Updates
from vexil.testing import FlagBuilder, InMemorySource

USER = EvaluationContext("u1", {"country": "NZ", "plan": "pro"})


@pytest.fixture
def flags() -> Iterator[InMemorySource]:
    source = InMemorySource()
    source.update(FlagBuilder("on").target(True, "u1").serve(False))
    source.update(
        FlagBuilder("color")
        .variations("red", "green", "blue")
        .set("variation_info", [{"name": "warm"}, {}, {"name": "cool"}])
        .rule("blue", "country", "in", ["NZ"], rule_id="nz")
        .serve("green")
    )
    source.set("limit", 10)
    source.set("ratio", 0.5)
    source.set("half", 2.5)
    source.set("config", {"retries": 3})
    source.set("items", [1, 2])
    source.update(FlagBuilder("split").rollout({True: 50, False: 50}))
    source.update(FlagBuilder("disabled").off())
    source.update(FlagBuilder("launch").rule(True, "signup", "after", ["2020-01-01T00:00:00Z"]).serve(False))
    yield source
    source.close()


@pytest.fixture
def of(flags: InMemorySource) -> Iterator[OpenFeatureClient]:
    api.set_provider_and_wait(VexilProvider(flags.client()))
    yield api.get_client()
    api.shutdown()
    api.clear_providers()


def test_booleans_with_variant_reason_and_metadata(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("on", False, USER)
    assert (details.value, details.variant, details.reason, details.error_code) == (
        True,
        "0",
        Reason.TARGETING_MATCH,
        None,
    )
    assert details.flag_metadata["vexil_reason"] == "TARGET_MATCH"
    other = of.get_boolean_details("on", True, EvaluationContext("u2"))
    assert (other.value, other.reason) == (False, Reason.DEFAULT)
    assert of.get_boolean_value("disabled", True, USER) is False
    assert of.get_boolean_details("disabled", True, USER).reason == Reason.DISABLED


def test_strings_use_variation_names_as_variants(of: OpenFeatureClient) -> None:
    details = of.get_string_details("color", "none", USER)
    assert (details.value, details.variant, details.reason) == ("blue", "cool", Reason.TARGETING_MATCH)
    assert details.flag_metadata["rule_id"] == "nz" and details.flag_metadata["rule_index"] == 0
    unnamed = of.get_string_details("color", "none", EvaluationContext("u2", {"country": "US"}))
    assert (unnamed.value, unnamed.variant, unnamed.reason) == ("green", "1", Reason.DEFAULT)


def test_numbers_and_objects(of: OpenFeatureClient) -> None:
    assert of.get_integer_value("limit", 0, USER) == 10
    assert of.get_float_value("limit", 0.0, USER) == 10.0
    assert isinstance(of.get_float_value("limit", 0.0, USER), float)
    assert of.get_float_value("ratio", 0.0, USER) == 0.5
    assert of.get_object_value("config", {}, USER) == {"retries": 3}
    assert of.get_object_value("items", [], USER) == [1, 2]


def test_rollouts_answer_split(of: OpenFeatureClient) -> None:
    details = of.get_boolean_details("split", False, USER)
    assert details.reason == Reason.SPLIT and details.variant in ("0", "1")


@pytest.mark.parametrize(
    ("getter", "key", "default"),
    [
        ("get_boolean_details", "limit", False),
        ("get_integer_details", "on", 0),  # a bool is not an integer
        ("get_integer_details", "half", 0),  # 2.5 is not an integer
        ("get_float_details", "on", 0.0),
        ("get_string_details", "limit", ""),
        ("get_object_details", "limit", {}),
    ],
)
def test_type_mismatches(of: OpenFeatureClient, getter: str, key: str, default: Any) -> None:
    details = getattr(of, getter)(key, default, USER)
    assert (details.value, details.error_code, details.reason) == (
        default,
        ErrorCode.TYPE_MISMATCH,
        Reason.ERROR,
    )


def test_missing_flags_and_contexts(of: OpenFeatureClient) -> None:
    missing = of.get_boolean_details("nope", True, USER)
    assert (missing.value, missing.error_code, missing.reason) == (
        True,
        ErrorCode.FLAG_NOT_FOUND,
        Reason.ERROR,
    )
    no_key = of.get_boolean_details("on", True, EvaluationContext(None, {"country": "NZ"}))
    assert (no_key.value, no_key.error_code) == (True, ErrorCode.TARGETING_KEY_MISSING)
    bad_kind = of.get_boolean_details("on", True, EvaluationContext("u1", {"kind": "not a kind!"}))
    assert (bad_kind.value, bad_kind.error_code) == (True, ErrorCode.INVALID_CONTEXT)


def test_multi_contexts_and_datetimes_in_the_context(of: OpenFeatureClient) -> None:
    multi = EvaluationContext(None, {"kind": "multi", "user": {"key": "u1"}, "org": {"key": "o1"}})
    assert of.get_boolean_details("on", False, multi).value is True  # targets u1 of kind user
    recent = EvaluationContext("u3", {"signup": datetime(2024, 5, 1, tzinfo=UTC)})
    old = EvaluationContext("u3", {"signup": datetime(2019, 5, 1)})  # naive: taken as UTC
    assert of.get_boolean_value("launch", False, recent) is True
    assert of.get_boolean_value("launch", True, old) is False


def test_track_sends_a_custom_event_through_the_client() -> None:
    tracked: list[tuple[str, Any, float | None]] = []

    class Recording(Client):
        __slots__ = ()

        def track(self, event_key: str, context: Any = None, *, value: float | None = None) -> None:
            tracked.append((event_key, context, value))

    client = Recording.from_source(InMemorySource())
    provider = VexilProvider(client)
    api.set_provider_and_wait(provider)
    try:
        api.get_client().track("checkout", USER, TrackingEventDetails(value=42.0))
        api.get_client().track("visit", USER)
    finally:
        api.shutdown()
        api.clear_providers()
    assert tracked == [
        ("checkout", {"country": "NZ", "plan": "pro", "key": "u1"}, 42.0),
        ("visit", {"country": "NZ", "plan": "pro", "key": "u1"}, None),
    ]


class _Manual:
    """A data source driven by the test."""

    name = "manual"
    updates: Updates

    def start(self, updates: Updates) -> None:
        self.updates = updates

    def stop(self, timeout: float) -> None:
        pass

    def after_fork(self) -> None:
        pass


def test_not_ready_then_ready_and_change_events() -> None:
    source = _Manual()
    client = Client.from_source(source, start_wait=0)
    provider = VexilProvider(client, init_timeout=0.05)
    events: list[ProviderEvent] = []

    def record(event: ProviderEvent) -> Any:
        def handler(details: EventDetails) -> None:
            events.append(event)

        return handler

    handlers = [(event, record(event)) for event in ProviderEvent]
    for event, handler in handlers:
        api.add_handler(event, handler)
    with pytest.raises(ProviderNotReadyError):  # initialize's "not ready" surfaces here
        api.set_provider_and_wait(provider)
    try:
        of = api.get_client()
        assert of.get_provider_status() is ProviderStatus.ERROR
        early = of.get_boolean_details("f", True, USER)
        assert (early.value, early.error_code) == (True, ErrorCode.PROVIDER_NOT_READY)
        source.updates.apply(Put(1, {"flags": {"f": FlagBuilder("f").build()}}))
        source.updates.report(State.VALID)
        wait_for(lambda: of.get_provider_status() is ProviderStatus.READY)
        assert of.get_boolean_value("f", False, USER) is True
        source.updates.apply(Patch(2, ItemKind.FLAG, "f", {**FlagBuilder("f").off().build(), "version": 2}))
        wait_for(lambda: ProviderEvent.PROVIDER_CONFIGURATION_CHANGED in events)
        assert of.get_boolean_value("f", True, USER) is False
        source.updates.report(State.INTERRUPTED, SourceError(SourceErrorKind.NETWORK, "down"))
        wait_for(lambda: of.get_provider_status() is ProviderStatus.STALE)
        source.updates.report(State.VALID)
        wait_for(lambda: of.get_provider_status() is ProviderStatus.READY)
        source.updates.report(State.OFF, SourceError(SourceErrorKind.UNAUTHORIZED, "bad key", 401))
        wait_for(lambda: of.get_provider_status() is ProviderStatus.FATAL)
    finally:
        for event, handler in handlers:
            api.remove_handler(event, handler)
        api.shutdown()
        api.clear_providers()
    assert client.status().state is State.CLOSED  # shutdown closed the client
    assert ProviderEvent.PROVIDER_READY in events and ProviderEvent.PROVIDER_STALE in events


def test_a_rejected_key_is_fatal_at_initialize() -> None:
    source = _Manual()
    client = Client.from_source(source, start_wait=0)
    source.updates.report(State.OFF, SourceError(SourceErrorKind.UNAUTHORIZED, "bad key", 401))
    provider = VexilProvider(client, init_timeout=5.0, close_client=False)
    try:
        with pytest.raises(Exception, match="bad key"):
            api.set_provider_and_wait(provider)
        assert api.get_client().get_provider_status() is ProviderStatus.FATAL
        fatal = api.get_client().get_boolean_details("f", True, USER)
        assert fatal.error_code == ErrorCode.PROVIDER_FATAL
    finally:
        api.shutdown()
        api.clear_providers()
    assert client.status().state is State.OFF  # close_client=False left it alone
    client.close()


def test_metadata_names_the_provider(flags: InMemorySource) -> None:
    provider = VexilProvider(flags.client())
    assert provider.get_metadata().name == "vexil"
