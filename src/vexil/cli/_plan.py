"""Plans of flags as code: the per-resource difference between a flags file and the server's state, with
the versions it was computed against (what `vexil apply` sends to the bulk endpoint), and its rendering.

Pure: the state comes from `_state.read_state`, the file from `_flagfile.parse_flag_file`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import click

from vexil.cli._client import CliError
from vexil.cli._flagfile import FlagFile, canonical_definition
from vexil.cli._state import ServerState
from vexil.cli._yaml_dump import dump_yaml
from vexil.engine import validate_document
from vexil.service import default_targeting

PLAN_FORMAT = "vexil-plan/v1"
_ORDER = {"project": 0, "environment": 1, "flag": 2, "targeting": 3, "segment": 4}
_SYMBOLS = {"create": ("+", "green"), "replace": ("~", "yellow"), "delete": ("-", "red")}

JsonObject = dict[str, Any]


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells true from 1 (Python's == does not)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@dataclass(frozen=True)
class PlannedChange:
    resource: str
    action: str
    key: str
    environment: str | None
    before: JsonObject | None
    after: JsonObject | None
    expected_version: int | None

    @property
    def label(self) -> str:
        where = f" in {self.environment}" if self.environment else ""
        return f"{self.resource} {self.key}{where}"

    def wire(self) -> JsonObject:
        """The change as the bulk endpoint takes it."""
        out: JsonObject = {"resource": self.resource, "action": self.action, "key": self.key}
        if self.environment is not None:
            out["environment"] = self.environment
        if self.after is not None:
            out["body"] = self.after
        out["expected_version"] = self.expected_version
        return out

    def to_dict(self) -> JsonObject:
        return {**self.wire(), "before": self.before}


@dataclass
class Plan:
    project: str
    changes: list[PlannedChange] = field(default_factory=list)
    snapshot_versions: dict[str, int] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # on the server, not in the file, not pruned

    def counts(self) -> dict[str, int]:
        return {a: sum(1 for c in self.changes if c.action == a) for a in ("create", "replace", "delete")}

    def request(self, comment: str | None) -> JsonObject:
        body: JsonObject = {
            "changes": [c.wire() for c in self.changes],
            "snapshot_versions": self.snapshot_versions,
        }
        if comment:
            body["comment"] = comment
        return body

    def to_dict(self) -> JsonObject:
        return {
            "format": PLAN_FORMAT,
            "project": self.project,
            "summary": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
            "snapshot_versions": self.snapshot_versions,
            "kept": self.kept,
        }

    @classmethod
    def from_dict(cls, data: Any, what: str) -> Plan:
        """A plan written by `vexil plan --out`; the server re-checks everything it sends."""
        if not isinstance(data, Mapping) or data.get("format") != PLAN_FORMAT:
            raise CliError(f"{what}: not a plan written by `vexil plan --out` ({PLAN_FORMAT})")
        try:
            changes = [
                PlannedChange(
                    str(c["resource"]),
                    str(c["action"]),
                    str(c["key"]),
                    c.get("environment"),
                    c.get("before"),
                    c.get("body"),
                    c.get("expected_version"),
                )
                for c in data["changes"]
            ]
            return cls(
                str(data["project"]),
                changes,
                dict(data.get("snapshot_versions") or {}),
                list(data.get("kept") or []),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise CliError(f"{what}: malformed plan ({exc})") from None


def make_plan(desired: FlagFile, state: ServerState, *, prune: bool) -> Plan:
    """What to change so the managed part of the server equals the file (deleting only with `prune`)."""
    plan = Plan(desired.project)
    add = plan.changes.append
    if not state.exists:
        add(PlannedChange("project", "create", desired.project, None, None, {"name": desired.project}, None))
    for key, spec in sorted(desired.environments.items()):
        env = state.environments.get(key)
        name = spec.name if spec.name is not None else (env.name if env else key)
        critical = spec.critical if spec.critical is not None else (env.critical if env else False)
        after = {"name": name, "critical": critical}
        if env is None:
            add(PlannedChange("environment", "create", key, None, None, after, None))
            continue
        if state.exists:
            plan.snapshot_versions[key] = env.snapshot_version
        before = {"name": env.name, "critical": env.critical}
        if not same(before, after):
            add(PlannedChange("environment", "replace", key, None, before, after, env.version))
    _plan_flags(plan, desired, state, prune=prune)
    _plan_segments(plan, desired, state, prune=prune)
    plan.changes.sort(key=lambda c: (_ORDER[c.resource], c.environment or "", c.key))
    return plan


def _plan_flags(plan: Plan, desired: FlagFile, state: ServerState, *, prune: bool) -> None:
    add = plan.changes.append
    for key in sorted(set(desired.flags) | set(state.flags)):
        spec, current = desired.flags.get(key), state.flags.get(key)
        if spec is None:
            assert current is not None
            if prune:
                add(
                    PlannedChange(
                        "flag", "delete", key, None, current.definition.body, None, current.definition.version
                    )
                )
            else:
                plan.kept.append(f"flag {key}")
            continue
        if current is None:
            add(PlannedChange("flag", "create", key, None, None, canonical_definition(spec.definition), None))
        elif not same(current.definition.body, spec.definition):
            before = canonical_definition(current.definition.body)
            add(
                PlannedChange(
                    "flag",
                    "replace",
                    key,
                    None,
                    before,
                    canonical_definition(spec.definition),
                    current.definition.version,
                )
            )
        for env in sorted(desired.environments):
            wanted = desired.targeting(key, env)
            found = current.targeting.get(env) if current else None
            if found is not None:
                base, version = found.body, found.version
            else:
                # Not on the server yet: the flag or the environment is created by this plan, with defaults
                # (an environment created before a flag change gets the current variations' defaults).
                variations = (current.definition.body if current else spec.definition).get("variations")
                base, version = default_targeting(variations), None
            if not same(base, wanted):
                add(PlannedChange("targeting", "replace", key, env, base, wanted, version))


def _plan_segments(plan: Plan, desired: FlagFile, state: ServerState, *, prune: bool) -> None:
    add = plan.changes.append
    for env in sorted(desired.environments):
        wanted, found = desired.segments.get(env, {}), state.segments.get(env, {})
        for key in sorted(set(wanted) | set(found)):
            body, current = wanted.get(key), found.get(key)
            if body is None:
                assert current is not None
                if prune:
                    add(PlannedChange("segment", "delete", key, env, current.body, None, current.version))
                else:
                    plan.kept.append(f"segment {key} in {env}")
            elif current is None:
                add(PlannedChange("segment", "create", key, env, None, body, None))
            elif not same(current.body, body):
                add(PlannedChange("segment", "replace", key, env, current.body, body, current.version))


def final_documents(desired: FlagFile, state: ServerState, *, prune: bool) -> dict[str, JsonObject]:
    """Each managed environment's document after the plan (kept server items included)."""
    documents: dict[str, JsonObject] = {}
    for env in desired.environments:
        flags: JsonObject = {}
        for key, current in state.flags.items():
            if key not in desired.flags and not prune:
                found = current.targeting.get(env)  # absent: the environment is new, so the default
                targeting = (
                    found.body if found else default_targeting(current.definition.body.get("variations"))
                )
                flags[key] = {"key": key, **current.definition.body, **targeting}
        for key, spec in desired.flags.items():
            flags[key] = {"key": key, **spec.definition, **desired.targeting(key, env)}
        segments: JsonObject = {}
        if not prune:
            segments.update({k: {"key": k, **s.body} for k, s in state.segments.get(env, {}).items()})
        segments.update({k: {"key": k, **body} for k, body in desired.segments.get(env, {}).items()})
        documents[env] = {"flags": flags, "segments": segments}
    return documents


def check_documents(documents: Mapping[str, JsonObject]) -> list[str]:
    """The engine's problems with the planned documents; one found in every environment is listed once."""
    found = {env: [str(p) for p in validate_document(doc)] for env, doc in sorted(documents.items())}
    if not found:
        return []
    common = set.intersection(*(set(problems) for problems in found.values()))
    lines = [p for p in next(iter(found.values())) if p in common]
    for env, problems in found.items():
        lines += [f"{p} (in environment {env})" for p in problems if p not in common]
    return lines


# -- rendering


def _yaml_lines(body: Any) -> list[str]:
    return dump_yaml(body).rstrip("\n").splitlines() if body not in (None, {}) else []


def render_plan(plan: Plan, *, color: bool | None = None) -> list[str]:
    """Readable lines: each change with its body (+) or a diff of its body (~), then the summary."""
    lines: list[str] = []

    def out(text: str, colour: str | None = None) -> None:
        lines.append(click.style(text, fg=colour) if colour and color is not False else text)

    for change in plan.changes:
        symbol, colour = _SYMBOLS[change.action]
        out(f"{symbol} {change.action} {change.label}", colour)
        if change.action == "create":
            for line in _yaml_lines(change.after):
                out(f"    + {line}", "green")
        elif change.action == "replace":
            before, after = _yaml_lines(change.before), _yaml_lines(change.after)
            for line in list(difflib.unified_diff(before, after, lineterm="", n=2))[2:]:
                out(f"    {line}", {"+": "green", "-": "red", "@": "cyan"}.get(line[:1]))
    if plan.kept:
        out(f"Not in the file, kept (--prune deletes them): {', '.join(plan.kept)}")
    counts = plan.counts()
    if plan.changes:
        created, changed, deleted = counts["create"], counts["replace"], counts["delete"]
        out(f"Plan: {created} to create, {changed} to change, {deleted} to delete.")
    else:
        out(f"No changes: project {plan.project} matches the file.")
    return lines
