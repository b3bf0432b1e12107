"""vexil evaluation results -> OFREP evaluation items (success or failure), encoded once per distinct result.

Mapping only (the table is in docs/ofrep.md): it evaluates nothing and knows no HTTP beyond a status number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vexil.engine import ErrorKind, Reason, ReasonKind, Result

from ._ofrep_codes import OfrepErrorCode, OfrepReason

#: A distinct result per flag is encoded once; flags producing more (not the engine's prebuilt ones) are
#: encoded per request past this many, so a memo can never grow without bound.
_MEMO_LIMIT = 256

Metadata = dict[str, str | int | float | bool]

_ERRORS: dict[ErrorKind | None, tuple[int, OfrepErrorCode, str]] = {
    ErrorKind.FLAG_NOT_FOUND: (404, OfrepErrorCode.FLAG_NOT_FOUND, "flag {key!r} was not found"),
    ErrorKind.MALFORMED_FLAG: (
        400,
        OfrepErrorCode.PARSE_ERROR,
        "flag {key!r} has a configuration the engine cannot evaluate (malformed)",
    ),
    ErrorKind.USER_NOT_SPECIFIED: (
        400,
        OfrepErrorCode.INVALID_CONTEXT,
        "the context is not a valid vexil context",
    ),
}
_GENERAL = (400, OfrepErrorCode.GENERAL, "flag {key!r} could not be evaluated")


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def failure(key: str | None, code: OfrepErrorCode, details: str) -> bytes:
    """An `evaluationFailure` (or, without a key, a `bulkEvaluationFailure`) body."""
    body: dict[str, Any] = {} if key is None else {"key": key}
    body["errorCode"] = code.value
    body["errorDetails"] = details
    return encode(body)


def flag_not_found(key: str) -> bytes:
    return failure(key, OfrepErrorCode.FLAG_NOT_FOUND, f"flag {key!r} was not found")


@dataclass(eq=False, slots=True)
class FlagInfo:
    """What the mapping needs to know about one flag beyond its result, read once from its document."""

    key: str
    client_side: bool
    variants: tuple[str, ...]
    #: No targets, rules or prerequisites and a fixed fallthrough: the same answer for every context.
    static: bool
    rollout_rules: frozenset[int]
    rollout_fallthrough: bool
    metadata: Metadata
    _memo: dict[int, tuple[Result, int, bytes]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, key: str, doc: object) -> FlagInfo:
        """Tolerant of malformed documents (the engine compiles those into MALFORMED_FLAG results)."""
        flag: Mapping[str, Any] = doc if isinstance(doc, Mapping) else {}
        variations = flag.get("variations")
        count = len(variations) if isinstance(variations, list) else 0
        info = flag.get("variation_info")
        names = [_name(info[i]) if isinstance(info, list) and i < len(info) else None for i in range(count)]
        rules = flag.get("rules")
        rules = rules if isinstance(rules, list) else []
        rollout_rules = frozenset(i for i, rule in enumerate(rules) if _is_rollout(_get(rule, "serve")))
        rollout_fallthrough = _is_rollout(flag.get("fallthrough"))
        static = not (flag.get("targets") or rules or flag.get("prerequisites") or rollout_fallthrough)
        return cls(
            key=key,
            client_side=flag.get("client_side") is True,
            variants=tuple(name or str(i) for i, name in enumerate(names)),
            static=static,
            rollout_rules=rollout_rules,
            rollout_fallthrough=rollout_fallthrough,
            metadata=_flag_metadata(flag),
        )

    def variant(self, variation: int) -> str:
        return self.variants[variation] if 0 <= variation < len(self.variants) else str(variation)

    def item(self, result: Result) -> tuple[int, bytes]:
        """(HTTP status of a single evaluation, the encoded item); a bulk response uses the item alone."""
        hit = self._memo.get(id(result))
        if hit is not None and hit[0] is result:
            return hit[1], hit[2]
        status, item = self.to_ofrep(result)
        encoded = encode(item)
        if len(self._memo) < _MEMO_LIMIT:
            # Holding the result keeps its id from being reused while the entry exists.
            self._memo[id(result)] = (result, status, encoded)
        return status, encoded

    def to_ofrep(self, result: Result) -> tuple[int, dict[str, Any]]:
        reason = result.reason
        if reason.kind is ReasonKind.ERROR:
            status, code, details = _ERRORS.get(reason.error_kind, _GENERAL)
            failed: dict[str, Any] = {
                "key": self.key,
                "errorCode": code.value,
                "errorDetails": details.format(key=self.key),
            }
            if self.metadata:
                failed["metadata"] = dict(self.metadata)
            return status, failed
        item: dict[str, Any] = {"key": self.key, "reason": self.reason(reason).value}
        if result.variation is not None:
            item["variant"] = self.variant(result.variation)
        if result.value is not None:
            # A null variation value is OFREP's codeDefaultFlag: no `value`, the caller's default applies.
            item["value"] = result.value
        item["metadata"] = {**self.metadata, **_reason_metadata(result, reason)}
        return 200, item

    def reason(self, reason: Reason) -> OfrepReason:
        kind = reason.kind
        if kind is ReasonKind.OFF:
            return OfrepReason.DISABLED
        if kind is ReasonKind.RULE_MATCH:
            rollout = reason.rule_index in self.rollout_rules
            return OfrepReason.SPLIT if rollout else OfrepReason.TARGETING_MATCH
        if kind is ReasonKind.FALLTHROUGH:
            if self.rollout_fallthrough:
                return OfrepReason.SPLIT
            # OFREP 0.3.0 has no DEFAULT: a fixed fallthrough of a targeted flag is not STATIC (providers may
            # cache STATIC answers across contexts), so it is UNKNOWN; metadata.vexil_reason says FALLTHROUGH.
            return OfrepReason.STATIC if self.static else OfrepReason.UNKNOWN
        # TARGET_MATCH, and PREREQUISITE_FAILED: the answer came from evaluating this context.
        return OfrepReason.TARGETING_MATCH


def _reason_metadata(result: Result, reason: Reason) -> Metadata:
    out: Metadata = {"vexil_reason": reason.kind.value}
    if result.variation is not None:
        out["variation"] = result.variation
    if reason.rule_index is not None:
        out["rule_index"] = reason.rule_index
    if reason.rule_id is not None:
        out["rule_id"] = reason.rule_id
    if reason.prerequisite_key is not None:
        out["prerequisite_key"] = reason.prerequisite_key
    if reason.in_experiment:
        out["in_experiment"] = True
    return out


def _flag_metadata(flag: Mapping[str, Any]) -> Metadata:
    """OFREP metadata values are strings, numbers or booleans: tags become one comma-separated string."""
    out: Metadata = {}
    version = flag.get("version")
    if isinstance(version, int) and not isinstance(version, bool):
        out["version"] = version
    for name in ("description", "owner"):
        value = flag.get(name)
        if isinstance(value, str) and value:
            out[name] = value
    if isinstance(flag.get("temporary"), bool):
        out["temporary"] = flag["temporary"]
    tags = flag.get("tags")
    if isinstance(tags, list) and tags and all(isinstance(tag, str) for tag in tags):
        out["tags"] = ",".join(tags)
    return out


def _get(value: object, name: str) -> object:
    return value.get(name) if isinstance(value, Mapping) else None


def _is_rollout(serve: object) -> bool:
    return _get(serve, "rollout") is not None


def _name(info: object) -> str | None:
    name = _get(info, "name")
    return name if isinstance(name, str) and name else None
