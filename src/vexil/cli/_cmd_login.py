"""`vexil login`: check a server URL and admin key, and store them as a profile (file mode 0600).

The key comes from `--key`, `--key -` (stdin) or a hidden prompt; it is never echoed.
"""

from __future__ import annotations

import sys

import click

from vexil.cli._client import ApiClient, CliError, api_path
from vexil.cli._profiles import DEFAULT_PROFILE, Profile, ProfileStore


@click.command("login")
@click.option("--url", required=True, metavar="URL", help="Server URL, e.g. http://127.0.0.1:7070.")
@click.option(
    "--key",
    metavar="KEY",
    default=None,
    help="Admin API key; '-' reads it from stdin; omitted: asked for (hidden).",
)
@click.option("--profile", metavar="NAME", default=DEFAULT_PROFILE, show_default=True, help="Profile name.")
@click.option("-p", "--project", metavar="KEY", default=None, help="Default project of this profile.")
@click.option("--no-verify", is_flag=True, help="Store without checking the key against the server.")
def login_command(url: str, key: str | None, profile: str, project: str | None, no_verify: bool) -> None:
    """Store a server URL and admin key as a profile (and make it the current one).

    Profiles live in $XDG_CONFIG_HOME/vexil/profiles.json (else ~/.config/vexil/), readable only by you.
    VEXIL_URL, VEXIL_KEY, VEXIL_PROJECT and VEXIL_PROFILE override them for one command.

    \b
    Examples:
      vexil login --url http://127.0.0.1:7070            # asks for the key
      cat .vexil/admin.key | vexil login --url http://127.0.0.1:7070 --key -
      vexil login --url https://flags.example.com --profile prod --project shop
    """
    if key == "-":
        key = sys.stdin.readline().strip()
    elif key is None:
        key = click.prompt("Admin API key", hide_input=True, err=True).strip()
    if not key:
        raise CliError("the key is empty")
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError(f"{url!r} is not an http:// or https:// URL")
    if not no_verify:
        with ApiClient(url, key, timeout=10.0) as api:
            found = api.items(api_path("projects"))
        projects = [str(p.get("key")) for p in found]
        if project and project not in projects:
            click.echo(f"vexil: warning: project {project!r} is not visible with this key", err=True)
    store = ProfileStore()
    store.save(profile, Profile(url, key, project), make_current=True)
    shown = f" ({len(projects)} projects visible)" if not no_verify else ""
    click.echo(f"Logged in to {url} as profile {profile!r}{shown}; saved in {store.path}")
