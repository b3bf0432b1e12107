"""OFREP request bodies -> vexil evaluation contexts (the mapping is documented in docs/ofrep.md).

Pure parsing: bytes in, an engine `Context` (or an `OfrepRequestError`) out; no I/O and no HTTP.
"""

from __future__ import annotations

import json
from typing import Any

from vexil.engine import Context

from ._ofrep_codes import OfrepErrorCode, OfrepRequestError

TARGETING_KEY = "targetingKey"
MULTI = "multi"


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


#: Built once: `json.loads` with a hook would build a decoder on every call (a hot path here).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; PARSE_ERROR for an empty body, invalid JSON or a non-object."""
    if not body.strip():
        raise OfrepRequestError(
            OfrepErrorCode.PARSE_ERROR, 'the request body is empty: send {"context": {...}}'
        )
    try:
        value = _DECODER.decode(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, absurd nesting
        raise OfrepRequestError(
            OfrepErrorCode.PARSE_ERROR, f"the request body is not valid JSON: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise OfrepRequestError(
            OfrepErrorCode.PARSE_ERROR, f"the request body must be a JSON object, not {_json_type(value)}"
        )
    return value


def request_context(body: dict[str, Any]) -> dict[str, Any]:
    """The OFREP context of a parsed body: `{}` when absent or null (providers send `{}` without one)."""
    context = body.get("context")
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise OfrepRequestError(
            OfrepErrorCode.INVALID_CONTEXT, f"context must be a JSON object, not {_json_type(context)}"
        )
    return context


def to_vexil(context: dict[str, Any]) -> Context:
    """Map an OFREP context onto a vexil one.

    Single: `targetingKey` becomes `key` (a `key` attribute is replaced by it), `kind` (default `user`) is the
    context kind, every other attribute is kept as is. Multi (`"kind": "multi"`): every attribute except
    `kind` and `targetingKey` is one kind's context, keyed by its own `targetingKey` (or `key`).
    """
    if context.get("kind") == MULTI:
        return _checked(_multi(context))
    single = {name: value for name, value in context.items() if name != TARGETING_KEY}
    single["key"] = _targeting_key(context.get(TARGETING_KEY), "context")
    return _checked(single)


def _multi(context: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": MULTI}
    for kind, attributes in context.items():
        if kind in ("kind", TARGETING_KEY):
            continue  # a top-level targetingKey is not one of the kinds' keys
        if not isinstance(attributes, dict):
            raise OfrepRequestError(
                OfrepErrorCode.INVALID_CONTEXT,
                f"in a multi-context every attribute except kind and targetingKey is one kind's context "
                f"object; {kind!r} is {_json_type(attributes)}",
            )
        raw_key = attributes.get(TARGETING_KEY, attributes.get("key"))
        nested = {name: value for name, value in attributes.items() if name not in ("kind", TARGETING_KEY)}
        nested["key"] = _targeting_key(raw_key, f"context.{kind}")
        out[kind] = nested
    if len(out) == 1:
        raise OfrepRequestError(OfrepErrorCode.INVALID_CONTEXT, "a multi-context needs at least one kind")
    return out


def _targeting_key(value: object, where: str) -> str:
    if value is None or value == "":
        raise OfrepRequestError(
            OfrepErrorCode.TARGETING_KEY_MISSING, f"{where} has no targetingKey (a non-empty string)"
        )
    if not isinstance(value, str):
        raise OfrepRequestError(
            OfrepErrorCode.INVALID_CONTEXT, f"{where}.targetingKey must be a string, not {_json_type(value)}"
        )
    return value


def _checked(data: dict[str, Any]) -> Context:
    context = Context.from_dict(data)
    if context.error is not None:
        raise OfrepRequestError(OfrepErrorCode.INVALID_CONTEXT, context.error)
    return context


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
