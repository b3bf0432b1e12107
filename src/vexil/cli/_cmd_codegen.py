"""`vexil codegen`: write the typed flag-accessor module for a project (from the server, or offline from a
flags file), or check in CI that a committed one is current (`--check`).

Gathers the flags and hands them to `_codegen.generate_module`; no generation logic here.
"""

from __future__ import annotations

from pathlib import Path

import click

from vexil.cli._client import CliError
from vexil.cli._codegen import FlagInfo, flag_info, generate_module
from vexil.cli._docs import load_document
from vexil.cli._flagfile import parse_flag_file
from vexil.cli._remote import Remote, project_option, remote
from vexil.cli._state import read_state

_PREFERRED_ENV = "production"


def _default_env(environments: list[str], explicit: str | None) -> str | None:
    if explicit is not None:
        if explicit not in environments:
            raise CliError(
                f"no environment {explicit!r} (environments: {', '.join(sorted(environments)) or 'none'})"
            )
        return explicit
    if _PREFERRED_ENV in environments:
        return _PREFERRED_ENV
    return sorted(environments)[0] if environments else None


def _from_file(path: str, env: str | None) -> tuple[list[FlagInfo], str]:
    flag_file = parse_flag_file(load_document(path), path)
    chosen = _default_env(list(flag_file.environments), env)
    flags = [
        flag_info(key, spec.definition, flag_file.targeting(key, chosen) if chosen else None)
        for key, spec in flag_file.flags.items()
    ]
    return (
        flags,
        f"project {flag_file.project!r} ({Path(path).name}{f', defaults from {chosen}' if chosen else ''})",
    )


def _from_server(remote: Remote, project: str | None, env: str | None) -> tuple[list[FlagInfo], str]:
    the_project = remote.project(project)
    state = read_state(remote.api, the_project)
    chosen = _default_env(list(state.environments), env)
    flags = []
    for key, flag in state.flags.items():
        targeting = flag.targeting.get(chosen) if chosen else None
        flags.append(flag_info(key, flag.definition.body, targeting.body if targeting else None))
    return flags, f"project {the_project!r}{f' (defaults from {chosen})' if chosen else ''}"


@click.command("codegen")
@project_option
@click.option(
    "-f",
    "--file",
    "path",
    default=None,
    metavar="FILE",
    help="Read the flags from a flags file instead of the server.",
)
@click.option(
    "-e",
    "--env",
    default=None,
    metavar="ENV",
    help="Whose off variations are the defaults [default: production].",
)
@click.option("-o", "--out", default=None, metavar="FILE", help="Write the module here [default: stdout].")
@click.option("--check", is_flag=True, help="Do not write: exit 1 if --out is missing or out of date.")
@remote
def codegen_command(
    remote: Remote, project: str | None, path: str | None, env: str | None, out: str | None, check: bool
) -> None:
    """Generate a typed Python module with one accessor function per flag.

    Each accessor is typed by the flag's variations (bool, str, float, a TypedDict for JSON objects of one
    shape, else a JSON type) and defaults to the flag's off variation; `FlagKey` is a Literal of all keys,
    and `value(client, key, context)` only type-checks for known keys, so mypy or pyright catch a
    misspelled flag and a value used as the wrong type.

    \b
    Examples:
      vexil codegen -p shop --out app/flags.py
      vexil codegen -f flags.yaml --out app/flags.py --check     # in CI
    \b
    Then:
      from vexil.sdk import Client
      from app import flags
      if flags.new_checkout(client, {"key": user.id}): ...
    """
    if path is not None and project is not None:
        raise click.UsageError("give -p/--project (read the server) or -f/--file (read a file), not both")
    flags, source = _from_file(path, env) if path is not None else _from_server(remote, project, env)
    text = generate_module(flags, source=source)
    if check:
        if out is None:
            raise click.UsageError("--check needs --out")
        current = Path(out).read_text(encoding="utf-8") if Path(out).exists() else None
        if current != text:
            raise CliError(f"{out} is out of date: run `vexil codegen` again")
        click.echo(f"{out} is up to date ({len(flags)} flags)")
        return
    if out is None:
        click.echo(text, nl=False)
        return
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out} ({len(flags)} flags)", err=True)
