"""The `vexil` console script: a click group wiring the subcommands, and the CLI's one error boundary.

Commands live in their own modules; this module holds no command logic.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from vexil.cli._cmd_audit import audit_command
from vexil.cli._cmd_codegen import codegen_command
from vexil.cli._cmd_flags import flags_group
from vexil.cli._cmd_flags_as_code import apply_command, export_command, plan_command
from vexil.cli._cmd_keys import keys_group
from vexil.cli._cmd_login import login_command
from vexil.cli._cmd_projects import envs_group, projects_group
from vexil.cli._cmd_segments import segments_group
from vexil.cli._eval import eval_command
from vexil.cli._validate import validate_command

_INTERNAL_ERROR = 70  # EX_SOFTWARE from sysexits.h


# Commands that pull in the server stack (uvicorn, Starlette, psycopg) load only when invoked, so the
# operator commands start in a fraction of the time.
_LAZY = {
    "serve": ("vexil.cli._serve", "serve_command"),
    "migrate": ("vexil.cli._serve", "migrate_command"),
    "relay": ("vexil.cli._relay", "relay_command"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LAZY:
            module, attribute = _LAZY[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vexil", prog_name="vexil")
def cli() -> None:
    """vexil: self-hosted feature flags.

    Run the server (serve, migrate, relay), manage projects, flags, segments and keys on it, keep flags as
    code (export, plan, apply, codegen), and validate or evaluate flag documents locally.
    """


cli.add_command(validate_command)
cli.add_command(eval_command)
cli.add_command(login_command)
cli.add_command(projects_group)
cli.add_command(envs_group)
cli.add_command(flags_group)
cli.add_command(segments_group)
cli.add_command(keys_group)
cli.add_command(audit_command)
cli.add_command(export_command)
cli.add_command(plan_command)
cli.add_command(apply_command)
cli.add_command(codegen_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; an unexpected error is one line on stderr (VEXIL_DEBUG=1 re-raises it for a traceback)."""
    try:
        cli.main(args=argv, prog_name="vexil")
    except Exception as exc:  # the CLI layer's one broad boundary: a user never gets a bare traceback
        if os.environ.get("VEXIL_DEBUG"):
            raise
        click.echo(
            f"vexil: internal error: {type(exc).__name__}: {exc} (VEXIL_DEBUG=1 shows where)", err=True
        )
        sys.exit(_INTERNAL_ERROR)
