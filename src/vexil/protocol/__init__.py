"""The open wire protocol between the vexil server and SDKs (docs/protocol.md): SSE framing, messages, events.

I/O-free: bytes and values in, bytes and values out; only the standard library (no engine logic needed).
"""

from vexil.protocol._errors import ProtocolError, ProtocolErrorKind
from vexil.protocol._events import (
    CustomEvent,
    EventKind,
    SummaryEvent,
    WireEvent,
    decode_events,
    encode_events,
    format_time,
    parse_time,
)
from vexil.protocol._messages import (
    COLLECTIONS,
    Delete,
    ItemKind,
    Message,
    MessageName,
    Patch,
    Put,
    decode_json,
    decode_sse,
    encode_json,
    encode_sse,
    put_json,
)
from vexil.protocol._sse import SSEComment, SSEDecoder, SSEEvent, encode_comment, encode_event

__all__ = [
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
]
