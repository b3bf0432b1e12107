"""The stream messages `put`, `patch` and `delete`: typed values, their JSON and their SSE frames.

Checks the envelope only (versions, kinds, keys, object shapes); flag contents are the engine's business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from vexil.protocol import _json
from vexil.protocol._errors import ProtocolError, ProtocolErrorKind
from vexil.protocol._sse import SSEEvent, encode_event


class ItemKind(enum.StrEnum):
    """What a `patch` or `delete` is about."""

    FLAG = "flag"
    SEGMENT = "segment"


class MessageName(enum.StrEnum):
    """The SSE `event:` names; clients ignore other names (room for later message types)."""

    PUT = "put"
    PATCH = "patch"
    DELETE = "delete"


_NAMES = frozenset(name.value for name in MessageName)
#: The document maps of each item kind.
COLLECTIONS: dict[ItemKind, str] = {ItemKind.FLAG: "flags", ItemKind.SEGMENT: "segments"}


@dataclass(frozen=True, slots=True)
class Put:
    """The whole environment document (`{"flags": {...}, "segments": {...}}`) at snapshot `version`."""

    version: int
    document: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Patch:
    """A flag or segment created or changed; `item` is in the flag format, its `version` equals `version`."""

    version: int
    kind: ItemKind
    key: str
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Delete:
    """A tombstone: the item is gone as of `version` (ignore it when the local copy is newer)."""

    version: int
    kind: ItemKind
    key: str


Message = Put | Patch | Delete


def _name(message: Message) -> MessageName:
    if isinstance(message, Put):
        return MessageName.PUT
    return MessageName.PATCH if isinstance(message, Patch) else MessageName.DELETE


def put_json(version: int, document_json: bytes) -> bytes:
    """A `put` body from an already serialised document (what the server caches), without re-encoding it."""
    return b'{"version":%d,"document":%s}' % (version, document_json)


def encode_json(message: Message) -> bytes:
    """The message's JSON body: the SSE `data` of its frame (and, for `put`, the snapshot endpoint's body)."""
    if isinstance(message, Put):
        return put_json(message.version, _json.dumps(message.document))
    body: dict[str, Any] = {"version": message.version, "kind": message.kind.value, "key": message.key}
    if isinstance(message, Patch):
        body["item"] = message.item
    return _json.dumps(body)


def encode_sse(message: Message) -> bytes:
    """The message as one SSE frame; `id` is the version so a standard EventSource tracks it."""
    return encode_event(encode_json(message), event=_name(message).value, id=str(message.version))


def _document(value: Any) -> dict[str, Any]:
    document = dict(_json.obj(value, "document"))
    for collection in COLLECTIONS.values():
        if collection in document:
            path = f"document.{collection}"
            for item_key, item in _json.obj(document[collection], path).items():
                _json.key(item_key, path)
                _json.obj(item, f"{path}.{item_key}")
    return document


def decode_json(name: str, data: bytes | str) -> Message:
    """Parse the body of the message called `name`; unknown fields are ignored (forward compatible).

    Raises `ProtocolError` (kind `UNKNOWN_KIND` for an unknown message name or item kind).
    """
    try:
        message_name = MessageName(name)
    except ValueError:
        raise ProtocolError(f"unknown message {name!r:.40}", kind=ProtocolErrorKind.UNKNOWN_KIND) from None
    body = _json.obj(_json.loads(data), "")
    version = _json.integer(_json.field(body, "version", ""), "version")
    if message_name is MessageName.PUT:
        return Put(version, _document(_json.field(body, "document", "")))
    raw_kind = _json.field(body, "kind", "")
    try:
        kind = ItemKind(raw_kind)
    except (ValueError, TypeError):
        raise ProtocolError(
            f"unknown item kind {raw_kind!r:.40}", kind=ProtocolErrorKind.UNKNOWN_KIND, path="kind"
        ) from None
    key = _json.key(_json.field(body, "key", ""), "key")
    if message_name is MessageName.DELETE:
        return Delete(version, kind, key)
    item = dict(_json.obj(_json.field(body, "item", ""), "item"))
    return Patch(version, kind, key, item)


def decode_sse(event: SSEEvent) -> Message | None:
    """The message an SSE event carries, or None for event names this protocol version does not define."""
    if event.event not in _NAMES:
        return None
    return decode_json(event.event, event.data)
