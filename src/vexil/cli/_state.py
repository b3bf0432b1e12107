"""Read a project's whole state from the admin API, with every resource's version: environments, flag
definitions, per-environment targeting and segments. Used by export, plan/apply, codegen and remote eval.

Reading only (environments first, so the snapshot versions it records are never newer than the items).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vexil.cli._client import ApiClient, ApiError, api_path
from vexil.service import DEFAULT_ENVIRONMENTS

JsonObject = dict[str, Any]
#: Fields of the API representations that are not part of a resource's body.
_BOOKKEEPING = frozenset(
    {"key", "project", "environment", "flag", "version", "created_at", "updated_at", "snapshot_version"}
)


def body_of(representation: Mapping[str, Any]) -> JsonObject:
    """A resource body as the API takes it back (PUT), from its representation."""
    return {k: v for k, v in representation.items() if k not in _BOOKKEEPING}


@dataclass(frozen=True, slots=True)
class Versioned:
    body: JsonObject
    version: int


@dataclass(frozen=True, slots=True)
class EnvRecord:
    name: str
    critical: bool
    version: int
    snapshot_version: int


@dataclass(frozen=True, slots=True)
class FlagRecord:
    definition: Versioned
    targeting: dict[str, Versioned]


@dataclass
class ServerState:
    """`exists` is False for a project the server does not have: it is then modelled as a new project
    (with the environments every new project gets), so a plan can create it."""

    project: str
    exists: bool
    environments: dict[str, EnvRecord] = field(default_factory=dict)
    flags: dict[str, FlagRecord] = field(default_factory=dict)
    segments: dict[str, dict[str, Versioned]] = field(default_factory=dict)

    def document(self, environment: str) -> JsonObject:
        """The environment's document in the engine's flag format (what its SDKs evaluate)."""
        flags = {
            key: {"key": key, **flag.definition.body, **flag.targeting[environment].body}
            for key, flag in self.flags.items()
            if environment in flag.targeting
        }
        segments = {key: {"key": key, **s.body} for key, s in self.segments.get(environment, {}).items()}
        return {"flags": flags, "segments": segments}


def _version(item: Mapping[str, Any]) -> int:
    found = item.get("version")
    return found if isinstance(found, int) else 0


def new_project_state(project: str) -> ServerState:
    environments = {
        key: EnvRecord(name, critical, version=1, snapshot_version=0)
        for key, name, critical in DEFAULT_ENVIRONMENTS
    }
    return ServerState(project, False, environments, {}, {key: {} for key in environments})


def read_state(
    api: ApiClient, project: str, *, environments: Iterable[str] | None = None, missing_ok: bool = False
) -> ServerState:
    """The project's state; only the given environments' targeting and segments when `environments` is set.

    A missing project raises the 404 `ApiError`, or (with `missing_ok`) gives `new_project_state`.
    """
    try:
        api.get(api_path("projects", project))
    except ApiError as exc:
        if exc.status == 404 and missing_ok:
            return new_project_state(project)
        raise
    wanted = set(environments) if environments is not None else None
    state = ServerState(project, True)
    for env in api.items(api_path("projects", project, "environments")):
        key = str(env["key"])
        if wanted is None or key in wanted:
            state.environments[key] = EnvRecord(
                str(env.get("name", key)),
                bool(env.get("critical", False)),
                _version(env),
                int(env.get("snapshot_version", 0)),
            )
    for flag in api.items(api_path("projects", project, "flags")):
        key = str(flag["key"])
        targeting = {
            str(t["environment"]): Versioned(body_of(t), _version(t))
            for t in api.items(api_path("projects", project, "flags", key, "environments"))
            if str(t.get("environment")) in state.environments
        }
        state.flags[key] = FlagRecord(Versioned(body_of(flag), _version(flag)), targeting)
    for env_key in state.environments:
        found = api.items(api_path("projects", project, "environments", env_key, "segments"))
        state.segments[env_key] = {str(s["key"]): Versioned(body_of(s), _version(s)) for s in found}
    return state
