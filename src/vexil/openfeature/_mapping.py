"""Pure translations between OpenFeature and vexil: contexts in, resolution details out.

No I/O and no client state: given a vexil `Detail` and the flag's document it builds what OpenFeature wants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagMetadata, FlagResolutionDetails, Reason

from vexil.engine import ErrorKind, ReasonKind
from vexil.sdk import Detail

#: vexil error kinds -> OpenFeature error codes (USER_NOT_SPECIFIED depends on the context, see below).
ERROR_CODES: dict[ErrorKind, ErrorCode] = {
    ErrorKind.FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND,
    ErrorKind.WRONG_TYPE: ErrorCode.TYPE_MISMATCH,
    ErrorKind.CLIENT_NOT_READY: ErrorCode.PROVIDER_NOT_READY,
    ErrorKind.MALFORMED_FLAG: ErrorCode.PARSE_ERROR,
    ErrorKind.USER_NOT_SPECIFIED: ErrorCode.INVALID_CONTEXT,
    ErrorKind.EXCEPTION: ErrorCode.GENERAL,
}
#: vexil reasons -> OpenFeature reasons; RULE_MATCH and FALLTHROUGH become SPLIT when a rollout chose.
REASONS: dict[ReasonKind, Reason] = {
    ReasonKind.OFF: Reason.DISABLED,
    ReasonKind.PREREQUISITE_FAILED: Reason.DISABLED,
    ReasonKind.TARGET_MATCH: Reason.TARGETING_MATCH,
    ReasonKind.RULE_MATCH: Reason.TARGETING_MATCH,
    ReasonKind.FALLTHROUGH: Reason.DEFAULT,
    ReasonKind.ERROR: Reason.ERROR,
}


def _attribute(value: Any) -> Any:
    """OpenFeature allows datetimes; vexil's date operators take epoch milliseconds (naive means UTC)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, Mapping):
        return {str(k): _attribute(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_attribute(v) for v in value]
    return value


def to_context(context: EvaluationContext | None) -> dict[str, Any]:
    """`targeting_key` becomes `key`; attributes stay (a `kind` attribute picks the context kind, and
    `kind: "multi"` with one object per kind gives a multi-context)."""
    if context is None:
        return {}
    out: dict[str, Any] = {str(k): _attribute(v) for k, v in context.attributes.items()}
    if context.targeting_key and out.get("kind") != "multi":
        out["key"] = context.targeting_key
    return out


def has_key(context: Mapping[str, Any]) -> bool:
    if context.get("kind") == "multi":
        return any(isinstance(v, Mapping) and v.get("key") for k, v in context.items() if k != "kind")
    return bool(context.get("key"))


def _serve(flag: Mapping[str, Any], rule_index: int | None, kind: ReasonKind) -> Any:
    if kind is ReasonKind.FALLTHROUGH:
        return flag.get("fallthrough")
    rules = flag.get("rules")
    if kind is ReasonKind.RULE_MATCH and isinstance(rules, list) and rule_index is not None:
        rule = rules[rule_index] if 0 <= rule_index < len(rules) else None
        return rule.get("serve") if isinstance(rule, Mapping) else None
    return None


def variant(flag: Mapping[str, Any] | None, variation: int | None) -> str | None:
    """The variation's `variation_info` name when it has one, else its index as a string."""
    if variation is None:
        return None
    info = flag.get("variation_info") if flag is not None else None
    if isinstance(info, list) and 0 <= variation < len(info) and isinstance(info[variation], Mapping):
        name = info[variation].get("name")
        if isinstance(name, str) and name:
            return name
    return str(variation)


def resolution(
    detail: Detail, default: Any, flag: Mapping[str, Any] | None, context: Mapping[str, Any]
) -> FlagResolutionDetails[Any]:
    reason = detail.reason
    if reason.kind is ReasonKind.ERROR:
        kind = reason.error_kind or ErrorKind.EXCEPTION
        code = ERROR_CODES.get(kind, ErrorCode.GENERAL)
        if kind is ErrorKind.USER_NOT_SPECIFIED and not has_key(context):
            code = ErrorCode.TARGETING_KEY_MISSING
        return FlagResolutionDetails(
            value=default, error_code=code, error_message=f"vexil: {kind.value}", reason=Reason.ERROR
        )
    of_reason = REASONS[reason.kind]
    serve = _serve(flag, reason.rule_index, reason.kind) if flag is not None else None
    if reason.in_experiment or (isinstance(serve, Mapping) and "rollout" in serve):
        of_reason = Reason.SPLIT
    return FlagResolutionDetails(
        value=detail.value,
        variant=variant(flag, detail.variation),
        reason=of_reason,
        flag_metadata=metadata(detail, flag),
    )


def metadata(detail: Detail, flag: Mapping[str, Any] | None) -> FlagMetadata:
    reason = detail.reason
    out: dict[str, bool | int | float | str] = {"vexil_reason": reason.kind.value}
    if reason.rule_index is not None:
        out["rule_index"] = reason.rule_index
    if reason.rule_id is not None:
        out["rule_id"] = reason.rule_id
    if reason.prerequisite_key is not None:
        out["prerequisite_key"] = reason.prerequisite_key
    if reason.in_experiment:
        out["in_experiment"] = True
    version = flag.get("version") if flag is not None else None
    if isinstance(version, int) and not isinstance(version, bool):
        out["flag_version"] = version
    return out
