"""`vexil validate FILE`: report every problem in a flag document, or a one-line summary when it is valid.

Exit codes: 0 valid, 1 invalid document, 2 unreadable file or bad JSON/YAML syntax. Evaluates nothing.
"""

from __future__ import annotations

import sys

import click

from vexil.cli._compile import compile_file


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@click.command("validate")
@click.argument("file", metavar="FILE")
def validate_command(file: str) -> None:
    """Check a flag document (YAML or JSON) against the vexil flag format.

    Prints one `path: message` line per problem and exits 1 when FILE is invalid; prints
    `ok: N flags, M segments` and exits 0 when it is valid.
    """
    compiled = compile_file(file)
    if compiled.problems:
        for problem in compiled.problems:
            click.echo(problem)
        click.echo(f"{file}: {_plural(len(compiled.problems), 'problem')}", err=True)
        sys.exit(1)
    click.echo(f"ok: {_plural(compiled.n_flags, 'flag')}, {_plural(compiled.n_segments, 'segment')}")
