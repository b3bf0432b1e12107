"""`vexil eval`: evaluate flags of a document for a context, one flag, all flags, or a JSONL batch of cases.

The document is compiled once per process; bad batch lines become error lines, never abort the batch.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from vexil.cli._compile import compile_file
from vexil.cli._docs import DocumentError, json_type, load_context, loads_strict
from vexil.engine import Snapshot

_CASE_FIELDS = frozenset({"flag", "context"})


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _evaluate(snapshot: Snapshot, flag: str | None, context: dict[str, Any]) -> dict[str, Any]:
    if flag is not None:
        return snapshot.evaluate(flag, context).to_dict()
    return {key: result.to_dict() for key, result in snapshot.evaluate_all(context).items()}


def _parse_case(raw: bytes) -> str | tuple[str | None, dict[str, Any]]:
    """Parse one batch line into (flag or None for all flags, context), or return why it is bad."""
    try:
        case = loads_strict(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except ValueError as exc:
        return f"invalid JSON: {exc}"
    if not isinstance(case, dict):
        return f"a case must be a JSON object with 'flag' and 'context', got {json_type(case)}"
    unknown = sorted(set(case) - _CASE_FIELDS)
    if unknown:
        return f"unknown field '{unknown[0]}' (a case has 'flag' and 'context')"
    if "context" not in case:
        return "missing field 'context'"
    context = case["context"]
    if not isinstance(context, dict):
        return f"'context' must be a JSON object, got {json_type(context)}"
    flag = case.get("flag")
    if "flag" in case and not isinstance(flag, str):
        return f"'flag' must be a string, got {json_type(flag)}"
    return flag, context


@contextmanager
def _open_cases(path: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 -- closed below; a `with` cannot wrap the error message
    except OSError as exc:
        raise DocumentError(f"cannot read {path}: {exc.strerror or exc}") from None
    with stream:
        yield stream


def _run_batch(snapshot: Snapshot, path: str) -> None:
    out = sys.stdout
    with _open_cases(path) as cases:
        for lineno, raw in enumerate(cases, start=1):
            if not raw.strip():
                continue  # blank lines (a trailing newline, spacing) are not cases
            parsed = _parse_case(raw)
            if isinstance(parsed, str):
                out.write(_dumps({"line": lineno, "error": parsed}) + "\n")
                continue
            flag, context = parsed
            out.write(_dumps(_evaluate(snapshot, flag, context)) + "\n")
    out.flush()


@click.command("eval")
@click.argument("file", metavar="FILE")
@click.argument("flag", metavar="[FLAG]", required=False)
@click.option("--all", "all_flags", is_flag=True, help="Evaluate every flag; prints an object keyed by flag.")
@click.option(
    "--context",
    "context_arg",
    metavar="JSON",
    help='The context as JSON, e.g. \'{"key": "u1", "country": "NZ"}\', or @path.json.',
)
@click.option(
    "--batch",
    metavar="CASES.jsonl",
    help='Evaluate a JSONL file of {"flag": KEY, "context": {...}} cases (no "flag": all flags); - is stdin.',
)
def eval_command(
    file: str, flag: str | None, all_flags: bool, context_arg: str | None, batch: str | None
) -> None:
    """Evaluate flags in FILE (YAML or JSON) and print the results as JSON.

    \b
      vexil eval FILE FLAG --context JSON     {"value", "variation", "reason"}
      vexil eval FILE --all --context JSON    {FLAG: {...}, ...}
      vexil eval FILE --batch CASES.jsonl     one output line per case, in order

    A bad batch line yields {"line": N, "error": "..."} and the batch goes on. Exits 1 (printing the
    problems) when FILE is not a valid flag document, 2 when it cannot be read or parsed, else 0.
    """
    modes = (flag is not None) + all_flags + (batch is not None)
    if modes != 1:
        raise click.UsageError("give exactly one of FLAG, --all or --batch")
    if batch is not None and context_arg is not None:
        raise click.UsageError("--context is not used with --batch: each case carries its own context")
    if batch is None and context_arg is None:
        raise click.UsageError("--context is required (JSON, or @path.json)")
    context = load_context(context_arg) if context_arg is not None else {}
    compiled = compile_file(file)
    if compiled.snapshot is None:
        for problem in compiled.problems:
            click.echo(problem, err=True)
        sys.exit(1)
    if batch is not None:
        _run_batch(compiled.snapshot, batch)
        return
    click.echo(_dumps(_evaluate(compiled.snapshot, flag, context)))
