"""Attribute references: a plain name, or a "/json/pointer" into nested attribute objects.

Compiled once per clause into a getter; a malformed reference becomes a getter that raises Malformed,
so only evaluations that reach it fail (LaunchDarkly semantics), never the whole snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Getter = Callable[[Mapping[str, Any]], Any]


class Malformed(Exception):  # noqa: N818 -- an evaluation outcome, not a programming error
    """Raised inside evaluation when a malformed part of a flag is reached."""


def parse_reference(ref: str) -> tuple[str, ...] | None:
    """Split an attribute reference into path components; None when it is malformed."""
    if not ref:
        return None
    if not ref.startswith("/"):
        return (ref,)
    parts = ref[1:].split("/")
    out = []
    for part in parts:
        if not part:
            return None
        i = part.find("~")
        while i != -1:
            if i + 1 >= len(part) or part[i + 1] not in "01":
                return None
            i = part.find("~", i + 2)
        out.append(part.replace("~1", "/").replace("~0", "~"))
    return tuple(out)


def compile_getter(ref: object) -> Getter:
    path = parse_reference(ref) if isinstance(ref, str) else None
    if path is None:

        def malformed(attrs: Mapping[str, Any]) -> Any:
            raise Malformed(f"invalid attribute reference {ref!r}")

        return malformed
    if len(path) == 1:
        (name,) = path
        if name == "_meta":
            return lambda attrs: None  # private-attribute metadata is never addressable
        if name == "anonymous":
            return lambda attrs: attrs.get("anonymous", False)  # built in: every context is or is not
        return lambda attrs: attrs.get(name)
    head, rest = path[0], path[1:]

    def nested(attrs: Mapping[str, Any]) -> Any:
        value = attrs.get(head)
        for part in rest:
            if value.__class__ is not dict:
                return None
            value = value.get(part)
        return value

    return nested


def plain_name(ref: object) -> str | None:
    """The attribute name when the reference is a single top-level name (the fast path)."""
    path = parse_reference(ref) if isinstance(ref, str) else None
    if path is None or len(path) != 1 or path[0] in ("_meta", "anonymous"):
        return None
    return path[0]
