"""Readable differences between two JSON values (audit before/after, conflicts) and a three-way merge.

Pure functions over plain JSON values; bookkeeping fields (versions, timestamps) are left out of diffs.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Fields every stored resource carries that change on each write and say nothing about the change.
BOOKKEEPING = frozenset({"version", "created_at", "updated_at", "snapshot_version"})


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class Change:
    """One leaf that differs; `path` reads like `rules[0].clauses[1].values` ("" is the whole value)."""

    path: str
    kind: ChangeKind
    before: Any = None
    after: Any = None

    @property
    def before_text(self) -> str:
        return compact(self.before)

    @property
    def after_text(self) -> str:
        return compact(self.after)


def compact(value: Any) -> str:
    """One-line JSON, the way values are shown in the console."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), sort_keys=False)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def diff(before: Any, after: Any, *, ignore: Iterable[str] = BOOKKEEPING) -> list[Change]:
    """The leaves that differ, in document order; `ignore` names top-level fields to leave out."""
    changes: list[Change] = []
    skipped = frozenset(ignore)
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        before = {k: v for k, v in before.items() if k not in skipped}
        after = {k: v for k, v in after.items() if k not in skipped}
    _walk("", before, after, changes)
    return changes


def _same(a: Any, b: Any) -> bool:
    # JSON equality where true != 1 (Python's == says otherwise).
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _whole(path: str, kind: ChangeKind, value: Any, out: list[Change]) -> None:
    """A field that appeared or went away; a list of objects (rules, targets) reads best item by item."""
    items = value if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) else None
    for index, item in enumerate(items or [value]):
        where = f"{path}[{index}]" if items is not None else path
        out.append(
            Change(
                where,
                kind,
                before=item if kind is ChangeKind.REMOVED else None,
                after=item if kind is ChangeKind.ADDED else None,
            )
        )


def _walk(path: str, before: Any, after: Any, out: list[Change]) -> None:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in [*before, *(k for k in after if k not in before)]:
            child = _join(path, str(key))
            if key not in after:
                _whole(child, ChangeKind.REMOVED, before[key], out)
            elif key not in before:
                _whole(child, ChangeKind.ADDED, after[key], out)
            else:
                _walk(child, before[key], after[key], out)
        return
    if isinstance(before, list) and isinstance(after, list) and before and after:
        scalars = all(not isinstance(v, (dict, list)) for v in [*before, *after])
        if scalars and len(before) != len(after):
            # A list of keys or values that grew or shrank reads best as one line.
            if before != after:
                out.append(Change(path, ChangeKind.CHANGED, before, after))
            return
        for index in range(max(len(before), len(after))):
            child = f"{path}[{index}]"
            if index >= len(after):
                out.append(Change(child, ChangeKind.REMOVED, before=before[index]))
            elif index >= len(before):
                out.append(Change(child, ChangeKind.ADDED, after=after[index]))
            else:
                _walk(child, before[index], after[index], out)
        return
    if before is None and after is not None and path == "":
        out.append(Change(path, ChangeKind.ADDED, after=after))
    elif after is None and before is not None and path == "":
        out.append(Change(path, ChangeKind.REMOVED, before=before))
    elif not _same(before, after):
        out.append(Change(path, ChangeKind.CHANGED, before, after))


@dataclass(frozen=True, slots=True)
class Merge:
    """`merged` takes each top-level field from whoever changed it; `overlapping` were changed by both
    sides differently (mine is kept, theirs is shown to the person)."""

    merged: dict[str, Any]
    overlapping: tuple[str, ...]


def merge_three(base: Mapping[str, Any], mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> Merge:
    """Three-way merge by top-level field, so a concurrent edit of another field is never reverted."""
    merged: dict[str, Any] = {}
    overlapping: list[str] = []
    for key in [*theirs, *(k for k in mine if k not in theirs)]:
        if key in BOOKKEEPING:
            continue
        in_base, in_mine, in_theirs = key in base, key in mine, key in theirs
        mine_changed = in_mine != in_base or (in_mine and not _deep_same(mine[key], base[key]))
        theirs_changed = in_theirs != in_base or (in_theirs and not _deep_same(theirs[key], base[key]))
        if mine_changed:
            if theirs_changed and not (in_mine == in_theirs and _deep_same(mine.get(key), theirs.get(key))):
                overlapping.append(key)
            if in_mine:
                merged[key] = mine[key]
        elif in_theirs:
            merged[key] = theirs[key]
    return Merge(merged, tuple(overlapping))


def _deep_same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
