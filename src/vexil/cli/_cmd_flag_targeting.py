"""`vexil flags toggle|rollout|target|eval`: change one flag's targeting in one environment, or evaluate a
flag as the server's SDKs would.

`flags eval` is the REMOTE evaluation: it reads the environment's current flags and segments through the
admin API and evaluates them with the same engine the SDKs use. The LOCAL `vexil eval FILE FLAG` (a flag
document on disk) is a separate top-level command; keeping the remote one under `flags` means a flag key
is never mistaken for a file name.
"""

from __future__ import annotations

import json
from typing import Any

import click

from vexil.cli._client import CliError, api_path
from vexil.cli._docs import load_context, loads_strict
from vexil.cli._output import done, short_json
from vexil.cli._remote import Remote, comment_option, env_option, json_option, project_option, remote
from vexil.cli._state import read_state
from vexil.cli._variations import boolean_indices
from vexil.engine import Snapshot

FULL_WEIGHT = 100_000


def _targeting_path(project: str, flag: str, env: str) -> str:
    return api_path("projects", project, "flags", flag, "environments", env)


@click.command("toggle")
@click.argument("key")
@project_option
@env_option()
@click.option("--on/--off", "turn_on", default=None, required=True, help="Turn the flag on or off.")
@comment_option
@json_option
@remote
def toggle_command(
    remote: Remote, key: str, project: str | None, env: str, turn_on: bool, comment: str | None, as_json: bool
) -> None:
    """Turn a flag on or off in one environment (off is the kill switch: it serves the off variation).

    \b
    Examples:
      vexil flags toggle new-checkout -p shop --env production --on -m "launch"
      vexil flags toggle new-checkout -p shop --env production --off -m "incident 42"
    """
    the_project = remote.project(project)
    updated = remote.api.patch(_targeting_path(the_project, key, env), {"on": turn_on}, comment=comment)
    done(
        as_json, updated, f"Flag {key!r} is now {'ON' if turn_on else 'OFF'} in {env} (project {the_project})"
    )


@click.command("rollout")
@click.argument("key")
@project_option
@env_option()
@click.option(
    "--percent",
    required=True,
    type=click.FloatRange(0, 100),
    help="Share of contexts that get true (0-100; 0.001 steps).",
)
@comment_option
@json_option
@remote
def rollout_command(
    remote: Remote,
    key: str,
    project: str | None,
    env: str,
    percent: float,
    comment: str | None,
    as_json: bool,
) -> None:
    """Serve true to a percentage of contexts (a boolean flag's fallthrough becomes a rollout).

    Contexts keep their bucket when the percentage grows: raising 10 -> 25 only adds contexts.

    \b
    Example:
      vexil flags rollout new-checkout -p shop --env production --percent 25
    """
    the_project = remote.project(project)
    flag = remote.api.get(api_path("projects", the_project, "flags", key))
    indices = boolean_indices(flag.get("variations", []))
    if indices is None:
        raise CliError(
            f"flag {key!r} is not boolean (variations {short_json(flag.get('variations'))}): "
            "--percent splits true/false; edit the rollout with `vexil apply` for other flags"
        )
    on_index, off_index = indices
    weight = round(percent * 1000)
    # A merge patch: `variation: null` removes a fixed serve; other rollout settings (seed, bucket_by) stay.
    patch = {
        "fallthrough": {
            "variation": None,
            "rollout": {
                "variations": [
                    {"variation": on_index, "weight": weight},
                    {"variation": off_index, "weight": FULL_WEIGHT - weight},
                ]
            },
        }
    }
    updated = remote.api.patch(_targeting_path(the_project, key, env), patch, comment=comment)
    note = (
        ""
        if updated.get("on")
        else f" (the flag is off in {env}: `vexil flags toggle {key} --env {env} --on`)"
    )
    done(as_json, updated, f"Flag {key!r} in {env}: {percent:g}% get true, {100 - percent:g}% false{note}")


def _variation_index(spec: str | None, variations: list[Any], flag: str) -> int:
    """`--variation` as an index or a JSON value of one variation; default: true for boolean flags."""
    if spec is None:
        indices = boolean_indices(variations)
        if indices is None:
            raise CliError(f"flag {flag!r} is not boolean: say which variation with --variation")
        return indices[0]
    if spec.isdigit() and int(spec) < len(variations):
        return int(spec)
    try:
        value: Any = loads_strict(spec)
    except ValueError:
        value = spec  # a bare string: --variation dark
    matches = [
        i
        for i, v in enumerate(variations)
        if json.dumps(v, sort_keys=True) == json.dumps(value, sort_keys=True)
    ]
    if not matches:
        raise CliError(
            f"--variation {spec}: not an index or value of {flag!r} (variations {short_json(variations)})"
        )
    return matches[0]


@click.command("target")
@click.argument("key")
@project_option
@env_option()
@click.option("--add", "add", multiple=True, metavar="CONTEXT_KEY", help="Serve the variation to this key.")
@click.option("--remove", "remove", multiple=True, metavar="CONTEXT_KEY", help="Remove this key's target.")
@click.option(
    "--variation", default=None, help="Index or JSON value of the variation to serve [default: true]."
)
@click.option("--context-kind", default="user", show_default=True, help="Context kind of the keys.")
@comment_option
@json_option
@remote
def target_command(
    remote: Remote,
    key: str,
    project: str | None,
    env: str,
    add: tuple[str, ...],
    remove: tuple[str, ...],
    variation: str | None,
    context_kind: str,
    comment: str | None,
    as_json: bool,
) -> None:
    """Serve a variation to individual contexts by key (individual targets), or remove them.

    \b
    Examples:
      vexil flags target new-checkout -p shop --env production --add user-1 --add user-2
      vexil flags target theme -p shop --env production --add user-1 --variation '"dark"'
      vexil flags target new-checkout -p shop --env production --remove user-2
    """
    if not add and not remove:
        raise click.UsageError("give --add and/or --remove")
    the_project = remote.project(project)
    flag = remote.api.get(api_path("projects", the_project, "flags", key))
    current = remote.api.get(_targeting_path(the_project, key, env))
    index = _variation_index(variation, list(flag.get("variations", [])), key) if add else -1
    moved = set(add) | set(remove)
    targets: list[dict[str, Any]] = []
    for target in current.get("targets", []):
        kept = dict(target)
        if kept.get("context_kind", "user") == context_kind:
            kept["values"] = [v for v in kept.get("values", []) if v not in moved]
        targets.append(kept)
    if add:
        into = next(
            (
                t
                for t in targets
                if t.get("variation") == index and t.get("context_kind", "user") == context_kind
            ),
            None,
        )
        if into is None:
            into = {"variation": index, "values": []}
            if context_kind != "user":
                into["context_kind"] = context_kind
            targets.append(into)
        into["values"] = [*into["values"], *dict.fromkeys(add)]
    targets = [t for t in targets if t.get("values")]
    updated = remote.api.patch(
        _targeting_path(the_project, key, env),
        {"targets": targets},
        comment=comment,
        if_match=int(current.get("version", 0)),
    )
    parts = []
    if add:
        served = short_json(flag.get("variations", [])[index])
        parts.append(f"{', '.join(add)} -> variation {index} ({served})")
    if remove:
        parts.append(f"removed {', '.join(remove)}")
    done(as_json, updated, f"Flag {key!r} in {env}: {'; '.join(parts)}")


@click.command("eval")
@click.argument("key", required=False)
@project_option
@env_option()
@click.option(
    "--context", "context_arg", required=True, metavar="JSON", help="The context as JSON, or @file.json."
)
@click.option("--all", "all_flags", is_flag=True, help="Evaluate every flag (no KEY).")
@remote
def eval_remote_command(
    remote: Remote, key: str | None, project: str | None, env: str, context_arg: str, all_flags: bool
) -> None:
    """Evaluate a flag as the environment's SDKs would now (the server's current flags and segments).

    Prints {"value", "variation", "reason"} as JSON. For a flag document on disk use `vexil eval FILE FLAG`.

    \b
    Examples:
      vexil flags eval new-checkout -p shop --env production --context '{"key": "user-1", "country": "NZ"}'
      vexil flags eval -p shop --env production --context @ctx.json --all
    """
    if all_flags == (key is not None):
        raise click.UsageError("give a flag KEY, or --all (not both)")
    context = load_context(context_arg)
    the_project = remote.project(project)
    state = read_state(remote.api, the_project, environments=[env])
    if env not in state.environments:
        raise CliError(f"404 not found: environment '{the_project}/{env}' not found")
    if key is not None and key not in state.flags:
        raise CliError(f"404 not found: flag '{the_project}/{key}' not found")
    snapshot = Snapshot.from_document(state.document(env), strict=False)
    # One line of JSON, like the local `vexil eval`.
    if key is not None:
        click.echo(json.dumps(snapshot.evaluate(key, context).to_dict(), ensure_ascii=False))
    else:
        results = {name: result.to_dict() for name, result in snapshot.evaluate_all(context).items()}
        click.echo(json.dumps(results, ensure_ascii=False))
