"""Evaluation results and their typed reasons.

Results are immutable and shared: the compiler builds every result a flag can produce once, so an
evaluation returns a prebuilt object instead of allocating one. Never mutate a result's value.
"""

from __future__ import annotations

import enum
from typing import Any


class ReasonKind(enum.StrEnum):
    OFF = "OFF"
    TARGET_MATCH = "TARGET_MATCH"
    RULE_MATCH = "RULE_MATCH"
    FALLTHROUGH = "FALLTHROUGH"
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    ERROR = "ERROR"


class ErrorKind(enum.StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    MALFORMED_FLAG = "MALFORMED_FLAG"
    WRONG_TYPE = "WRONG_TYPE"
    USER_NOT_SPECIFIED = "USER_NOT_SPECIFIED"
    CLIENT_NOT_READY = "CLIENT_NOT_READY"
    EXCEPTION = "EXCEPTION"


class Reason:
    """Why a flag evaluated the way it did."""

    __slots__ = ("error_kind", "in_experiment", "kind", "prerequisite_key", "rule_id", "rule_index")

    kind: ReasonKind
    rule_index: int | None
    rule_id: str | None
    prerequisite_key: str | None
    error_kind: ErrorKind | None
    in_experiment: bool

    def __init__(
        self,
        kind: ReasonKind,
        *,
        rule_index: int | None = None,
        rule_id: str | None = None,
        prerequisite_key: str | None = None,
        error_kind: ErrorKind | None = None,
        in_experiment: bool = False,
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "rule_index", rule_index)
        object.__setattr__(self, "rule_id", rule_id)
        object.__setattr__(self, "prerequisite_key", prerequisite_key)
        object.__setattr__(self, "error_kind", error_kind)
        object.__setattr__(self, "in_experiment", in_experiment)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Reason is immutable")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value}
        if self.rule_index is not None:
            out["rule_index"] = self.rule_index
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
        if self.prerequisite_key is not None:
            out["prerequisite_key"] = self.prerequisite_key
        if self.error_kind is not None:
            out["error_kind"] = self.error_kind.value
        if self.in_experiment:
            out["in_experiment"] = True
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reason) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.kind, self.rule_index, self.rule_id, self.prerequisite_key, self.error_kind))

    def __repr__(self) -> str:
        return f"Reason({self.to_dict()!r})"


class Result:
    """The answer for one flag and one context: value, variation index (or None) and reason."""

    __slots__ = ("reason", "value", "variation")

    value: Any
    variation: int | None
    reason: Reason

    def __init__(self, value: Any, variation: int | None, reason: Reason) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "variation", variation)
        object.__setattr__(self, "reason", reason)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Result is immutable")

    @property
    def is_error(self) -> bool:
        return self.reason.kind is ReasonKind.ERROR

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "variation": self.variation, "reason": self.reason.to_dict()}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Result)
            and self.variation == other.variation
            and self.value == other.value
            and self.reason == other.reason
        )

    def __hash__(self) -> int:
        return hash((self.variation, self.reason))

    def __repr__(self) -> str:
        return f"Result({self.to_dict()!r})"


def error_result(error_kind: ErrorKind, value: Any = None) -> Result:
    return Result(value, None, Reason(ReasonKind.ERROR, error_kind=error_kind))
