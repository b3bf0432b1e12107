"""`vexil keys ...`: list, read, create and revoke API keys (admin keys with a role, SDK keys per
environment). A new key's secret is printed once, alone on stdout, so scripts can capture it.

Thin commands over the admin API (which needs an admin-role key for all of them).
"""

from __future__ import annotations

from typing import Any

import click

from vexil.cli._client import api_path
from vexil.cli._output import done, print_json, print_table, show
from vexil.cli._remote import Remote, comment_option, confirm, json_option, remote, yes_option


@click.group("keys")
def keys_group() -> None:
    """API keys: admin keys (reader/writer/admin, optionally per project) and SDK keys (per environment).

    \b
    Examples:
      vexil keys list
      vexil keys create --name ci --kind admin --role writer --scope shop
      vexil keys create --name web-prod --kind server -p shop --env production
      vexil keys delete 7 --yes
    """


@keys_group.command("list")
@click.option("--all", "show_revoked", is_flag=True, help="Also list revoked keys.")
@json_option
@remote
def keys_list(remote: Remote, show_revoked: bool, as_json: bool) -> None:
    """List keys (never their secrets)."""
    items = [k for k in remote.api.items(api_path("keys")) if show_revoked or not k.get("revoked_at")]
    if as_json:
        print_json(items)
        return
    rows = []
    for key in items:
        if key.get("kind") == "admin":
            scope = ", ".join(key["projects"]) if key.get("projects") is not None else "all projects"
        else:
            scope = f"{key.get('project')}/{key.get('environment')}"
        state = "revoked" if key.get("revoked_at") else "active"
        rows.append(
            [
                key.get("id"),
                key.get("name"),
                key.get("kind"),
                key.get("role"),
                scope,
                key.get("prefix"),
                state,
            ]
        )
    print_table(["ID", "NAME", "KIND", "ROLE", "SCOPE", "PREFIX", "STATE"], rows, empty="no keys")


@keys_group.command("get")
@click.argument("key_id", type=int, metavar="ID")
@json_option
@remote
def keys_get(remote: Remote, key_id: int, as_json: bool) -> None:
    """Show one key (never its secret)."""
    show(as_json, remote.api.get(api_path("keys", key_id)), hide=frozenset())


@keys_group.command("create")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--kind", type=click.Choice(["admin", "server", "client"]), required=True, help="Key kind.")
@click.option(
    "--role",
    type=click.Choice(["reader", "writer", "admin"]),
    default=None,
    help="Admin keys [default: reader].",
)
@click.option(
    "--scope", "scopes", multiple=True, metavar="PROJECT", help="Admin keys: only this project (repeatable)."
)
@click.option("-p", "--project", default=None, metavar="KEY", help="SDK keys: the project.")
@click.option("-e", "--env", default=None, metavar="ENV", help="SDK keys: the environment.")
@comment_option
@json_option
@remote
def keys_create(
    remote: Remote,
    name: str,
    kind: str,
    role: str | None,
    scopes: tuple[str, ...],
    project: str | None,
    env: str | None,
    comment: str | None,
    as_json: bool,
) -> None:
    """Create a key; its secret is shown only now (alone on stdout; the rest goes to stderr).

    \b
    Examples:
      vexil keys create --name ci --kind admin --role writer --scope shop
      SDK_KEY=$(vexil keys create --name web-prod --kind server -p shop --env production)
    """
    body: dict[str, Any] = {"name": name, "kind": kind}
    if kind == "admin":
        if role is not None:
            body["role"] = role
        if scopes:
            body["projects"] = list(scopes)
    else:
        if role is not None or scopes:
            raise click.UsageError("--role and --scope are for admin keys")
        if project is None or env is None:
            raise click.UsageError("SDK keys need -p/--project and -e/--env")
        body["project"], body["environment"] = project, env
    created = remote.api.post(api_path("keys"), body, comment=comment)
    if as_json:
        print_json(created)
        return
    click.echo(f"Created {kind} key {created.get('id')} {name!r}; its secret (shown only now):", err=True)
    click.echo(created.get("key"))


@keys_group.command("delete")
@click.argument("key_id", type=int, metavar="ID")
@yes_option
@comment_option
@json_option
@remote
def keys_delete(remote: Remote, key_id: int, yes: bool, comment: str | None, as_json: bool) -> None:
    """Revoke a key (it stops working within seconds; revoking twice is harmless).

    \b
    Example:
      vexil keys delete 7 --yes -m "leaked in a log"
    """
    confirm(yes, f"Revoke key {key_id}?")
    revoked = remote.api.delete(api_path("keys", key_id), comment=comment)
    name = revoked.get("name") if isinstance(revoked, dict) else None
    done(as_json, revoked, f"Revoked key {key_id} {name!r}" if name else f"Revoked key {key_id}")
