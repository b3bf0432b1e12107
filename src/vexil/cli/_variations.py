"""What a flag's variations say about it: its value kind (bool, string, number, json) and, for boolean
flags, which index serves true and which false.

Pure helpers shared by the flag commands and codegen.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any


class ValueKind(enum.StrEnum):
    BOOL = "bool"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


def value_kind(variations: Sequence[Any]) -> ValueKind:
    """The kind every variation shares; `json` when they are objects, lists, null or mixed."""
    if variations and all(isinstance(v, bool) for v in variations):
        return ValueKind.BOOL
    if variations and all(isinstance(v, str) for v in variations):
        return ValueKind.STRING
    if variations and all(isinstance(v, int | float) and not isinstance(v, bool) for v in variations):
        return ValueKind.NUMBER
    return ValueKind.JSON


def boolean_indices(variations: Sequence[Any]) -> tuple[int, int] | None:
    """`(index of true, index of false)` for a boolean flag (exactly one true and one false), else None."""
    if (
        len(variations) == 2
        and all(isinstance(v, bool) for v in variations)
        and variations[0] != variations[1]
    ):
        return variations.index(True), variations.index(False)
    return None
