"""`vexil export`, `vexil plan` and `vexil apply`: flags as code (docs/flags-as-code.md).

export writes a project's state as a flags file; plan diffs a file against the server (exit 2 when there
are changes); apply sends the plan, with the versions it was computed against, to the bulk endpoint,
which applies all of it in one transaction or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from vexil.cli._client import ApiError, CliError, api_path
from vexil.cli._docs import DocumentError, load_document, parse_json, read_text
from vexil.cli._flagfile import FlagFile, from_state, parse_flag_file, render, to_data
from vexil.cli._output import print_json
from vexil.cli._plan import Plan, check_documents, final_documents, make_plan, render_plan
from vexil.cli._remote import Remote, comment_option, json_option, project_option, remote
from vexil.cli._state import read_state

EXIT_CHANGES = 2


class _PlanUsageError(click.UsageError):
    exit_code = 1


class _PlanCommand(click.Command):
    """Exit status 2 means "there are changes": a usage mistake exits 1 here, not click's usual 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _PlanUsageError(exc.format_message(), exc.ctx) from None


@click.command("export")
@project_option
@click.option("-e", "--env", "envs", multiple=True, metavar="ENV", help="Only this environment (repeatable).")
@click.option("-o", "--out", default=None, metavar="FILE", help="Write here instead of stdout.")
@json_option
@remote
def export_command(
    remote: Remote, project: str | None, envs: tuple[str, ...], out: str | None, as_json: bool
) -> None:
    """Write a project's flags, targeting and segments as a flags file (YAML; --json for JSON).

    The output is stable (sorted keys, fixed field order), so exporting twice gives the same bytes and a
    change to one flag is a small diff.

    \b
    Examples:
      vexil export -p shop > flags.yaml
      vexil export -p shop --env production -o flags.production.yaml
    """
    the_project = remote.project(project)
    state = read_state(remote.api, the_project, environments=envs or None)
    missing = sorted(set(envs) - set(state.environments))
    if missing:
        raise CliError(f"404 not found: environment {the_project}/{missing[0]!r} not found")
    flag_file = from_state(state)
    text = (
        json.dumps(to_data(flag_file), indent=2, ensure_ascii=False) + "\n" if as_json else render(flag_file)
    )
    if out is None:
        click.echo(text, nl=False)
    else:
        Path(out).write_text(text, encoding="utf-8")
        click.echo(
            f"Wrote {out} ({len(flag_file.flags)} flags, {len(flag_file.environments)} environments)",
            err=True,
        )


def _load(path: str, project: str | None) -> FlagFile:
    flag_file = parse_flag_file(load_document(path), path)
    if project:
        flag_file.project = project
    return flag_file


def _planned(remote: Remote, path: str, project: str | None, prune: bool) -> Plan:
    try:
        desired = _load(path, project)
    except DocumentError as exc:
        raise CliError(exc.format_message()) from None
    state = read_state(remote.api, desired.project, environments=desired.environments, missing_ok=True)
    problems = check_documents(final_documents(desired, state, prune=prune))
    if problems:
        raise CliError(f"{path}: the flags would not be valid:\n" + "\n".join(f"  {p}" for p in problems))
    return make_plan(desired, state, prune=prune)


def _show(plan: Plan, as_json: bool) -> None:
    if as_json:
        print_json(plan.to_dict())
    else:
        for line in render_plan(plan):
            click.echo(line)


_FILE = click.option(
    "-f", "--file", "path", required=True, metavar="FILE", help="The flags file (YAML or JSON)."
)
_PRUNE = click.option("--prune", is_flag=True, help="Also delete flags and segments the file does not have.")


@click.command("plan", cls=_PlanCommand)
@_FILE
@project_option
@_PRUNE
@click.option("-o", "--out", default=None, metavar="PLAN", help="Save the plan for `vexil apply --plan`.")
@json_option
@remote
def plan_command(
    remote: Remote, path: str, project: str | None, prune: bool, out: str | None, as_json: bool
) -> None:
    """Show what `vexil apply` would change, resource by resource. Exit 0: no changes; 2: changes; 1: error.

    --project applies the file to another project than the one it names.

    \b
    Examples:
      vexil plan -f flags.yaml
      vexil plan -f flags.yaml --prune -o flags.plan.json   # then: vexil apply --plan flags.plan.json
    """
    plan = _planned(remote, path, project, prune)
    _show(plan, as_json)
    if out is not None:
        Path(out).write_text(
            json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if plan.changes:
        click.get_current_context().exit(EXIT_CHANGES)


@click.command("apply")
@click.option("-f", "--file", "path", default=None, metavar="FILE", help="The flags file (YAML or JSON).")
@click.option(
    "--plan", "plan_path", default=None, metavar="PLAN", help="Apply a plan saved by `vexil plan -o`."
)
@project_option
@_PRUNE
@comment_option
@json_option
@remote
def apply_command(
    remote: Remote,
    path: str | None,
    plan_path: str | None,
    project: str | None,
    prune: bool,
    comment: str | None,
    as_json: bool,
) -> None:
    """Make the server match a flags file, in one transaction: everything or (on any conflict) nothing.

    Each change carries the version it was planned against, and each environment its snapshot version:
    if anything changed on the server since, nothing is applied and the conflicts are listed. Applying
    the same file again changes nothing. Without --prune nothing is ever deleted.

    \b
    Examples:
      vexil apply -f flags.yaml -m "PR #123"
      vexil apply -f flags.yaml --prune
      vexil apply --plan flags.plan.json
    """
    if (path is None) == (plan_path is None):
        raise click.UsageError("give -f/--file or --plan (one of them)")
    if plan_path is not None:
        if prune or project:
            raise click.UsageError("--prune and --project belong to the plan: give them to `vexil plan`")
        plan = Plan.from_dict(parse_json(read_text(plan_path), plan_path), plan_path)
        source = plan_path
    else:
        assert path is not None
        plan = _planned(remote, path, project, prune)
        source = path
    if not as_json:
        _show(plan, False)
    if not plan.changes:
        if as_json:
            print_json({"applied": [], "snapshot_versions": {}})
        return
    body = plan.request(comment or f"vexil apply {Path(source).name}")
    try:
        result: Any = remote.api.post(api_path("projects", plan.project, "apply"), body)
    except ApiError as exc:
        if exc.status == 409 and exc.problem.get("conflicts"):
            lines = [f"  {c.get('message')}" for c in exc.problem["conflicts"] if isinstance(c, dict)]
            raise CliError(
                "409 conflict: nothing applied: the server changed since the plan:\n"
                + "\n".join(lines)
                + "\nRun `vexil plan` again to see the current differences."
            ) from None
        raise
    if as_json:
        print_json(result)
        return
    counts = plan.counts()
    click.echo(
        f"Applied to project {plan.project}: {counts['create']} created, {counts['replace']} changed, "
        f"{counts['delete']} deleted."
    )
