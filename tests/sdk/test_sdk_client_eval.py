"""Client evaluation: typed accessors, defaults with typed error reasons, never raising, lock-free reads."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from vexil.engine import Context, ErrorKind, Reason, ReasonKind
from vexil.protocol import ItemKind, Message, Patch, Put
from vexil.sdk import Client, Detail, SourceError, State, Updates, ValueType

CTX = {"key": "u1", "country": "NZ"}


def const(value: Any, version: int = 1) -> dict[str, Any]:
    return {"on": True, "variations": [value], "fallthrough": {"variation": 0}, "version": version}


DOC: dict[str, Any] = {
    "flags": {
        "flag-bool": const(True),
        "flag-false": const(False),
        "flag-str": const("blue"),
        "flag-int": const(3),
        "flag-float": const(2.5),
        "flag-obj": const({"a": [1, 2]}),
        "flag-list": const([1, "x"]),
        "flag-null": const(None),
        "flag-off-null": {"on": False, "variations": [True], "fallthrough": {"variation": 0}},
        "flag-off": {
            "on": False,
            "variations": [True, False],
            "off_variation": 1,
            "fallthrough": {"variation": 0},
        },
        "flag-nz": {
            "on": True,
            "variations": ["other", "kiwi"],
            "fallthrough": {"variation": 0},
            "rules": [
                {
                    "id": "nz",
                    "clauses": [{"attribute": "country", "op": "in", "values": ["NZ"]}],
                    "serve": {"variation": 1},
                }
            ],
        },
        "flag-broken": {"on": True, "variations": [True], "fallthrough": {"variation": 5}},
    }
}


@pytest.fixture
def client() -> Any:
    with Client.from_dict(DOC) as c:
        yield c


def error_kind(detail: Detail) -> ErrorKind | None:
    return detail.reason.error_kind


def test_typed_accessors_return_flag_values(client: Client) -> None:
    assert client.bool("flag-bool", CTX, False) is True
    assert client.bool("flag-false", CTX, True) is False
    assert client.string("flag-str", CTX, "red") == "blue"
    assert client.number("flag-int", CTX, 0) == 3
    assert client.number("flag-float", CTX, 0) == 2.5
    assert client.json("flag-obj", CTX, None) == {"a": [1, 2]}
    assert client.json("flag-list", CTX, None) == [1, "x"]
    assert client.json("flag-bool", CTX, None) is True
    assert client.string("flag-nz", CTX, "") == "kiwi"
    assert client.string("flag-nz", Context.from_dict({"key": "u2", "country": "US"}), "") == "other"


@pytest.mark.parametrize(
    ("accessor", "key", "default"),
    [
        ("bool", "flag-str", False),
        ("bool", "flag-int", False),
        ("string", "flag-bool", "d"),
        ("number", "flag-bool", 9),  # bool is not a number
        ("number", "flag-false", 9),
        ("number", "flag-str", 9),
        ("bool", "flag-obj", True),
    ],
)
def test_a_value_of_another_type_answers_the_default_with_wrong_type(
    client: Client, accessor: str, key: str, default: Any
) -> None:
    assert getattr(client, accessor)(key, CTX, default) == default
    type_name = {"bool": ValueType.BOOL, "string": ValueType.STRING, "number": ValueType.NUMBER}[accessor]
    detail = client.detail(key, CTX, default, value_type=type_name)
    assert detail == Detail(default, None, Reason(ReasonKind.ERROR, error_kind=ErrorKind.WRONG_TYPE))


def test_unknown_flag_answers_the_default_with_flag_not_found(client: Client) -> None:
    assert client.bool("nope", CTX, True) is True
    assert client.string("nope", CTX, "d") == "d"
    assert error_kind(client.detail("nope", CTX, 1)) is ErrorKind.FLAG_NOT_FOUND


def test_invalid_contexts_answer_user_not_specified(client: Client) -> None:
    for bad in ({}, {"key": ""}, {"key": 5}, {"kind": "multi"}, "a string", None):
        assert client.bool("flag-bool", bad, False) is False  # type: ignore[arg-type]
        assert error_kind(client.detail("flag-bool", bad, False)) is ErrorKind.USER_NOT_SPECIFIED  # type: ignore[arg-type]


def test_malformed_flags_answer_malformed_flag_and_the_others_still_work(client: Client) -> None:
    assert client.bool("flag-broken", CTX, False) is False
    assert error_kind(client.detail("flag-broken", CTX, False)) is ErrorKind.MALFORMED_FLAG
    assert client.bool("flag-bool", CTX, False) is True


def test_null_values_and_off_flags_without_off_variation_answer_the_default(client: Client) -> None:
    assert client.json("flag-null", CTX, "dflt") == "dflt"
    detail = client.detail("flag-off-null", CTX, "dflt")
    assert detail == Detail("dflt", None, Reason(ReasonKind.OFF))
    assert client.bool("flag-off", CTX, True) is False
    assert client.detail("flag-off", CTX, True) == Detail(False, 1, Reason(ReasonKind.OFF))


def test_detail_unpacks_as_value_variation_reason(client: Client) -> None:
    value, variation, reason = client.detail("flag-nz", CTX, "")
    assert (value, variation) == ("kiwi", 1)
    assert reason == Reason(ReasonKind.RULE_MATCH, rule_index=0, rule_id="nz")
    assert client.detail("flag-nz", CTX, "").to_dict() == {
        "value": "kiwi",
        "variation": 1,
        "reason": {"kind": "RULE_MATCH", "rule_index": 0, "rule_id": "nz"},
    }


def test_all_flags_and_all_flags_detail(client: Client) -> None:
    values = client.all_flags(CTX)
    assert set(values) == set(DOC["flags"])
    assert values["flag-nz"] == "kiwi" and values["flag-off-null"] is None and values["flag-broken"] is None
    details = client.all_flags_detail(CTX)
    assert details["flag-int"] == Detail(3, 0, Reason(ReasonKind.FALLTHROUGH))
    assert error_kind(details["flag-broken"]) is ErrorKind.MALFORMED_FLAG
    assert client.all_flags({}) == dict.fromkeys(DOC["flags"])


@pytest.mark.parametrize(
    ("key", "context"),
    [(["unhashable"], CTX), ({"a": 1}, CTX), (None, CTX), ("flag-bool", object()), ("flag-bool", 42)],
)
def test_evaluation_never_raises_even_when_called_wrongly(client: Client, key: Any, context: Any) -> None:
    assert client.bool(key, context, True) in (True,)
    assert client.string(key, context, "d") == "d"
    assert client.detail(key, context, "d").value == "d"
    assert isinstance(client.all_flags(context), dict)
    client.track(key, context, value=1.0)  # no exception


def test_evaluation_exceptions_answer_exception_and_are_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    detail = client.detail(["x"], CTX, "d")  # type: ignore[arg-type]
    assert detail == Detail("d", None, Reason(ReasonKind.ERROR, error_kind=ErrorKind.EXCEPTION))
    assert "evaluating" in caplog.text


class _Silent:
    """A data source that never delivers anything."""

    name = "silent"

    def start(self, updates: Updates) -> None:
        self.updates = updates

    def stop(self, timeout: float) -> None:
        pass

    def after_fork(self) -> None:
        pass


def test_before_the_first_snapshot_every_answer_is_client_not_ready() -> None:
    source = _Silent()
    with Client.from_source(source, start_wait=0) as client:
        assert client.bool("flag-bool", CTX, True) is True
        assert error_kind(client.detail("flag-bool", CTX, 0)) is ErrorKind.CLIENT_NOT_READY
        assert client.all_flags(CTX) == {}
        assert not client.wait_until_ready(0.01)
        status = client.status()
        assert (status.ready, status.state, status.source) == (False, State.INITIALIZING, "silent")
        source.updates.apply(Put(1, DOC))
        source.updates.report(State.VALID)
        assert client.wait_until_ready(1.0)
        assert client.bool("flag-bool", CTX, False) is True
        assert client.status().state is State.VALID


def test_a_source_that_gives_up_releases_wait_until_ready_at_once() -> None:
    source = _Silent()
    client = Client.from_source(source, start_wait=0)
    source.updates.report(
        State.OFF,
        SourceError(
            kind=__import__("vexil.sdk", fromlist=["x"]).SourceErrorKind.UNAUTHORIZED,
            message="bad key",
            status=401,
        ),
    )
    assert client.wait_until_ready(30.0) is False  # returns at once, not after 30 s
    assert client.status().error is not None
    client.close()


def test_concurrent_readers_see_whole_snapshots_while_a_writer_swaps_them() -> None:
    source = _Silent()
    client = Client.from_source(source, start_wait=0)
    source.updates.apply(Put(0, {"flags": {"a": const(0), "b": const(0)}}))
    seen_bad: list[tuple[Any, Any]] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            values = client.all_flags({"key": "u"})
            if values["a"] != values["b"]:
                seen_bad.append((values["a"], values["b"]))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(1, 300):
        # a and b change together in one put: a reader must never see one without the other
        message: Message = Put(i, {"flags": {"a": const(i, i), "b": const(i, i)}})
        source.updates.apply(message)
    # Stop the readers first: after the patch below a and b differ on purpose.
    stop.set()
    for t in threads:
        t.join()
    assert seen_bad == []
    source.updates.apply(Patch(1000, ItemKind.FLAG, "a", const(-1, 1000)))
    assert client.number("a", CTX, 0) == -1
    client.close()
