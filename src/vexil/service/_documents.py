"""Resource bodies and the engine document they make: field sets, defaults, cleaning, merging, validating.

Pure functions; the use cases call them inside a transaction. Validation itself is the engine's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vexil.engine import Problem, validate_document

from ._errors import ValidationFailed
from ._models import JsonObject

KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")

DEFINITION_FIELDS = frozenset(
    {"variations", "variation_info", "description", "tags", "temporary", "owner", "client_side", "salt"}
)
TARGETING_FIELDS = frozenset({"on", "targets", "rules", "fallthrough", "off_variation", "prerequisites"})
SEGMENT_FIELDS = frozenset(
    {"included", "excluded", "included_contexts", "excluded_contexts", "rules", "salt", "description"}
)
#: Fields of our own representations: accepted in bodies so GET -> edit -> PUT round-trips, then dropped.
READ_ONLY_FIELDS = frozenset(
    {"version", "created_at", "updated_at", "project", "environment", "flag", "snapshot_version"}
)


def body_version(body: Mapping[str, Any], expected_version: int | None) -> int | None:
    """The explicit expected version wins; else an integer `version` in the body acts as one."""
    if expected_version is not None:
        return expected_version
    found = body.get("version") if isinstance(body, Mapping) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def new_key(body: Any) -> str:
    """The `key` of a creation body, or `ValidationFailed` (also when the body is not an object)."""
    if not isinstance(body, Mapping):
        raise ValidationFailed([Problem("", "must be a JSON object")])
    key = body.get("key")
    raise_if(check_key(key))
    return str(key)


def check_key(key: Any, path: str = "key") -> list[Problem]:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        return [Problem(path, f"must be a key matching {KEY_PATTERN.pattern}")]
    return []


def storable(text: str) -> bool:
    """False for text neither database can keep: NUL characters, unpaired surrogates (not UTF-8)."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_UNSTORABLE = "must not contain NUL characters or unpaired surrogates"


def unstorable(value: Any, path: str) -> list[Problem]:
    """A problem per string (value or member name) in a JSON value that cannot be stored, with its path."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not storable(item):
                problems.append(Problem(where, _UNSTORABLE))
        elif isinstance(item, Mapping):
            for name, child in item.items():
                child_path = f"{where}.{name}" if where else str(name)
                if isinstance(name, str) and not storable(name):
                    problems.append(Problem(child_path, "member names " + _UNSTORABLE))
                stack.append((child, child_path))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(item))
    return problems


def clean_body(
    body: Any,
    allowed: Iterable[str],
    *,
    key: str | None,
    prefix: str,
    hint: Mapping[str, str] | None = None,
) -> JsonObject:
    """Keep the `allowed` fields of a request body; raise `ValidationFailed` for anything unknown or for
    strings that cannot be stored.

    `key` (when given) must match a `key` in the body; `prefix` is prepended to problem paths.
    """
    if not isinstance(body, Mapping):
        raise ValidationFailed([Problem(prefix.rstrip("."), "must be a JSON object")])
    allowed_set = frozenset(allowed)
    problems: list[Problem] = []
    kept: JsonObject = {}
    for name, value in body.items():
        if name in allowed_set:
            kept[name] = value
            problems += unstorable(value, f"{prefix}{name}")
        elif name == "key":
            if key is not None and value != key:
                problems.append(Problem(f"{prefix}key", f"must equal the key in the path ({key!r})"))
        elif name not in READ_ONLY_FIELDS:
            extra = f" ({hint[name]})" if hint and name in hint else ""
            problems.append(Problem(f"{prefix}{name}", f"unknown field{extra}"))
    if problems:
        raise ValidationFailed(problems)
    return kept


def default_targeting(variations: Any) -> JsonObject:
    """Off; boolean flags serve `false` when off and `true` when turned on, other flags index 0."""
    off, on = 0, 0
    if (
        isinstance(variations, list)
        and len(variations) == 2
        and all(isinstance(v, bool) for v in variations)
        and variations[0] != variations[1]
    ):
        off, on = variations.index(False), variations.index(True)
    return {"on": False, "off_variation": off, "fallthrough": {"variation": on}}


def flag_item(
    key: str, definition: Mapping[str, Any], targeting: Mapping[str, Any], version: int
) -> JsonObject:
    """A flag in the engine's format: the definition and one environment's targeting merged."""
    return {"key": key, **definition, **targeting, "version": version}


def segment_item(key: str, body: Mapping[str, Any], version: int) -> JsonObject:
    return {"key": key, **body, "version": version}


def client_side_only(document: Mapping[str, Any]) -> JsonObject:
    flags = {k: f for k, f in document.get("flags", {}).items() if f.get("client_side") is True}
    return {"flags": flags, "segments": dict(document.get("segments", {}))}


def validate(document: Mapping[str, Any], where: str | None = None) -> list[Problem]:
    """Engine problems as `Problem`s; `where` names the environment when several are checked."""
    suffix = f" (in environment {where})" if where else ""
    return [Problem(p.path, p.message + suffix) if suffix else p for p in validate_document(document)]


def raise_if(problems: list[Problem]) -> None:
    if problems:
        raise ValidationFailed(problems)
