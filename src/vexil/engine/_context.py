"""Evaluation contexts: one or several kinds (user, org, device, ...), each a key plus attributes.

Built from plain dicts without copying them (the caller must not mutate a dict while it is evaluated);
an invalid context is still a Context, carrying the reason, so evaluation can answer instead of raise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_KIND_RE = re.compile(r"[A-Za-z0-9._-]+")
DEFAULT_KIND = "user"
MULTI = "multi"


class Context:
    """An immutable evaluation context; use `Context.from_dict` (never raises) to build one."""

    __slots__ = ("error", "kinds")

    # kind name -> that kind's attributes (including "key"); empty when the context is invalid.
    kinds: dict[str, Mapping[str, Any]]
    error: str | None

    def __init__(self, kinds: dict[str, Mapping[str, Any]], error: str | None = None) -> None:
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "error", error)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Context is immutable")

    @classmethod
    def from_dict(cls, data: object) -> Context:
        """Build from `{"key": .., "kind"?: .., ...}` or `{"kind": "multi", KIND: {...}, ...}`."""
        if data.__class__ is not dict:
            if not isinstance(data, Mapping):
                return cls({}, "context must be an object")
            data = dict(data)
        d: dict[str, Any] = data
        kind = d.get("kind", DEFAULT_KIND)
        if kind == DEFAULT_KIND:
            key = d.get("key")
            if key.__class__ is str and key:
                # The common case, built without __init__: this runs once per request.
                ctx = _new(cls)
                _set_kinds(ctx, {DEFAULT_KIND: d})
                _set_error(ctx, None)
                return ctx
        elif kind == MULTI:
            return cls._multi(d)
        problem = _check_single(kind, d)
        if problem is not None:
            return cls({}, problem)
        return cls({kind: d})

    @classmethod
    def _multi(cls, d: dict[str, Any]) -> Context:
        kinds: dict[str, Mapping[str, Any]] = {}
        for kind, attrs in d.items():
            if kind == "kind":
                continue
            if not isinstance(attrs, Mapping):
                return cls({}, f"multi-context kind {kind!r} must be an object")
            problem = _check_single(kind, attrs)
            if problem is not None:
                return cls({}, problem)
            kinds[kind] = attrs
        if not kinds:
            return cls({}, "a multi-context needs at least one kind")
        return cls(kinds)

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def key(self) -> str | None:
        """The key of a single-kind context (None for multi-contexts and invalid ones)."""
        if len(self.kinds) != 1:
            return None
        for attrs in self.kinds.values():
            key: str = attrs["key"]
            return key
        return None

    def get(self, kind: str, attribute: str) -> Any:
        attrs = self.kinds.get(kind)
        return None if attrs is None else attrs.get(attribute)

    def to_dict(self) -> dict[str, Any]:
        if len(self.kinds) == 1:
            ((kind, attrs),) = self.kinds.items()
            return {**attrs, "kind": kind}
        out: dict[str, Any] = {"kind": MULTI}
        for kind, attrs in self.kinds.items():
            out[kind] = {k: v for k, v in attrs.items() if k != "kind"}
        return out

    def __repr__(self) -> str:
        return f"Context({self.to_dict()!r})" if self.error is None else f"Context(invalid: {self.error})"


# Slot setters bypass the immutability guard in __setattr__ for the fast constructor above.
_new = object.__new__
_set_kinds = Context.__dict__["kinds"].__set__
_set_error = Context.__dict__["error"].__set__


def _check_single(kind: object, attrs: Mapping[str, Any]) -> str | None:
    if kind != DEFAULT_KIND and (
        kind.__class__ is not str or kind in ("kind", MULTI) or not _KIND_RE.fullmatch(kind)
    ):
        return f"invalid context kind {kind!r}"
    key = attrs.get("key")
    if key.__class__ is not str or not key:
        return f"context of kind {kind!r} needs a non-empty string key"
    return None


def as_context(value: object) -> Context:
    return value if value.__class__ is Context else Context.from_dict(value)
