"""Stream messages: round-trips through JSON and SSE frames, and malformed payloads -> ProtocolError only."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.protocol import (
    Delete,
    ItemKind,
    Message,
    MessageName,
    Patch,
    ProtocolError,
    ProtocolErrorKind,
    Put,
    SSEDecoder,
    SSEEvent,
    decode_json,
    decode_sse,
    encode_json,
    encode_sse,
    put_json,
)

PUBLIC = {
    "COLLECTIONS",
    "CustomEvent",
    "Delete",
    "EventKind",
    "ItemKind",
    "Message",
    "MessageName",
    "Patch",
    "ProtocolError",
    "ProtocolErrorKind",
    "Put",
    "SSEComment",
    "SSEDecoder",
    "SSEEvent",
    "SummaryEvent",
    "WireEvent",
    "decode_events",
    "decode_json",
    "decode_sse",
    "encode_comment",
    "encode_event",
    "encode_events",
    "encode_json",
    "encode_sse",
    "format_time",
    "parse_time",
    "put_json",
}


def test_all_is_the_public_surface() -> None:
    module = importlib.import_module("vexil.protocol")
    assert set(module.__all__) == PUBLIC
    assert all(getattr(module, name) is not None for name in module.__all__)
    assert {n for n in vars(module) if not n.startswith("_")} - PUBLIC <= {"annotations"}


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)
keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,12}", fullmatch=True)
versions = st.integers(0, 2**53 - 1)
items = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
documents = st.fixed_dictionaries(
    {},
    optional={
        "flags": st.dictionaries(keys, items, max_size=4),
        "segments": st.dictionaries(keys, items, max_size=4),
    },
)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(Put, versions, documents),
    st.builds(Patch, versions, st.sampled_from(ItemKind), keys, items),
    st.builds(Delete, versions, st.sampled_from(ItemKind), keys),
)


@settings(max_examples=300, deadline=None)
@given(message=messages)
def test_round_trip_through_json_and_sse(message: Message) -> None:
    name = MessageName.PUT if isinstance(message, Put) else MessageName.PATCH
    name = MessageName.DELETE if isinstance(message, Delete) else name
    assert decode_json(name, encode_json(message)) == message
    frame = encode_sse(message)
    events = SSEDecoder().feed(frame)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, SSEEvent)
    assert event.event == name.value
    assert event.last_event_id == str(message.version)
    assert decode_sse(event) == message


def test_wire_shapes() -> None:
    put = Put(3, {"flags": {"a": {"on": True}}, "segments": {}})
    assert json.loads(encode_json(put)) == {"version": 3, "document": put.document}
    assert put_json(3, b'{"flags":{}}') == b'{"version":3,"document":{"flags":{}}}'
    patch = Patch(4, ItemKind.SEGMENT, "beta", {"included": ["u1"], "version": 4})
    assert json.loads(encode_json(patch)) == {
        "version": 4,
        "kind": "segment",
        "key": "beta",
        "item": patch.item,
    }
    assert json.loads(encode_json(Delete(5, ItemKind.FLAG, "a"))) == {
        "version": 5,
        "kind": "flag",
        "key": "a",
    }
    assert encode_sse(Delete(5, ItemKind.FLAG, "a")) == (
        b'event: delete\nid: 5\ndata: {"version":5,"kind":"flag","key":"a"}\n\n'
    )


def test_unknown_event_names_are_ignored_and_unknown_fields_tolerated() -> None:
    assert decode_sse(SSEEvent("{}", "message")) is None
    assert decode_sse(SSEEvent("{}", "hello")) is None
    body = '{"version":1,"kind":"flag","key":"k","extra":[1],"item":{}}'
    assert decode_json("patch", body) == Patch(1, ItemKind.FLAG, "k", {})


@pytest.mark.parametrize(
    ("name", "body", "kind", "path"),
    [
        ("put", "", ProtocolErrorKind.INVALID_JSON, ""),
        ("put", "[1]", ProtocolErrorKind.INVALID_FIELD, ""),
        ("put", '{"version":1}', ProtocolErrorKind.INVALID_FIELD, "document"),
        ("put", '{"version":-1,"document":{}}', ProtocolErrorKind.INVALID_FIELD, "version"),
        ("put", '{"version":true,"document":{}}', ProtocolErrorKind.INVALID_FIELD, "version"),
        ("put", '{"version":1.0,"document":{}}', ProtocolErrorKind.INVALID_FIELD, "version"),
        ("put", '{"version":NaN,"document":{}}', ProtocolErrorKind.INVALID_JSON, ""),
        ("put", '{"version":1,"document":{"flags":[]}}', ProtocolErrorKind.INVALID_FIELD, "document.flags"),
        (
            "put",
            '{"version":1,"document":{"flags":{"a":1}}}',
            ProtocolErrorKind.INVALID_FIELD,
            "document.flags.a",
        ),
        (
            "put",
            '{"version":1,"document":{"flags":{"-a":{}}}}',
            ProtocolErrorKind.INVALID_FIELD,
            "document.flags",
        ),
        ("patch", '{"version":1,"kind":"flag","key":"k"}', ProtocolErrorKind.INVALID_FIELD, "item"),
        ("patch", '{"version":1,"kind":"rule","key":"k","item":{}}', ProtocolErrorKind.UNKNOWN_KIND, "kind"),
        (
            "patch",
            '{"version":1,"kind":["flag"],"key":"k","item":{}}',
            ProtocolErrorKind.UNKNOWN_KIND,
            "kind",
        ),
        ("delete", '{"version":1,"kind":"flag","key":""}', ProtocolErrorKind.INVALID_FIELD, "key"),
        ("delete", '{"version":1,"kind":"flag"}', ProtocolErrorKind.INVALID_FIELD, "key"),
        ("delete", b"\xff\xfe", ProtocolErrorKind.INVALID_JSON, ""),
        ("nope", "{}", ProtocolErrorKind.UNKNOWN_KIND, ""),
    ],
)
def test_malformed_payloads(name: str, body: str | bytes, kind: ProtocolErrorKind, path: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_json(name, body)
    assert info.value.kind is kind
    assert info.value.path == path


def test_pathological_json_is_a_protocol_error() -> None:
    for body in ("[" * 100_000 + "]" * 100_000, '{"version":' + "9" * 5000 + "}", '{"version":Infinity}'):
        with pytest.raises(ProtocolError):
            decode_json("put", body)


def _mutations(draw: st.DataObject, base: dict[str, Any]) -> Any:
    """A valid body with one field replaced by any JSON value or removed, or the whole body replaced."""
    choice = draw.draw(st.integers(0, 2))
    if choice == 0:
        return draw.draw(json_values)
    field = draw.draw(st.sampled_from(sorted(base)))
    mutated = dict(base)
    if choice == 1:
        del mutated[field]
    else:
        mutated[field] = draw.draw(json_values)
    return mutated


@settings(max_examples=500, deadline=None)
@given(name=st.sampled_from(["put", "patch", "delete"]), data=st.data())
def test_mutated_bodies_decode_or_raise_protocol_error_only(name: str, data: st.DataObject) -> None:
    base: dict[str, Any] = {"version": 2, "kind": "flag", "key": "k", "item": {}, "document": {"flags": {}}}
    body = json.dumps(_mutations(data, base))
    try:
        message = decode_json(name, body)
    except ProtocolError as exc:
        assert isinstance(exc.kind, ProtocolErrorKind)
    else:
        assert decode_json(name, encode_json(message)) == message


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["put", "patch", "delete"]), body=st.binary(max_size=80) | st.text(max_size=80))
def test_arbitrary_bytes_decode_or_raise_protocol_error_only(name: str, body: bytes | str) -> None:
    try:
        decode_json(name, body)
    except ProtocolError as exc:
        assert str(exc)
