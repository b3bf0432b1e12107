"""Plain-language descriptions of flag data for the templates: variations, serves, clauses, times.

Formatting only (registered as Jinja filters/globals); it never reads the store or changes anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ._diff import compact

OP_LABELS: dict[str, str] = {
    "in": "is one of",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "contains": "contains",
    "matches": "matches regex",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "before": "is before",
    "after": "is after",
    "semver_eq": "is version",
    "semver_lt": "is a version below",
    "semver_gt": "is a version above",
    "segment_match": "is in segment",
}


def variation_label(definition: Mapping[str, Any], index: Any) -> str:
    """`Semantic` when the variation has a name, else its JSON value; "none" for a null index."""
    variations = definition.get("variations") or []
    if not isinstance(index, int) or isinstance(index, bool):
        return "none"
    if not 0 <= index < len(variations):
        return f"#{index} (missing)"
    info = definition.get("variation_info") or []
    name = info[index].get("name") if index < len(info) and isinstance(info[index], Mapping) else None
    return str(name) if name else compact(variations[index])


def percent(weight: Any) -> str:
    """A rollout weight (0..100000) as a percentage: 20000 -> "20", 33333 -> "33.333"."""
    if not isinstance(weight, int) or isinstance(weight, bool):
        return "?"
    text = f"{weight / 1000:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def rollout_parts(serve: Mapping[str, Any], definition: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """[(label, percentage text, weight)] of a rollout serve, in order."""
    rollout = serve.get("rollout")
    if not isinstance(rollout, Mapping):
        return []
    return [
        (
            variation_label(definition, item.get("variation")),
            percent(item.get("weight")),
            item.get("weight", 0),
        )
        for item in rollout.get("variations") or []
        if isinstance(item, Mapping)
    ]


def serve_text(serve: Any, definition: Mapping[str, Any]) -> str:
    """ "serve true" or "serve 80% false / 20% true (by key)"."""
    if not isinstance(serve, Mapping):
        return "—"
    if "rollout" in serve:
        parts = " / ".join(f"{pct}% {label}" for label, pct, _ in rollout_parts(serve, definition))
        rollout = serve["rollout"] if isinstance(serve["rollout"], Mapping) else {}
        by = rollout.get("bucket_by")
        kind = rollout.get("kind")
        extra = f" by {by}" if by and by != "key" else ""
        return f"{'experiment' if kind == 'experiment' else 'rollout'} {parts}{extra}"
    return f"serve {variation_label(definition, serve.get('variation'))}"


def clause_text(clause: Any) -> str:
    """`email ends with "@example.com"`, `not in segment beta-testers`, `org.plan is one of "pro", "team"`."""
    if not isinstance(clause, Mapping):
        return "?"
    op = str(clause.get("op", "?"))
    values = clause.get("values") or []
    negate = bool(clause.get("negate"))
    kind = clause.get("context_kind") or "user"
    if op == "segment_match":
        prefix = "not in" if negate else "is in"
        noun = "segment" if len(values) == 1 else "any of the segments"
        return f"{prefix} {noun} {', '.join(str(v) for v in values)}"
    attribute = str(clause.get("attribute", ""))
    subject = attribute if kind == "user" else f"{kind}.{attribute}"
    label = OP_LABELS.get(op, op)
    if negate:
        label = f"not {label}" if op != "in" else "is not one of"
    if op == "in" and len(values) == 1:
        label = "is not" if negate else "is"
    shown = ", ".join(compact(v) for v in values[:10])
    more = f" (+{len(values) - 10} more)" if len(values) > 10 else ""
    return f"{subject} {label} {shown}{more}"


def targeting_summary(targeting: Mapping[str, Any] | None, definition: Mapping[str, Any]) -> str:
    """One line for the flag list: "3 targets · 2 rules · default rollout 80% false / 20% true"."""
    if targeting is None:
        return "—"
    if not targeting.get("on"):
        return f"off: serves {variation_label(definition, targeting.get('off_variation'))}"
    parts: list[str] = []
    targets = sum(
        len(t.get("values") or []) for t in targeting.get("targets") or [] if isinstance(t, Mapping)
    )
    if targets:
        parts.append(f"{targets} target{'s' if targets != 1 else ''}")
    rules = len(targeting.get("rules") or [])
    if rules:
        parts.append(f"{rules} rule{'s' if rules != 1 else ''}")
    if targeting.get("prerequisites"):
        parts.append(f"{len(targeting['prerequisites'])} prerequisite(s)")
    default = serve_text(targeting.get("fallthrough"), definition)
    parts.append(("default " if parts else "") + default)
    return " · ".join(parts)


def when(moment: datetime | str | None, now: datetime | None = None) -> str:
    """ "3 min ago", "yesterday", "12 Mar 2026"; "never" for None."""
    if moment is None:
        return "never"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    now = now or datetime.now(UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 2 * 86400:
        return "yesterday"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)} days ago"
    return moment.strftime("%d %b %Y")


def iso_text(moment: datetime | str | None) -> str:
    """The exact UTC time, for a tooltip or a <time datetime=...>."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        return moment
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_PATH_PART = re.compile(r"(\w+)\[(\d+)\]")
_NAMES = {
    "rules": "Rule",
    "clauses": "clause",
    "targets": "Target",
    "prerequisites": "Prerequisite",
    "variations": "variation",
}


def humane_path(path: str) -> str:
    """`flags.f.rules[0].clauses[1].op` -> `Rule 1 › clause 2 › op` (problem paths, for people)."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] in {"flags", "segments"}:
        parts = parts[2:]
    out: list[str] = []
    for part in parts:
        found = _PATH_PART.fullmatch(part)
        if found and found.group(1) in _NAMES:
            out.append(f"{_NAMES[found.group(1)]} {int(found.group(2)) + 1}")
        elif part:
            out.append(part.replace("_", " "))
    return " › ".join(out) or "flag"


def tags_of(definitions: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({str(t) for d in definitions for t in d.get("tags") or []})
