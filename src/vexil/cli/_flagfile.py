"""The flags-as-code file (docs/flags-as-code.md): one project's environments, flag definitions with their
per-environment targeting, and per-environment segments, in a fixed order so that diffs stay small.

Parsing (with `path: message` problems), the canonical data and the YAML text; no API calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vexil.cli._client import CliError
from vexil.cli._state import ServerState
from vexil.cli._yaml_dump import dump_yaml
from vexil.service import default_targeting

FORMAT = "vexil/v1"
TOP_FIELDS = ("format", "project", "environments", "flags", "segments")
ENVIRONMENT_FIELDS = ("name", "critical")
DEFINITION_FIELDS = (
    "description",
    "owner",
    "tags",
    "temporary",
    "client_side",
    "variations",
    "variation_info",
    "salt",
)
TARGETING_FIELDS = ("on", "off_variation", "prerequisites", "targets", "rules", "fallthrough")
SEGMENT_FIELDS = (
    "description",
    "included",
    "excluded",
    "included_contexts",
    "excluded_contexts",
    "rules",
    "salt",
)
#: The order of fields inside every object of the flag format (rules, clauses, serves, rollouts, ...);
#: fields not listed follow in alphabetical order.
_FIELD_ORDER = {
    name: i
    for i, name in enumerate(
        (
            "id",
            "name",
            "description",
            "on",
            "off_variation",
            "prerequisites",
            "targets",
            "flag",
            "context_kind",
            "attribute",
            "op",
            "variation",
            "values",
            "negate",
            "clauses",
            "serve",
            "rollout",
            "weight",
            "untracked",
            "kind",
            "bucket_by",
            "rollout_context_kind",
            "seed",
            "algorithm",
            "variations",
            "rules",
            "fallthrough",
        )
    )
}
_HINTS = {name: "targeting: write it under the flag's environments.<env>" for name in TARGETING_FIELDS}
_HINTS.update({name: "part of the definition: write it on the flag itself" for name in DEFINITION_FIELDS})

JsonObject = dict[str, Any]


@dataclass
class EnvSpec:
    """A managed environment; None fields are not managed (a new environment then gets the defaults)."""

    name: str | None = None
    critical: bool | None = None


@dataclass
class FlagSpec:
    definition: JsonObject
    targeting: dict[str, JsonObject] = field(default_factory=dict)


@dataclass
class FlagFile:
    """`environments` are the managed ones: targeting and segments elsewhere are left alone."""

    project: str
    environments: dict[str, EnvSpec] = field(default_factory=dict)
    flags: dict[str, FlagSpec] = field(default_factory=dict)
    segments: dict[str, dict[str, JsonObject]] = field(default_factory=dict)

    def targeting(self, flag: str, environment: str) -> JsonObject:
        """The file's targeting, or (not written) the default a new flag gets: off."""
        spec = self.flags[flag]
        found = spec.targeting.get(environment)
        return found if found is not None else default_targeting(spec.definition.get("variations"))


class FlagFileError(CliError):
    def __init__(self, what: str, problems: list[str]) -> None:
        shown = problems[:50] + ([f"... and {len(problems) - 50} more"] if len(problems) > 50 else [])
        super().__init__(f"{what}: not a valid flags file:\n" + "\n".join(f"  {p}" for p in shown))
        self.problems = problems


def _mapping(value: Any, path: str, problems: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a mapping")
        return {}
    return value


def _fields(value: Mapping[str, Any], allowed: tuple[str, ...], path: str, problems: list[str]) -> JsonObject:
    kept: JsonObject = {}
    for name, item in value.items():
        if name in allowed:
            kept[name] = item
        else:
            hint = f" ({_HINTS[name]})" if name in _HINTS and name not in allowed else ""
            problems.append(f"{path}.{name}: unknown field{hint}")
    return kept


def parse_flag_file(data: Any, what: str) -> FlagFile:
    """The file's data (from the YAML 1.2 loader) as a `FlagFile`; `FlagFileError` lists every problem."""
    problems: list[str] = []
    top = _mapping(data, "document", problems)
    _fields(top, TOP_FIELDS, "document", problems)
    if top.get("format", FORMAT) != FORMAT:
        problems.append(f"format: must be {FORMAT!r}")
    project = top.get("project")
    if not isinstance(project, str) or not project:
        problems.append("project: required: the project key")
    result = FlagFile(str(project))
    for key, raw in _mapping(top.get("environments"), "environments", problems).items():
        spec = _fields(
            _mapping(raw, f"environments.{key}", problems),
            ENVIRONMENT_FIELDS,
            f"environments.{key}",
            problems,
        )
        name, critical = spec.get("name"), spec.get("critical")
        if name is not None and not isinstance(name, str):
            problems.append(f"environments.{key}.name: must be a string")
        if critical is not None and not isinstance(critical, bool):
            problems.append(f"environments.{key}.critical: must be true or false")
        result.environments[str(key)] = EnvSpec(name, critical)
    for key, raw in _mapping(top.get("flags"), "flags", problems).items():
        path = f"flags.{key}"
        body = _mapping(raw, path, problems)
        definition = _fields(body, (*DEFINITION_FIELDS, "environments"), path, problems)
        per_env = definition.pop("environments", None)
        flag = FlagSpec(definition)
        for env, targeting in _mapping(per_env, f"{path}.environments", problems).items():
            where = f"{path}.environments.{env}"
            if env not in result.environments:
                problems.append(f"{where}: environment {env!r} is not declared under environments")
            flag.targeting[str(env)] = _fields(
                _mapping(targeting, where, problems), TARGETING_FIELDS, where, problems
            )
        result.flags[str(key)] = flag
    for env, segments in _mapping(top.get("segments"), "segments", problems).items():
        if env not in result.environments:
            problems.append(f"segments.{env}: environment {env!r} is not declared under environments")
        result.segments[str(env)] = {
            str(key): _fields(
                _mapping(raw, f"segments.{env}.{key}", problems),
                SEGMENT_FIELDS,
                f"segments.{env}.{key}",
                problems,
            )
            for key, raw in _mapping(segments, f"segments.{env}", problems).items()
        }
    if problems:
        raise FlagFileError(what, problems)
    return result


# -- canonical data


def _ordered(value: Any) -> Any:
    """Objects of the flag format in `_FIELD_ORDER`, recursively (lists keep their order: it matters)."""
    if isinstance(value, Mapping):
        names = sorted(value, key=lambda n: (_FIELD_ORDER.get(n, len(_FIELD_ORDER)), n))
        return {name: _ordered(value[name]) for name in names}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def _sorted_json(value: Any) -> Any:
    """User JSON (variation values): keys alphabetically, recursively."""
    if isinstance(value, Mapping):
        return {name: _sorted_json(value[name]) for name in sorted(value)}
    if isinstance(value, list):
        return [_sorted_json(item) for item in value]
    return value


def _in_order(body: Mapping[str, Any], order: tuple[str, ...]) -> JsonObject:
    known = [name for name in order if name in body]
    rest = sorted(name for name in body if name not in order)
    return {name: body[name] for name in [*known, *rest]}


def canonical_definition(definition: Mapping[str, Any]) -> JsonObject:
    out: JsonObject = {}
    for name, value in _in_order(definition, DEFINITION_FIELDS).items():
        out[name] = _sorted_json(value) if name == "variations" else _ordered(value)
    return out


def to_data(flag_file: FlagFile) -> JsonObject:
    """The file's data in canonical order: environments, flags and segments by key, fields in order."""
    environments: JsonObject = {}
    for key in sorted(flag_file.environments):
        spec = flag_file.environments[key]
        entry: JsonObject = {}
        if spec.name is not None:
            entry["name"] = spec.name
        if spec.critical is not None:
            entry["critical"] = spec.critical
        environments[key] = entry
    flags: JsonObject = {}
    for key in sorted(flag_file.flags):
        spec_flag = flag_file.flags[key]
        flag = canonical_definition(spec_flag.definition)
        flag["environments"] = {
            env: _ordered(_in_order(spec_flag.targeting[env], TARGETING_FIELDS))
            for env in sorted(spec_flag.targeting)
        }
        flags[key] = flag
    segments = {
        env: {
            key: _ordered(_in_order(body, SEGMENT_FIELDS))
            for key, body in sorted(flag_file.segments[env].items())
        }
        for env in sorted(flag_file.segments)
    }
    return {
        "format": FORMAT,
        "project": flag_file.project,
        "environments": environments,
        "flags": flags,
        "segments": segments,
    }


def from_state(state: ServerState) -> FlagFile:
    """What `vexil export` writes: the state of the environments in `state`, every field explicit."""
    result = FlagFile(state.project)
    for key, env in state.environments.items():
        result.environments[key] = EnvSpec(env.name, env.critical)
        result.segments[key] = {name: dict(s.body) for name, s in state.segments.get(key, {}).items()}
    for key, flag in state.flags.items():
        result.flags[key] = FlagSpec(
            dict(flag.definition.body), {env: dict(t.body) for env, t in flag.targeting.items()}
        )
    return result


def render(flag_file: FlagFile) -> str:
    header = (
        f"# vexil flags as code: project {flag_file.project} (docs/flags-as-code.md)\n"
        "# vexil plan -f FILE shows what apply would change; vexil apply -f FILE makes the server match.\n"
    )
    return header + dump_yaml(to_data(flag_file))
