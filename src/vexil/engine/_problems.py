"""Validation problems (a path plus a message) and the SchemaError that carries them.

Plain values only: this module formats paths and messages and must not inspect documents itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# A path part: a str is an object key, an int is a list index.
PathPart = str | int

# Keys outside this alphabet are written as ["..."] so that a dotted key such as "a.b" can never be
# confused with the nested path a -> b.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_:-]+")


def format_path(parts: Sequence[PathPart]) -> str:
    """`("flags", "a", "rules", 2, "op")` -> `flags.a.rules[2].op`; `()` -> `""`."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (`flags.a.rules[2].op`) and what, in plain English."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SchemaError(ValueError):
    """A document failed validation; `.problems` lists every problem found, not just the first."""

    problems: list[Problem]

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__(self._text())

    def _text(self) -> str:
        if not self.problems:
            return "invalid document"
        return "\n".join(str(problem) for problem in self.problems)

    def __str__(self) -> str:
        return self._text()

    def __reduce__(self) -> tuple[type[SchemaError], tuple[list[Problem]]]:
        # The default would rebuild from the message text and lose the structured problems.
        return (SchemaError, (self.problems,))
