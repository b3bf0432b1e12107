"""`vexil projects ...` and `vexil envs ...`: list, read, create and delete projects and environments.

Thin commands over the admin API; the server checks permissions and validates.
"""

from __future__ import annotations

import click

from vexil.cli._client import api_path
from vexil.cli._output import done, print_json, print_table, show
from vexil.cli._remote import (
    Remote,
    comment_option,
    confirm,
    json_option,
    project_option,
    remote,
    yes_option,
)


@click.group("projects")
def projects_group() -> None:
    """Projects: each holds environments, flags and segments.

    \b
    Examples:
      vexil projects list
      vexil projects create shop --name "Web shop"
      vexil projects get shop --json
    """


@projects_group.command("list")
@json_option
@remote
def projects_list(remote: Remote, as_json: bool) -> None:
    """List the projects the key can read."""
    items = remote.api.items(api_path("projects"))
    if as_json:
        print_json(items)
        return
    print_table(
        ["KEY", "NAME", "DESCRIPTION"],
        [[p.get("key"), p.get("name"), p.get("description")] for p in items],
        empty="no projects",
    )


@projects_group.command("get")
@click.argument("key")
@json_option
@remote
def projects_get(remote: Remote, key: str, as_json: bool) -> None:
    """Show one project."""
    found = remote.api.get(api_path("projects", key))
    show(as_json, found, hide=frozenset())


@projects_group.command("create")
@click.argument("key")
@click.option("--name", default=None, help="Display name [default: the key].")
@click.option("--description", default=None, help="What the project is for.")
@comment_option
@json_option
@remote
def projects_create(
    remote: Remote, key: str, name: str | None, description: str | None, comment: str | None, as_json: bool
) -> None:
    """Create a project (it starts with environments development and production).

    \b
    Example:
      vexil projects create shop --name "Web shop"
    """
    body: dict[str, str] = {"key": key}
    if name is not None:
        body["name"] = name
    if description is not None:
        body["description"] = description
    created = remote.api.post(api_path("projects"), body, comment=comment)
    done(as_json, created, f"Created project {key!r} (environments development, production)")


@projects_group.command("delete")
@click.argument("key")
@yes_option
@comment_option
@json_option
@remote
def projects_delete(remote: Remote, key: str, yes: bool, comment: str | None, as_json: bool) -> None:
    """Delete a project with everything in it (needs an admin key).

    \b
    Example:
      vexil projects delete old-shop --yes
    """
    confirm(yes, f"Delete project {key!r} with all its environments, flags, segments and SDK keys?")
    remote.api.delete(api_path("projects", key), comment=comment)
    done(as_json, {"deleted": "project", "key": key}, f"Deleted project {key!r}")


@click.group("envs")
def envs_group() -> None:
    """Environments of a project (development, production, ...).

    \b
    Examples:
      vexil envs list -p shop
      vexil envs create staging -p shop --name Staging
      vexil envs delete staging -p shop --yes
    """


@envs_group.command("list")
@project_option
@json_option
@remote
def envs_list(remote: Remote, project: str | None, as_json: bool) -> None:
    """List a project's environments."""
    items = remote.api.items(api_path("projects", remote.project(project), "environments"))
    if as_json:
        print_json(items)
        return
    print_table(
        ["KEY", "NAME", "CRITICAL", "SNAPSHOT"],
        [[e.get("key"), e.get("name"), e.get("critical"), e.get("snapshot_version")] for e in items],
        empty="no environments",
    )


@envs_group.command("get")
@click.argument("key")
@project_option
@json_option
@remote
def envs_get(remote: Remote, key: str, project: str | None, as_json: bool) -> None:
    """Show one environment."""
    found = remote.api.get(api_path("projects", remote.project(project), "environments", key))
    show(as_json, found)


@envs_group.command("create")
@click.argument("key")
@project_option
@click.option("--name", default=None, help="Display name [default: the key].")
@click.option("--critical", is_flag=True, help="Mark critical (deleting it then needs an admin key).")
@comment_option
@json_option
@remote
def envs_create(
    remote: Remote,
    key: str,
    project: str | None,
    name: str | None,
    critical: bool,
    comment: str | None,
    as_json: bool,
) -> None:
    """Create an environment; every flag starts off there.

    \b
    Example:
      vexil envs create staging -p shop --name Staging
    """
    body: dict[str, object] = {"key": key, "critical": critical}
    if name is not None:
        body["name"] = name
    the_project = remote.project(project)
    created = remote.api.post(api_path("projects", the_project, "environments"), body, comment=comment)
    done(as_json, created, f"Created environment {key!r} in project {the_project!r}")


@envs_group.command("delete")
@click.argument("key")
@project_option
@yes_option
@comment_option
@json_option
@remote
def envs_delete(
    remote: Remote, key: str, project: str | None, yes: bool, comment: str | None, as_json: bool
) -> None:
    """Delete an environment with its targeting, segments and SDK keys.

    \b
    Example:
      vexil envs delete staging -p shop --yes
    """
    the_project = remote.project(project)
    confirm(yes, f"Delete environment {key!r} of project {the_project!r} with its targeting and segments?")
    remote.api.delete(api_path("projects", the_project, "environments", key), comment=comment)
    deleted = {"deleted": "environment", "project": the_project, "key": key}
    done(as_json, deleted, f"Deleted environment {key!r} of project {the_project!r}")
