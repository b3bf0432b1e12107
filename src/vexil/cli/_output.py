"""How the operator commands print: rich tables and YAML for humans, plain JSON for scripts (`--json`).

Presentation only; no API calls here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vexil.cli._yaml_dump import dump_yaml

#: Fields of API representations that say when and where, not what (hidden from human output).
READ_ONLY = frozenset({"project", "created_at", "updated_at"})


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_yaml(data: Mapping[str, Any], *, hide: frozenset[str] = READ_ONLY) -> None:
    """One resource, readable: YAML without the bookkeeping fields."""
    click.echo(dump_yaml({k: v for k, v in data.items() if k not in hide}).rstrip("\n"))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "nothing") -> None:
    if not rows:
        click.echo(f"({empty})")
        return
    table = Table(*columns, box=None, header_style="bold", pad_edge=False, highlight=False)
    for row in rows:
        table.add_row(*(cell_text(cell) for cell in row))
    # Not a terminal (pipes, tests): no colours, and wide enough that rows are not folded.
    console = Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200)
    console.print(table)


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, ensure_ascii=False)


def short_json(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show(as_json: bool, data: Mapping[str, Any], *, hide: frozenset[str] = READ_ONLY) -> None:
    """A read: JSON for scripts, YAML for humans."""
    if as_json:
        print_json(data)
    else:
        print_yaml(data, hide=hide)


def done(as_json: bool, data: Any, message: str) -> None:
    """After a write: the resource as JSON for scripts, else one line for humans."""
    if as_json:
        print_json(data)
    else:
        click.echo(message)
