"""Turn a flag document file into an engine Snapshot, or into the list of its problems.

The one place the CLI compiles documents; it prints nothing and decides no exit codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vexil.cli._docs import load_document
from vexil.engine import SchemaError, Snapshot


@dataclass(frozen=True, slots=True)
class Compiled:
    """A snapshot (None when the document is invalid), its problems as `path: message` lines, and counts."""

    snapshot: Snapshot | None
    problems: tuple[str, ...]
    n_flags: int
    n_segments: int


def _count(doc: Mapping[str, Any], field: str) -> int:
    section = doc.get(field)
    return len(section) if isinstance(section, Mapping) else 0


def compile_file(path: str) -> Compiled:
    """Raises DocumentError (exit 2) when the file cannot be read or parsed."""
    doc = load_document(path)
    counts = (_count(doc, "flags"), _count(doc, "segments")) if isinstance(doc, Mapping) else (0, 0)
    try:
        snapshot = Snapshot.from_document(doc)
    except SchemaError as exc:
        return Compiled(None, tuple(f"{p.path or '(document)'}: {p.message}" for p in exc.problems), *counts)
    return Compiled(snapshot, (), *counts)
