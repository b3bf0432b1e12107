"""Snapshot: an immutable, compiled set of flags and segments, and the one evaluation entry point.

Pure: no I/O, no clocks, no randomness. Updates build a new Snapshot (copy-on-write of the tables),
so readers on other threads never see a half-applied change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vexil.engine._attributes import Malformed
from vexil.engine._codegen import FlagFn
from vexil.engine._compile import (
    MALFORMED,
    CompiledFlag,
    CompiledSegment,
    compile_flag,
    compile_segment,
)
from vexil.engine._context import Context, as_context
from vexil.engine._problems import Problem, SchemaError
from vexil.engine._result import ErrorKind, Result, error_result
from vexil.engine._validate import validate_document

FLAG_NOT_FOUND = error_result(ErrorKind.FLAG_NOT_FOUND)
USER_NOT_SPECIFIED = error_result(ErrorKind.USER_NOT_SPECIFIED)
_EMPTY: Mapping[str, Any] = {}


class Snapshot:
    """Compiled flags and segments; evaluate with `evaluate(key, context)` or `evaluate_all(context)`."""

    __slots__ = ("_evaluators", "flag_table", "flags", "segment_table", "segments")

    flag_table: Mapping[str, CompiledFlag]
    segment_table: Mapping[str, CompiledSegment]
    # The source documents, kept for serialisation and patches; treat as read-only.
    flags: Mapping[str, Any]
    segments: Mapping[str, Any]
    _evaluators: tuple[tuple[str, FlagFn], ...]

    def __init__(
        self,
        flags: Mapping[str, Any],
        segments: Mapping[str, Any],
        flag_table: Mapping[str, CompiledFlag],
        segment_table: Mapping[str, CompiledSegment],
    ) -> None:
        object.__setattr__(self, "flags", flags)
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "flag_table", flag_table)
        object.__setattr__(self, "segment_table", segment_table)
        # (key, evaluate) pairs, so evaluate_all does no attribute lookups per flag.
        object.__setattr__(self, "_evaluators", tuple((k, f.evaluate) for k, f in flag_table.items()))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Snapshot is immutable")

    @classmethod
    def empty(cls) -> Snapshot:
        return cls({}, {}, {}, {})

    @classmethod
    def from_document(cls, document: object, *, strict: bool = True) -> Snapshot:
        """Compile a `{"flags": {...}, "segments": {...}}` document.

        strict (the default) validates first and raises SchemaError listing every problem. With
        strict=False nothing is rejected: malformed parts evaluate to ERROR/MALFORMED_FLAG when
        reached, so one bad flag never hides the others (what an SDK wants from a server's data).
        """
        if strict:
            problems = validate_document(document)
            if problems:
                raise SchemaError(problems)
        if not isinstance(document, Mapping):
            raise SchemaError([Problem("", "a flag document must be an object")])
        flags = document.get("flags")
        segments = document.get("segments")
        flags = dict(flags) if isinstance(flags, Mapping) else {}
        segments = dict(segments) if isinstance(segments, Mapping) else {}
        return cls(
            flags,
            segments,
            {k: compile_flag(k, v) for k, v in flags.items()},
            {k: compile_segment(k, v) for k, v in segments.items()},
        )

    def with_changes(
        self,
        flags: Mapping[str, object | None] = _EMPTY,
        segments: Mapping[str, object | None] = _EMPTY,
    ) -> Snapshot:
        """A new snapshot with flags/segments replaced (None deletes); only the changed ones compile."""
        flag_docs, flag_table = dict(self.flags), dict(self.flag_table)
        for key, doc in flags.items():
            if doc is None:
                flag_docs.pop(key, None)
                flag_table.pop(key, None)
            else:
                flag_docs[key] = doc
                flag_table[key] = compile_flag(key, doc)
        segment_docs, segment_table = dict(self.segments), dict(self.segment_table)
        for key, doc in segments.items():
            if doc is None:
                segment_docs.pop(key, None)
                segment_table.pop(key, None)
            else:
                segment_docs[key] = doc
                segment_table[key] = compile_segment(key, doc)
        return Snapshot(flag_docs, segment_docs, flag_table, segment_table)

    def document(self) -> dict[str, Any]:
        return {"flags": dict(self.flags), "segments": dict(self.segments)}

    def __contains__(self, key: object) -> bool:
        return key in self.flag_table

    def __len__(self) -> int:
        return len(self.flag_table)

    def evaluate(self, key: str, context: Context | Mapping[str, Any]) -> Result:
        """Evaluate one flag; never raises. Errors come back as results with an ERROR reason."""
        flag = self.flag_table.get(key)
        if flag is None:
            return FLAG_NOT_FOUND
        ctx = context if context.__class__ is Context else Context.from_dict(context)
        if ctx.error is not None:
            return USER_NOT_SPECIFIED
        try:
            return flag.evaluate(ctx.kinds, self, ())
        except (Malformed, RecursionError):
            return MALFORMED

    def evaluate_all(self, context: Context | Mapping[str, Any]) -> dict[str, Result]:
        """Evaluate every flag for one context."""
        ctx = as_context(context)
        if ctx.error is not None:
            return dict.fromkeys(self.flag_table, USER_NOT_SPECIFIED)
        kinds = ctx.kinds
        try:
            return {key: evaluate(kinds, self, ()) for key, evaluate in self._evaluators}
        except (Malformed, RecursionError):
            pass  # rare: redo flag by flag so only the malformed ones report the error
        out: dict[str, Result] = {}
        for key, evaluate in self._evaluators:
            try:
                out[key] = evaluate(kinds, self, ())
            except (Malformed, RecursionError):
                out[key] = MALFORMED
        return out
