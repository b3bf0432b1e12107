"""The `vexil` console script: a click group wiring the subcommands, and the CLI's one error boundary.

Commands live in their own modules; this module holds no command logic.
"""

from __future__ import annotations

import os
import sys

import click

from vexil.cli._eval import eval_command
from vexil.cli._validate import validate_command

_INTERNAL_ERROR = 70  # EX_SOFTWARE from sysexits.h


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vexil", prog_name="vexil")
def cli() -> None:
    """vexil: self-hosted feature flags. Validate and evaluate flag documents (YAML or JSON)."""


cli.add_command(validate_command)
cli.add_command(eval_command)


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
