"""Static screening of `matches` patterns for catastrophic backtracking (the engine cannot use RE2).

It only walks the parse tree of a pattern; it never runs one. It is conservative: a few safe patterns
are rejected (the message says why); an accepted one costs at most about a quadratic scan of the subject.
"""

from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass
from typing import Any

MAX_PATTERN_LENGTH = 1000
# `matches` never tries a longer subject; the cost model below assumes subjects of at most this length.
MAX_SUBJECT_LENGTH = 1024
# Costs are counted in bits: log2 of the worst-case number of backtracking steps. The budget is about
# twice a quadratic scan of the longest subject (e.g. an unanchored search with one overlapping
# repeat), which the stdlib engine does in a fraction of a second.
_SUBJECT_BITS = math.log2(MAX_SUBJECT_LENGTH)
_MAX_BITS = 2 * _SUBJECT_BITS + 1
# A repeat that may take more than this many different counts costs like an unbounded one.
_LARGE_SPAN = 16
# Deeper nesting would exhaust the recursion of the stdlib parser or of this walker.
_MAX_NESTING = 50

_ATOMS = frozenset({"LITERAL", "NOT_LITERAL", "ANY", "IN", "CATEGORY"})
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
# Latin-1 and Latin Extended-A plus characters whose class membership or case folding is unusual:
# overlaps between character classes are decided on this sample plus the pattern's own characters.
_SAMPLE_EXTRA = "\u0130\u0131\u017f\u212a\u2126\u0660\u06f5\u0966\u2003\u3000\u4e00\u00b2\u2028\U0001f600"


class _UnsafeError(Exception):
    """Raised inside the walker when a pattern is rejected; never escapes regex_problem."""


@dataclass(frozen=True, slots=True)
class _After:
    """What can follow a point of the pattern (a right-to-left walk computes it)."""

    first: int  # bit mask over the sample alphabet of characters that can come next
    terminal: bool  # nothing follows: the match succeeds once this point is reached
    bits: float  # log2 of the worst-case backtracking cost from this point on


def regex_problem(pattern: str) -> str | None:
    """A message when `pattern` is invalid or may backtrack catastrophically, else None."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"regex is longer than {MAX_PATTERN_LENGTH} characters"
    parser = importlib.import_module("re._parser")
    try:
        tree = parser.parse(pattern)
        re.compile(pattern)
    except re.error as exc:
        return f"invalid regex: {exc}"
    except (RecursionError, OverflowError):
        return "regex is nested too deeply or too large"
    try:
        _Walker().check(tree)
    except _UnsafeError as exc:
        return f"unsafe regex: {exc}"
    except RecursionError:
        return "regex is nested too deeply or too large"
    return None


def _name(code: Any) -> str:
    return str(code)


class _Walker:
    def __init__(self) -> None:
        self._alphabet = sorted({chr(i) for i in range(0x180)} | set(_SAMPLE_EXTRA))
        self._class_cache: dict[tuple[object, ...], int] = {}
        self._first_cache: dict[int, tuple[int, bool]] = {}
        self._full = 0
        self._folded: dict[str, int] = {}
        self._index: dict[str, int] = {}
        self._loops = 0
        self._depth = 0

    def check(self, tree: Any) -> None:
        flags: int = tree.state.flags
        self._collect_chars(tree)
        after = self._walk(list(tree), flags, _After(0, True, 0))
        bits = after.bits + (0 if self._anchored(tree, flags) else _SUBJECT_BITS)
        if bits > _MAX_BITS:
            raise _UnsafeError("consecutive overlapping repeats can make matching take polynomial time")

    def _collect_chars(self, tree: Any) -> None:
        """Add the pattern's literals and range ends (with neighbours) to the sample alphabet."""
        stack: list[Any] = [tree]
        found: set[str] = set()
        while stack:
            node = stack.pop()
            if hasattr(node, "data"):
                stack.extend(node.data)
            elif isinstance(node, tuple | list):
                name = _name(node[0]) if len(node) == 2 else ""
                if name in {"LITERAL", "NOT_LITERAL"} and isinstance(node[1], int):
                    found.add(chr(node[1]))
                elif name == "RANGE":
                    lo, hi = node[1]
                    found.update(chr(c) for c in (lo, hi, max(lo - 1, 0), min(hi + 1, 0x10FFFF)))
                else:
                    stack.extend(node)
        self._alphabet = sorted(set(self._alphabet) | found)
        self._full = (1 << len(self._alphabet)) - 1
        self._index = {c: i for i, c in enumerate(self._alphabet)}
        # For a literal under IGNORECASE: the sample characters that have it as a case variant.
        for i, c in enumerate(self._alphabet):
            for v in _variants(c):
                self._folded[v] = self._folded.get(v, 0) | 1 << i

    @staticmethod
    def _anchored(tree: Any, flags: int) -> bool:
        if len(tree) == 0 or _name(tree[0][0]) != "AT":
            return False
        at = _name(tree[0][1])
        return at == "AT_BEGINNING_STRING" or (at == "AT_BEGINNING" and not flags & re.MULTILINE)

    # -- character classes -------------------------------------------------------------------------

    def _mask(self, op: str, av: Any, flags: int) -> int:
        if op in {"LITERAL", "NOT_LITERAL"}:
            char = chr(av)
            bits = self._folded.get(char, 0) if flags & re.IGNORECASE else 0
            index = self._index.get(char)
            bits |= 0 if index is None else 1 << index
            return bits if op == "LITERAL" else self._full & ~bits
        key = (op, repr(av), flags & (re.IGNORECASE | re.ASCII | re.DOTALL))
        cached = self._class_cache.get(key)
        if cached is not None:
            return cached
        mask = 0
        for i, c in enumerate(self._alphabet):
            if self._member(op, av, flags, c):
                mask |= 1 << i
        self._class_cache[key] = mask
        return mask

    def _member(self, op: str, av: Any, flags: int, c: str) -> bool:
        if not flags & re.IGNORECASE:
            return _member_exact(op, av, flags, c)
        return any(_member_exact(op, av, flags, v) for v in _variants(c))

    # -- first sets --------------------------------------------------------------------------------

    def _first(self, items: list[Any], flags: int) -> tuple[int, bool]:
        """(mask of possible first characters, whether the sequence can match the empty string)."""
        key = id(items)
        cached = self._first_cache.get(key)
        if cached is not None:
            return cached
        mask = 0
        nullable = True
        for op_code, av in items:
            m, n = self._first_item(_name(op_code), av, flags)
            mask |= m
            if not n:
                nullable = False
                break
        self._first_cache[key] = (mask, nullable)
        return mask, nullable

    def _first_item(self, op: str, av: Any, flags: int) -> tuple[int, bool]:
        if op in _ATOMS:
            return self._mask(op, av, flags), False
        if op == "SUBPATTERN":
            return self._first(av[3].data, (flags | av[1]) & ~av[2])
        if op == "ATOMIC_GROUP":
            return self._first(av.data, flags)
        if op == "BRANCH":
            mask, nullable = 0, False
            for alt in av[1]:
                m, n = self._first(alt.data, flags)
                mask, nullable = mask | m, nullable or n
            return mask, nullable
        if op in _REPEATS:
            lo, hi, body = av
            if hi == 0:
                return 0, True
            m, n = self._first(body.data, flags)
            return m, n or lo == 0
        if op in {"AT", "ASSERT", "ASSERT_NOT"}:
            return 0, True
        raise _UnsafeError(_unsupported(op))

    # -- the backtracking analysis -----------------------------------------------------------------

    def _walk(self, items: list[Any], flags: int, after: _After) -> _After:
        self._depth += 1
        if self._depth > _MAX_NESTING:
            raise _UnsafeError("regex is nested too deeply")
        for op_code, av in reversed(items):
            after = self._step(_name(op_code), av, flags, after)
        self._depth -= 1
        return after

    def _step(self, op: str, av: Any, flags: int, after: _After) -> _After:
        if op in _ATOMS:
            return _After(self._mask(op, av, flags), False, after.bits)
        if op == "AT":
            return _After(after.first, False, after.bits)
        if op == "SUBPATTERN":
            return self._walk(av[3].data, (flags | av[1]) & ~av[2], after)
        if op == "ATOMIC_GROUP":
            return self._walk(av.data, flags, after)
        if op == "BRANCH":
            return self._branch(av[1], flags, after)
        if op in {"ASSERT", "ASSERT_NOT"}:
            inner = self._walk(av[1].data, flags, _After(0, True, 0))
            scans = inner.bits >= _SUBJECT_BITS
            if self._loops and scans:
                raise _UnsafeError("a lookaround containing a repeat inside a repeat")
            # A lookaround that scans runs wherever a preceding repeat could stop, so it must count
            # as overlapping everything (a repeat before it is then ambiguous).
            return _After(self._full if scans else after.first, False, _plus(after.bits, inner.bits))
        if op in _REPEATS:
            return self._repeat(av, flags, after)
        raise _UnsafeError(_unsupported(op))

    def _branch(self, alts: list[Any], flags: int, after: _After) -> _After:
        first, terminal, overlap = 0, False, False
        costs: list[float] = []
        for alt in alts:
            res = self._walk(alt.data, flags, after)
            overlap = overlap or bool(res.first & first)
            first, terminal = first | res.first, terminal or res.terminal
            costs.append(res.bits)
        if overlap and self._loops:
            raise _UnsafeError("alternatives inside a repeat can match the same text")
        # Alternatives with disjoint first characters: at most one gets past its first character.
        return _After(first, terminal, _plus(*costs) if overlap else max(costs))

    def _repeat(self, av: Any, flags: int, after: _After) -> _After:
        lo, hi, body = av
        if hi == 0:
            return after
        body_first, body_nullable = self._first(body.data, flags)
        if hi > 1 and body_nullable:
            raise _UnsafeError("a repeated part must not be able to match the empty string")
        variable = hi > lo
        large = hi == _max_repeat() or hi - lo > _LARGE_SPAN
        ambiguous = variable and bool(body_first & after.first)
        if ambiguous and self._loops:
            raise _UnsafeError("nested repeats can match the same text in many ways (e.g. (a+)+)")
        first = body_first | (after.first if lo == 0 or body_nullable else 0)
        terminal = after.terminal and lo == 0
        if hi == 1:
            # An optional part is "this or nothing": its content is followed by the real continuation,
            # and skipping it only gets past the next character when the two overlap.
            inner = self._walk(body.data, flags, after)
            return _After(first, terminal, _plus(inner.bits, after.bits) if ambiguous else inner.bits)
        self._loops += 1
        inner = self._walk(body.data, flags, _After(body_first | after.first, False, 0))
        self._loops -= 1
        span = _SUBJECT_BITS if large else math.log2(hi - lo + 1)
        if ambiguous:
            # every place where the repeat can stop re-runs the rest of the pattern
            bits = _plus(span + after.bits, inner.bits)
        elif large and after.terminal:
            bits = max(after.bits, inner.bits)  # the match succeeds once the repeat stops
        elif variable:
            # the repeat tries each count once, failing fast on all but one of them
            bits = _plus(max(span, inner.bits), after.bits)
        else:
            bits = _plus(inner.bits, after.bits)
        return _After(first, terminal, bits)


def _variants(c: str) -> set[str]:
    """`c` and its one-character case variants (a superset of what IGNORECASE treats as equal)."""
    return {v for v in (c, c.lower(), c.upper(), c.casefold(), c.swapcase()) if len(v) == 1}


def _plus(*bits: float) -> float:
    """The bits of a sum of costs given in bits."""
    top = max(bits)
    return top + math.log2(sum(2.0 ** (b - top) for b in bits))


def _max_repeat() -> int:
    constants = importlib.import_module("re._constants")
    return int(constants.MAXREPEAT)


def _unsupported(op: str) -> str:
    if op in {"GROUPREF", "GROUPREF_EXISTS"}:
        return "backreferences are not allowed"
    return f"unsupported regex construct {op}"


def _member_exact(op: str, av: Any, flags: int, c: str) -> bool:
    if op == "LITERAL":
        return ord(c) == int(av)
    if op == "NOT_LITERAL":
        return ord(c) != int(av)
    if op == "ANY":
        return c != "\n" or bool(flags & re.DOTALL)
    if op == "CATEGORY":
        return _category(_name(av), flags, c)
    # IN: a list of (op, av) items, optionally starting with NEGATE
    negate = False
    hit = False
    for item_op, item_av in av:
        name = _name(item_op)
        if name == "NEGATE":
            negate = True
        elif name == "RANGE":
            hit = item_av[0] <= ord(c) <= item_av[1]
        else:
            hit = _member_exact(name, item_av, flags, c)
        if hit:
            break
    return hit != negate


def _category(name: str, flags: int, c: str) -> bool:
    ascii_only = bool(flags & re.ASCII)
    if name.startswith("CATEGORY_NOT_"):
        return not _category("CATEGORY_" + name.removeprefix("CATEGORY_NOT_"), flags, c)
    if name == "CATEGORY_DIGIT":
        return "0" <= c <= "9" if ascii_only else c.isdecimal()
    if name == "CATEGORY_SPACE":
        return c in " \t\n\r\f\v" if ascii_only else c.isspace()
    if name == "CATEGORY_WORD":
        return (c.isascii() or not ascii_only) and (c.isalnum() or c == "_")
    if name == "CATEGORY_LINEBREAK":
        return c == "\n"
    # Unknown categories count as matching everything, which can only make the analysis stricter.
    return True
