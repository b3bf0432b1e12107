"""`vexil segments ...`: list, read, create and delete the segments of one environment.

Thin commands over the admin API; the server validates (a segment still referenced cannot be deleted).
"""

from __future__ import annotations

from typing import Any

import click

from vexil.cli._client import CliError, api_path
from vexil.cli._docs import load_document
from vexil.cli._output import done, print_json, print_table, show
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

_HIDE = frozenset({"project", "environment", "created_at", "updated_at"})


def _segments_path(project: str, env: str, *key: str) -> str:
    return api_path("projects", project, "environments", env, "segments", *key)


@click.group("segments")
def segments_group() -> None:
    """Segments: reusable sets of contexts, per environment.

    \b
    Examples:
      vexil segments list -p shop --env production
      vexil segments create beta -p shop --env production --include user-1 --include user-2
      vexil segments create staff -p shop --env production --from-file staff.yaml
    """


@segments_group.command("list")
@project_option
@env_option()
@json_option
@remote
def segments_list(remote: Remote, project: str | None, env: str, as_json: bool) -> None:
    """List an environment's segments."""
    items = remote.api.items(_segments_path(remote.project(project), env))
    if as_json:
        print_json(items)
        return
    rows = [
        [
            s.get("key"),
            len(s.get("included", [])),
            len(s.get("excluded", [])),
            len(s.get("rules", [])),
            s.get("description", ""),
        ]
        for s in items
    ]
    print_table(["KEY", "INCLUDED", "EXCLUDED", "RULES", "DESCRIPTION"], rows, empty="no segments")


@segments_group.command("get")
@click.argument("key")
@project_option
@env_option()
@json_option
@remote
def segments_get(remote: Remote, key: str, project: str | None, env: str, as_json: bool) -> None:
    """Show one segment."""
    show(as_json, remote.api.get(_segments_path(remote.project(project), env, key)), hide=_HIDE)


@segments_group.command("create")
@click.argument("key")
@project_option
@env_option()
@click.option("--include", "included", multiple=True, metavar="CONTEXT_KEY", help="A user key in it.")
@click.option("--exclude", "excluded", multiple=True, metavar="CONTEXT_KEY", help="A user key kept out.")
@click.option("--description", default=None, help="What the segment is.")
@click.option(
    "--from-file",
    "from_file",
    default=None,
    metavar="FILE",
    help="The segment body (YAML or JSON, the flag format's segment fields); options add to it.",
)
@comment_option
@json_option
@remote
def segments_create(
    remote: Remote,
    key: str,
    project: str | None,
    env: str,
    included: tuple[str, ...],
    excluded: tuple[str, ...],
    description: str | None,
    from_file: str | None,
    comment: str | None,
    as_json: bool,
) -> None:
    """Create a segment in one environment.

    \b
    Examples:
      vexil segments create beta -p shop --env production --include user-1 --description "Beta testers"
      vexil segments create staff -p shop --env production --from-file staff.yaml
    """
    body: dict[str, Any] = {}
    if from_file is not None:
        loaded = load_document(from_file)
        if not isinstance(loaded, dict):
            raise CliError(f"{from_file}: a segment must be a mapping of its fields")
        body.update(loaded)
    body["key"] = key
    if included:
        body["included"] = [*body.get("included", []), *included]
    if excluded:
        body["excluded"] = [*body.get("excluded", []), *excluded]
    if description is not None:
        body["description"] = description
    the_project = remote.project(project)
    created = remote.api.post(_segments_path(the_project, env), body, comment=comment)
    done(as_json, created, f"Created segment {key!r} in {env} (project {the_project})")


@segments_group.command("delete")
@click.argument("key")
@project_option
@env_option()
@yes_option
@comment_option
@json_option
@remote
def segments_delete(
    remote: Remote, key: str, project: str | None, env: str, yes: bool, comment: str | None, as_json: bool
) -> None:
    """Delete a segment (refused while a flag or segment still uses it).

    \b
    Example:
      vexil segments delete beta -p shop --env production --yes
    """
    the_project = remote.project(project)
    confirm(yes, f"Delete segment {key!r} in {env} (project {the_project})?")
    remote.api.delete(_segments_path(the_project, env, key), comment=comment)
    deleted = {"deleted": "segment", "project": the_project, "environment": env, "key": key}
    done(as_json, deleted, f"Deleted segment {key!r} in {env} (project {the_project})")
