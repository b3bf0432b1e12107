"""`vexil audit`: who changed what and when, newest first, filtered by project, environment, flag and time
(`--since 1d`, `--since 2026-03-01`, or an RFC 3339 time).

Reads `GET /api/v1/audit`, following its cursor until `--limit` entries.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from vexil.cli._client import api_path
from vexil.cli._output import print_json, print_table
from vexil.cli._remote import Remote, json_option, remote

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PAGE = 500


def parse_when(value: str, option: str, now: datetime | None = None) -> str:
    """`30m`, `12h`, `1d`, `2w` (ago), a date (midnight UTC) or an RFC 3339 time, as RFC 3339 UTC."""
    text = value.strip()
    match = _DURATION.fullmatch(text)
    if match:
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise click.BadParameter(
                "use a duration (30m, 12h, 1d, 2w), a date (2026-03-01) or an RFC 3339 time",
                param_hint=option,
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@click.command("audit")
@click.option("-p", "--project", default=None, metavar="KEY", help="Only this project [default: all].")
@click.option("-e", "--env", default=None, metavar="ENV", help="Only this environment.")
@click.option("--flag", default=None, metavar="KEY", help="Only this flag (definition and targeting).")
@click.option("--since", default=None, metavar="WHEN", help="From this time: 1d, 12h, 2026-03-01, RFC 3339.")
@click.option("--until", default=None, metavar="WHEN", help="Before this time (same forms).")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="At most this many."
)
@json_option
@remote
def audit_command(
    remote: Remote,
    project: str | None,
    env: str | None,
    flag: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log, newest first.

    \b
    Examples:
      vexil audit --since 1d
      vexil audit -p shop --flag new-checkout --since 2026-03-01
      vexil audit -p shop --env production --limit 200 --json
    """
    params: dict[str, Any] = {
        "project": project,
        "environment": env,
        "flag": flag,
        "since": parse_when(since, "--since") if since else None,
        "until": parse_when(until, "--until") if until else None,
    }
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(entries) < limit:
        page = remote.api.get(
            api_path("audit"), **params, limit=min(_PAGE, limit - len(entries)), cursor=cursor
        )
        entries += [e for e in page.get("items", []) if isinstance(e, dict)]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if as_json:
        print_json(entries)
        return
    rows = [
        [
            str(e.get("time", ""))[:19].replace("T", " "),
            e.get("actor"),
            e.get("action"),
            e.get("kind"),
            "/".join(str(p) for p in (e.get("project"), e.get("resource")) if p),
            e.get("environment"),
            e.get("comment"),
        ]
        for e in entries
    ]
    print_table(
        ["TIME (UTC)", "ACTOR", "ACTION", "KIND", "RESOURCE", "ENV", "COMMENT"], rows, empty="no entries"
    )
