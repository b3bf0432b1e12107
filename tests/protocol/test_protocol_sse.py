"""The SSE decoder against the WHATWG rules, every chunking of sample streams and an independent reference."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vexil.protocol import ProtocolError, ProtocolErrorKind, SSEComment, SSEDecoder, SSEEvent, encode_comment
from vexil.protocol import encode_event as encode

Item = SSEEvent | SSEComment


def reference(stream: bytes) -> list[Item]:
    """A deliberately naive whole-stream parser written from the spec text, to compare the decoder with."""
    text = stream.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    *lines, _incomplete = re.split(r"\r\n|\r|\n", text)  # the last piece has no terminator: discarded
    out: list[Item] = []
    data: str | None = None
    event = ""
    last_id = ""
    for line in lines:
        if line == "":
            if data is not None:
                out.append(SSEEvent(data.removesuffix("\n"), event or "message", last_id))
            data, event = None, ""
        elif line.startswith(":"):
            out.append(SSEComment(line[1:].removeprefix(" ")))
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data = (data or "") + value + "\n"
            elif name == "event":
                event = value
            elif name == "id" and "\0" not in value:
                last_id = value
    return out


def decode_chunks(chunks: list[bytes]) -> list[Item]:
    decoder = SSEDecoder()
    out: list[Item] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    decoder.close()
    return out


def split_at(stream: bytes, cuts: tuple[int, ...]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


SPEC_STREAM = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
SAMPLES = [
    SPEC_STREAM,
    b"data: YHOO\ndata: +2\ndata: 10\n\n",
    b"data\n\ndata\ndata\n\ndata:",
    b"data:test\n\ndata: test\n\n",
    b'\xef\xbb\xbfevent: put\r\nid: 7\r\ndata: {"a":1}\r\n\r\n:hb\r\r',
    b"event: patch\rdata: x\r\rretry: 1500\nid: a\x00b\ndata: \xc3\xa9\xff\n\n",
]


def test_the_spec_example_stream() -> None:
    assert decode_chunks([SPEC_STREAM]) == [
        SSEComment("test stream"),
        SSEEvent("first event", "message", "1"),
        SSEEvent("second event", "message", ""),
        SSEEvent(" third event", "message", ""),
    ]


def test_empty_data_lines_and_an_unterminated_event() -> None:
    assert decode_chunks([b"data\n\ndata\ndata\n\ndata:"]) == [SSEEvent(""), SSEEvent("\n")]


@pytest.mark.parametrize("stream", SAMPLES, ids=range(len(SAMPLES)))
def test_every_split_into_up_to_three_chunks_decodes_the_same(stream: bytes) -> None:
    expected = reference(stream)
    assert decode_chunks([stream]) == expected
    positions = range(1, len(stream))
    for n in (1, 2):
        for cuts in itertools.combinations(positions, n):
            assert decode_chunks(split_at(stream, cuts)) == expected, cuts


@pytest.mark.parametrize("stream", SAMPLES, ids=range(len(SAMPLES)))
def test_byte_at_a_time(stream: bytes) -> None:
    assert decode_chunks([bytes([b]) for b in stream]) == reference(stream)


def test_line_endings_are_interchangeable() -> None:
    lf = b"event: put\nid: 3\ndata: a\ndata: b\n\n: ping\n\ndata: c\n\n"
    expected = decode_chunks([lf])
    assert expected == [SSEEvent("a\nb", "put", "3"), SSEComment("ping"), SSEEvent("c", "message", "3")]
    for ending in (b"\r\n", b"\r"):
        assert decode_chunks([lf.replace(b"\n", ending)]) == expected


def test_a_cr_at_a_chunk_end_dispatches_without_waiting_for_the_next_chunk() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: now\r\r") == [SSEEvent("now")]
    assert decoder.feed(b"\ndata: next\n\n") == [SSEEvent("next")]


def test_bom_is_skipped_once_even_when_split() -> None:
    stream = b"\xef\xbb\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n"
    for cuts in ((1,), (2,), (1, 2)):
        # the second BOM is part of a field name ("\ufeffdata"), an unknown field: ignored
        assert decode_chunks(split_at(stream, cuts)) == [SSEEvent("a")]


def test_id_with_nul_is_ignored_and_retry_needs_digits() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(
        b"id: 1\nretry: 2500\ndata: a\n\nid: 2\x003\nretry: 1x\ndata: b\n\nretry: 99999999999\n"
    )
    assert events == [SSEEvent("a", "message", "1"), SSEEvent("b", "message", "1")]
    assert decoder.retry == 2500
    assert decoder.last_event_id == "1"


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert decode_chunks([b"data: \xff\xfeok\n\n"]) == [SSEEvent("\ufffd\ufffdok")]


def test_oversized_lines_and_events_raise_protocol_error() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ProtocolError) as info:
        for _ in range(20):
            decoder.feed(b"x" * 10)
    assert info.value.kind is ProtocolErrorKind.TOO_LARGE
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ProtocolError):
        decoder.feed(b"data: 0123456789\n" * 10)


def test_feed_after_close_is_a_protocol_error() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: pending")
    decoder.close()
    with pytest.raises(ProtocolError) as info:
        decoder.feed(b"\n\n")
    assert info.value.kind is ProtocolErrorKind.CLOSED


def test_encoder_output_format() -> None:
    assert encode("a\r\nb\rc\nd", event="put", id="4", retry=100) == (
        b"event: put\nid: 4\nretry: 100\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )
    assert encode(b'{"x":1}') == b'data: {"x":1}\n\n'
    assert encode_comment() == b":\n\n"
    assert encode_comment("hb") == b": hb\n\n"
    bad: dict[str, Any]
    for bad in ({"event": "a\nb"}, {"id": "1\r"}, {"id": "a\x00"}, {"retry": -1}):
        with pytest.raises(ValueError, match="SSE"):
            encode("x", **bad)


_CATEGORIES: list[Any] = ["L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co"]  # all but surrogates
field_text = st.text(st.characters(exclude_characters="\r\n", categories=_CATEGORIES), max_size=20)
data_text = st.text(st.characters(categories=_CATEGORIES), max_size=60)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Item]]:
    """Random well-formed streams built with the encoder, and the items a decoder must produce."""
    frames: list[bytes] = []
    expected: list[Item] = []
    last_id = ""
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            text = draw(field_text)
            frames.append(encode_comment(text))
            expected.append(SSEComment(text))
            continue
        data = draw(data_text)
        event = draw(st.one_of(st.none(), field_text))
        event_id = draw(st.one_of(st.none(), field_text.filter(lambda s: "\0" not in s)))
        frames.append(encode(data, event=event, id=event_id))
        last_id = last_id if event_id is None else event_id
        expected.append(SSEEvent(re.sub(r"\r\n|\r", "\n", data), event or "message", last_id))
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    stream = b"".join(frames).replace(b"\n", ending)
    if draw(st.booleans()):
        stream = b"\xef\xbb\xbf" + stream
    return stream, expected


@settings(max_examples=300, deadline=None)
@given(sample=streams(), data=st.data())
def test_random_streams_under_random_chunkings(sample: tuple[bytes, list[Item]], data: st.DataObject) -> None:
    stream, expected = sample
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    assert decode_chunks(split_at(stream, tuple(cuts))) == expected
    assert reference(stream) == expected


@settings(max_examples=300, deadline=None)
@given(stream=st.binary(max_size=200), data=st.data())
def test_arbitrary_bytes_match_the_reference_and_never_raise(stream: bytes, data: st.DataObject) -> None:
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=8))
    assert decode_chunks(split_at(stream, tuple(cuts))) == reference(stream)


def test_every_chunking_of_a_short_tricky_stream() -> None:
    stream = b"\xef\xbb\xbfdata:\xc3\xa9\r\n\r:\r"  # BOM, a 2-byte character, CRLF, CR, comment
    expected = reference(stream)
    assert expected == [SSEEvent("é"), SSEComment("")]
    positions = range(1, len(stream))
    for n in range(len(stream)):
        for cuts in itertools.combinations(positions, n):
            assert decode_chunks(split_at(stream, cuts)) == expected, cuts
