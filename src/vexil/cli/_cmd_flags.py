"""`vexil flags ...`: list, read, create and delete flag definitions; the targeting commands (toggle,
rollout, target) and the remote `eval` live in `_cmd_flag_targeting.py` and are added to this group here.

Thin commands over the admin API; the server checks permissions and validates.
"""

from __future__ import annotations

from typing import Any

import click

from vexil.cli._client import ApiClient, CliError, api_path
from vexil.cli._cmd_flag_targeting import eval_remote_command, rollout_command, target_command, toggle_command
from vexil.cli._docs import parse_json
from vexil.cli._output import done, print_json, print_table, print_yaml, short_json
from vexil.cli._remote import (
    Remote,
    comment_option,
    confirm,
    env_option,
    json_option,
    project_option,
    remote,
    yes_option,
)
from vexil.cli._variations import value_kind

#: The representation's bookkeeping fields, hidden from human output of targeting.
_TARGETING_HIDE = frozenset({"flag", "project", "environment", "updated_at"})


@click.group("flags")
def flags_group() -> None:
    """Flags: definitions (per project) and targeting (per environment).

    \b
    Examples:
      vexil flags list -p shop
      vexil flags create new-checkout -p shop --description "The redesigned checkout"
      vexil flags toggle new-checkout -p shop --env production --on -m "launch"
      vexil flags rollout new-checkout -p shop --env production --percent 25
      vexil flags target new-checkout -p shop --env production --add user-1
      vexil flags eval new-checkout -p shop --env production --context '{"key": "user-1"}'
    """


def targeting_by_env(api: ApiClient, project: str, flag: str) -> dict[str, dict[str, Any]]:
    found = api.items(api_path("projects", project, "flags", flag, "environments"))
    return {str(t.get("environment")): t for t in found}


@flags_group.command("list")
@project_option
@env_option(required=False)
@json_option
@remote
def flags_list(remote: Remote, project: str | None, env: str | None, as_json: bool) -> None:
    """List flags with their value kind and whether they are on in each environment (or in --env)."""
    the_project = remote.project(project)
    flags = remote.api.items(api_path("projects", the_project, "flags"))
    envs = (
        [env]
        if env
        else [str(e.get("key")) for e in remote.api.items(api_path("projects", the_project, "environments"))]
    )
    rows: list[list[Any]] = []
    for flag in flags:
        targeting = targeting_by_env(remote.api, the_project, str(flag["key"]))
        flag["environments"] = {e: targeting[e] for e in envs if e in targeting}
        status = ["on" if targeting.get(e, {}).get("on") else "off" for e in envs]
        kind = value_kind(flag.get("variations", []))
        rows.append([flag.get("key"), kind.value, *status, flag.get("description", "")])
    if as_json:
        print_json(flags)
        return
    print_table(["KEY", "KIND", *[e.upper() for e in envs], "DESCRIPTION"], rows, empty="no flags")


@flags_group.command("get")
@click.argument("key")
@project_option
@env_option(required=False)
@json_option
@remote
def flags_get(remote: Remote, key: str, project: str | None, env: str | None, as_json: bool) -> None:
    """Show a flag's definition and its targeting in every environment (or only in --env)."""
    the_project = remote.project(project)
    flag = remote.api.get(api_path("projects", the_project, "flags", key))
    targeting = targeting_by_env(remote.api, the_project, key)
    if env is not None:
        if env not in targeting:
            raise CliError(f"404 not found: environment {the_project}/{env!r} not found")
        targeting = {env: targeting[env]}
    flag["environments"] = targeting
    if as_json:
        print_json(flag)
        return
    shown = dict(flag)
    shown["environments"] = {
        e: {k: v for k, v in t.items() if k not in _TARGETING_HIDE} for e, t in targeting.items()
    }
    print_yaml(shown)


@flags_group.command("create")
@click.argument("key")
@project_option
@click.option(
    "--variations",
    default="[false, true]",
    show_default=True,
    metavar="JSON",
    help='The variations as a JSON array, e.g. \'["light", "dark"]\'.',
)
@click.option("--description", default=None, help="What the flag does.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--owner", default=None, help="Who owns the flag.")
@click.option("--temporary", is_flag=True, help="Mark as temporary (to be removed after the rollout).")
@click.option("--client-side", is_flag=True, help="Expose to client-side (browser/mobile) keys.")
@comment_option
@json_option
@remote
def flags_create(
    remote: Remote,
    key: str,
    project: str | None,
    variations: str,
    description: str | None,
    tags: tuple[str, ...],
    owner: str | None,
    temporary: bool,
    client_side: bool,
    comment: str | None,
    as_json: bool,
) -> None:
    """Create a flag; it starts off in every environment (boolean flags then serve false).

    \b
    Examples:
      vexil flags create new-checkout -p shop --description "The redesigned checkout" --tag checkout
      vexil flags create theme -p shop --variations '["light", "dark"]' --client-side
    """
    values = parse_json(variations, "--variations")
    if not isinstance(values, list) or not values:
        raise CliError("--variations must be a non-empty JSON array")
    body: dict[str, Any] = {"key": key, "variations": values}
    for name, value in (("description", description), ("owner", owner)):
        if value is not None:
            body[name] = value
    if tags:
        body["tags"] = list(tags)
    if temporary:
        body["temporary"] = True
    if client_side:
        body["client_side"] = True
    the_project = remote.project(project)
    created = remote.api.post(api_path("projects", the_project, "flags"), body, comment=comment)
    done(as_json, created, f"Created flag {key!r} in {the_project!r} ({short_json(values)}), off everywhere")


@flags_group.command("delete")
@click.argument("key")
@project_option
@yes_option
@comment_option
@json_option
@remote
def flags_delete(
    remote: Remote, key: str, project: str | None, yes: bool, comment: str | None, as_json: bool
) -> None:
    """Delete a flag in every environment.

    \b
    Example:
      vexil flags delete old-banner -p shop --yes -m "rollout finished"
    """
    the_project = remote.project(project)
    confirm(yes, f"Delete flag {key!r} of project {the_project!r} in every environment?")
    remote.api.delete(api_path("projects", the_project, "flags", key), comment=comment)
    deleted = {"deleted": "flag", "project": the_project, "key": key}
    done(as_json, deleted, f"Deleted flag {key!r} of project {the_project!r}")


for _command in (toggle_command, rollout_command, target_command, eval_remote_command):
    flags_group.add_command(_command)
