"""Evaluation counters and the event batch they become: summaries, experiment exposures, custom events.

Pure: counts in, wire bytes out. No threads, no network; the hot path only ever touches `Window.counts`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vexil.engine import Snapshot
from vexil.protocol import SummaryEvent, WireEvent, encode_events, format_time

#: Keys the server accepts (the flag format's key syntax); anything else would get the whole batch rejected.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
#: Distinct slow-path counters per window beyond which unknown flag keys are no longer counted.
MAX_COUNTERS = 10_000

CountKey = tuple[str, int | None]


def _has_experiment(flag: Mapping[str, Any]) -> bool:
    serves = [flag.get("fallthrough")]
    rules = flag.get("rules")
    if isinstance(rules, list):
        serves.extend(rule.get("serve") for rule in rules if isinstance(rule, Mapping))
    for serve in serves:
        rollout = serve.get("rollout") if isinstance(serve, Mapping) else None
        if isinstance(rollout, Mapping) and rollout.get("kind") == "experiment":
            return True
    return False


@dataclass(slots=True)
class Window:
    """Evaluation counts of one snapshot over a period (`start`: wall-clock seconds).

    `counts[flag][variation]`: the hot path's counters, a list per flag, created on the flag's first
    evaluation in the window (never for experiment flags, whose evaluations also record exposures).
    `other[(flag, variation)]`: everything the slow path counts; variation None means the caller's
    default was served (unknown flag, wrong type, not ready, error).
    """

    snapshot: Snapshot
    start: float
    counts: dict[str, list[int]] = field(default_factory=dict)
    other: dict[CountKey, int] = field(default_factory=dict)

    def count(self, key: str, variation: int | None) -> None:
        """Count one evaluation from the slow path, creating the flag's fast counters when it has them."""
        if variation is not None:
            counters = self.counts.get(key)
            if counters is None:
                flag = self.snapshot.flags.get(key)
                variations = flag.get("variations") if isinstance(flag, Mapping) else None
                if (
                    isinstance(flag, Mapping)
                    and isinstance(variations, list)
                    and not _has_experiment(flag)
                    and 0 <= variation < len(variations)
                ):
                    # setdefault: two threads seeing the flag first at once share one list
                    counters = self.counts.setdefault(key, [0] * len(variations))
            if counters is not None and 0 <= variation < len(counters):
                counters[variation] += 1
                return
        other = self.other
        count_key = (key, variation)
        if count_key in other:
            other[count_key] += 1
        elif key in self.snapshot or (len(other) < MAX_COUNTERS and KEY_PATTERN.fullmatch(key)):
            other[count_key] = 1

    def items(self) -> list[tuple[CountKey, int]]:
        """All counts; list() copies in one step under the GIL while evaluation threads may still count."""
        out: list[tuple[CountKey, int]] = [
            ((key, variation), n)
            for key, counters in list(self.counts.items())
            for variation, n in enumerate(counters)
            if n
        ]
        out.extend(list(self.other.items()))
        return out


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def flag_version(snapshot: Snapshot, key: str) -> int | None:
    item = snapshot.flags.get(key)
    version = item.get("version") if isinstance(item, Mapping) else None
    return version if isinstance(version, int) and not isinstance(version, bool) and version >= 0 else None


def summarize(windows: Iterable[Window], end: float) -> list[SummaryEvent]:
    """One summary per (flag, variation, version) over all windows, from the earliest start to `end`."""
    totals: dict[tuple[str, int | None, int | None], list[float]] = {}
    for window in windows:
        for (key, variation), count in window.items():
            if count <= 0 or not KEY_PATTERN.fullmatch(key):
                continue
            group = (key, variation, flag_version(window.snapshot, key))
            found = totals.get(group)
            if found is None:
                totals[group] = [count, window.start]
            else:
                found[0] += count
                found[1] = min(found[1], window.start)
    finish = moment(end)
    return [
        SummaryEvent(key, variation, version, int(count), moment(min(start, end)), finish)
        for (key, variation, version), (count, start) in totals.items()
    ]


def context_keys(context: object) -> dict[str, str] | None:
    """`{kind: key}` of a context (for exposures), or None when it has no usable key."""
    kinds = getattr(context, "kinds", None)
    if isinstance(kinds, Mapping):
        return {kind: attrs["key"] for kind, attrs in kinds.items()} or None
    if not isinstance(context, Mapping):
        return None
    if context.get("kind") == "multi":
        out = {
            kind: attrs["key"]
            for kind, attrs in context.items()
            if kind != "kind" and isinstance(attrs, Mapping) and isinstance(attrs.get("key"), str)
        }
        return out or None
    key = context.get("key")
    kind = context.get("kind", "user")
    return {kind: key} if isinstance(key, str) and isinstance(kind, str) else None


def exposure(
    flag: str, variation: int, version: int | None, contexts: Mapping[str, str], when: float
) -> dict[str, Any]:
    """An experiment exposure: this context saw this variation of an experiment flag.

    Sent as `kind: "exposure"`, which servers that do not know it skip (docs/protocol.md).
    """
    return {
        "kind": "exposure",
        "flag": flag,
        "variation": variation,
        "version": version,
        "context_keys": dict(contexts),
        "time": format_time(moment(when)),
    }


def encode_batch(events: list[WireEvent], extra: list[dict[str, Any]]) -> bytes:
    """The bulk body: the protocol's events, then event objects it has no type for (exposures)."""
    body = encode_events(events)
    if not extra:
        return body
    tail = json.dumps(extra, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    if body == b"[]":
        return tail
    return body[:-1] + b"," + tail[1:]
