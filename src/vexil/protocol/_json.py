"""Strict JSON reading and checked field access shared by the message and events decoders.

Turns every way a peer's JSON can be wrong into `ProtocolError`; knows no message types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from vexil.protocol._errors import ProtocolError, ProtocolErrorKind

#: Flag, segment and event keys (the flag format's key syntax).
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
#: Versions and counts stay within a signed 64-bit column and an exact JSON (IEEE double) integer.
MAX_INT = 2**53 - 1


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes | str) -> Any:
    """Parse JSON strictly (no NaN/Infinity); any failure, including absurd nesting, is a ProtocolError."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise ProtocolError(f"not valid JSON: {exc}", kind=ProtocolErrorKind.INVALID_JSON) from None


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON: never contains a raw line break, so it fits one SSE `data:` line."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def fail(path: str, message: str) -> NoReturn:
    raise ProtocolError(message, kind=ProtocolErrorKind.INVALID_FIELD, path=path)


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        fail(path, f"expected an object, got {type(value).__name__}")
    return value


def integer(value: Any, path: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        fail(path, f"expected an integer, got {type(value).__name__}")
    if not minimum <= value <= MAX_INT:
        fail(path, f"expected an integer from {minimum} to {MAX_INT}, got {value}")
    return value


def optional_integer(value: Any, path: str) -> int | None:
    return None if value is None else integer(value, path)


def key(value: Any, path: str) -> str:
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        fail(path, f"expected a key matching {KEY_PATTERN.pattern}, got {value!r:.80}")
    return value


def field(data: Mapping[str, Any], name: str, path: str) -> Any:
    if name not in data:
        fail(f"{path}.{name}" if path else name, "required field is missing")
    return data[name]
