"""Server-sent events (WHATWG HTML "server-sent events"): a frame encoder and an incremental decoder.

Bytes in, events out, no I/O: the decoder accepts any chunking of a stream. It must not interpret `data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vexil.protocol._errors import ProtocolError, ProtocolErrorKind

_BOM = b"\xef\xbb\xbf"
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
# `retry` values beyond this (about 11 days) are ignored rather than parsed into huge integers.
_MAX_RETRY_DIGITS = 9
DEFAULT_MAX_EVENT_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """A dispatched event. `last_event_id` is the stream's last `id` in effect ("" when none was set)."""

    data: str
    event: str = "message"
    last_event_id: str = ""


@dataclass(frozen=True, slots=True)
class SSEComment:
    """A comment line (`: text`); servers send them as heartbeats. One leading space is removed."""

    text: str


def _check_field(name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ValueError(f"an SSE {name} cannot contain a line break: {value!r}")


def encode_event(
    data: str | bytes, *, event: str | None = None, id: str | None = None, retry: int | None = None
) -> bytes:
    """One event frame. Line breaks in `data` become several `data:` lines (the decoder joins them with LF).

    `bytes` data must be UTF-8; compact JSON has no raw line breaks, so it goes through without a copy.
    """
    parts: list[bytes] = []
    if event is not None:
        _check_field("event", event)
        parts.append(b"event: " + event.encode())
    if id is not None:
        _check_field("id", id)
        if "\0" in id:
            raise ValueError("an SSE id cannot contain NUL (decoders would ignore it)")
        parts.append(b"id: " + id.encode())
    if retry is not None:
        if retry < 0:
            raise ValueError("an SSE retry is a non-negative number of milliseconds")
        parts.append(b"retry: %d" % retry)
    raw = data if isinstance(data, bytes) else data.encode()
    if b"\r" in raw or b"\n" in raw:
        parts.extend(b"data: " + line for line in _LINE_BREAK_BYTES.split(raw))
    else:
        parts.append(b"data: " + raw)
    parts.append(b"\n")
    return b"\n".join(parts)


def encode_comment(text: str = "") -> bytes:
    """A comment line and a blank line; clients ignore it, proxies and read timeouts see traffic."""
    _check_field("comment", text)
    return (b": " + text.encode() if text else b":") + b"\n\n"


class SSEDecoder:
    """Incremental decoder: `feed(chunk)` returns the events and comments the chunk completed.

    Follows the WHATWG parsing rules: one leading BOM is skipped; lines end with CRLF, LF or CR (also when
    CR and LF arrive in different chunks); `data` lines join with LF; an `id` containing NUL is ignored;
    `retry` must be ASCII digits; unknown fields are ignored; a blank line dispatches (nothing when no
    `data` line was seen). Invalid UTF-8 becomes U+FFFD, as in browsers. An incomplete event at the end of
    the stream is discarded (`close()`). A line or event over `max_event_bytes` raises `ProtocolError`.
    """

    def __init__(self, *, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._max = max_event_bytes
        self._buffer = bytearray()
        self._bom_checked = False
        self._skip_lf = False
        self._closed = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self.last_event_id = ""
        #: The reconnection time in milliseconds the server asked for (None until it sends `retry`).
        self.retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent | SSEComment]:
        if self._closed:
            raise ProtocolError("feed() after close()", kind=ProtocolErrorKind.CLOSED)
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not self._bom_checked:
            self._buffer += chunk
            if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
                return []  # could still be a BOM split across chunks
            self._bom_checked = True
            if self._buffer.startswith(_BOM):
                del self._buffer[: len(_BOM)]
            chunk, self._buffer = bytes(self._buffer), bytearray()
        if b"\n" not in chunk and b"\r" not in chunk:
            self._buffer += chunk
            self._check_size(len(self._buffer))
            return []
        self._buffer += chunk
        lines = self._buffer.splitlines(keepends=True)
        tail = lines[-1]
        if tail.endswith((b"\n", b"\r")):
            self._buffer = bytearray()
        else:
            self._buffer = bytearray(tail)
            lines.pop()
            self._check_size(len(self._buffer))
        if lines and lines[-1].endswith(b"\r"):
            self._skip_lf = True  # an LF opening the next chunk belongs to this CR
        out: list[SSEEvent | SSEComment] = []
        for raw in lines:
            end = 2 if raw.endswith(b"\r\n") else 1
            self._line(bytes(raw[:-end]).decode("utf-8", "replace"), out)
        return out

    def close(self) -> None:
        """The stream ended: whatever was not dispatched by a blank line is discarded."""
        self._closed = True
        self._buffer.clear()
        self._data.clear()

    def _check_size(self, size: int) -> None:
        if size + self._data_size > self._max:
            raise ProtocolError(
                f"an SSE event is larger than {self._max} bytes", kind=ProtocolErrorKind.TOO_LARGE
            )

    def _line(self, line: str, out: list[SSEEvent | SSEComment]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == ":":
            out.append(SSEComment(line[2:] if line[1:2] == " " else line[1:]))
            return
        field, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if field == "data":
            self._data.append(value)
            self._data_size += len(value) + 1
            self._check_size(0)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self.last_event_id = value
        elif field == "retry" and value.isascii() and value.isdigit() and len(value) <= _MAX_RETRY_DIGITS:
            self.retry = int(value)

    def _dispatch(self, out: list[SSEEvent | SSEComment]) -> None:
        if self._data:
            out.append(SSEEvent("\n".join(self._data), self._event or "message", self.last_event_id))
        self._data = []
        self._data_size = 0
        self._event = ""
