"""The flag list (search, tag, on/off and "not evaluated in 30 days" filters, usage) and creating a flag.

Reads through the service (one snapshot per environment, one usage query); writes via `create_flag`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.engine import Problem
from vexil.service import AlreadyExists, FlagUsage, ValidationFailed

from ._drafts import lines
from ._http import Call, Console, Nav, page
from ._summaries import tags_of

STALE_AFTER = timedelta(days=30)
USAGE_DAYS = 7


@dataclass(frozen=True, slots=True)
class FlagRow:
    key: str
    definition: dict[str, Any]
    #: (environment key, critical, on) for every environment, in the project's order.
    states: list[tuple[str, bool, bool]]
    targeting: dict[str, Any] | None
    last_evaluated: datetime | None
    evaluations: int

    @property
    def stale(self) -> bool:
        return self.last_evaluated is None or datetime.now(UTC) - self.last_evaluated > STALE_AFTER


def _rows(call: Call, nav: Nav) -> list[FlagRow]:
    service, actor, project = call.service, call.principal, nav.project.key
    flags = service.list_flags(actor, project)
    docs = {
        e.key: service.get_snapshot(actor, project, e.key).document.get("flags", {}) for e in nav.environments
    }
    since = date.today() - timedelta(days=USAGE_DAYS - 1)
    usage: dict[str, FlagUsage] = {
        u.flag: u for u in service.flag_usage(actor, project, environment=nav.environment.key, since=since)
    }
    rows = []
    for flag in flags:
        found = usage.get(flag.key)
        rows.append(
            FlagRow(
                key=flag.key,
                definition={"key": flag.key, **flag.body},
                states=[
                    (e.key, e.critical, bool(docs[e.key].get(flag.key, {}).get("on")))
                    for e in nav.environments
                ],
                targeting=docs[nav.environment.key].get(flag.key),
                last_evaluated=found.last_evaluated if found else None,
                evaluations=found.total if found else 0,
            )
        )
    return rows


def _matches(row: FlagRow, q: str, tag: str, state: str, stale: bool, env: str) -> bool:
    text = " ".join(
        [row.key, str(row.definition.get("description", "")), *map(str, row.definition.get("tags", []))]
    )
    on = next(on for key, _, on in row.states if key == env)
    return (
        (not q or q.lower() in text.lower())
        and (not tag or tag in row.definition.get("tags", []))
        and (state != "on" or on)
        and (state != "off" or not on)
        and (not stale or row.stale)
    )


def parse_variations(kind: str, text: str) -> tuple[list[Any], list[Problem]]:
    """The new-flag form's variations: boolean is [false, true]; others one value per line."""
    if kind == "boolean":
        return [False, True], []
    values: list[Any] = []
    problems: list[Problem] = []
    for line in lines(text):
        if kind == "string":
            values.append(line)
            continue
        try:
            value = json.loads(line)
        except ValueError:
            problems.append(
                Problem("variations", f"{line!r} is not {'a number' if kind == 'number' else 'JSON'}")
            )
            continue
        if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(Problem("variations", f"{line!r} is not a number"))
        values.append(value)
    if len(values) < 2 and not problems:
        problems.append(Problem("variations", "a flag needs at least two variations, one per line"))
    return values, problems


def flag_list_routes(console: Console) -> list[BaseRoute]:
    async def flag_list(call: Call) -> Response:
        nav = await call.nav()
        rows = await call.run(_rows, call, nav)
        q, tag, state = call.query("q").strip(), call.query("tag"), call.query("state")
        stale = call.query("stale") == "1"
        shown = [r for r in rows if _matches(r, q, tag, state, stale, nav.environment.key)]
        return call.render(
            "flags.html",
            nav=nav,
            rows=shown,
            total=len(rows),
            tags=tags_of([r.definition for r in rows]),
            filters={"q": q, "tag": tag, "state": state, "stale": stale},
            filtered=bool(q or tag or state or stale),
        )

    async def new_flag_form(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        return call.render("flag_new.html", nav=nav, values={"kind": "boolean"}, problems=[])

    async def create_flag(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        form = call.form
        values: dict[str, Any] = {
            name: form.get(name, "") for name in ("key", "description", "kind", "variations", "tags", "owner")
        }
        values.update(temporary=form.get("temporary") == "on", client_side=form.get("client_side") == "on")
        variations, problems = parse_variations(values["kind"], values["variations"])
        body: dict[str, Any] = {"key": values["key"].strip(), "variations": variations}
        if values["description"].strip():
            body["description"] = values["description"].strip()
        tags = [t.strip() for t in values["tags"].split(",") if t.strip()]
        if tags:
            body["tags"] = tags
        if values["owner"].strip():
            body["owner"] = values["owner"].strip()
        body["temporary"] = bool(values["temporary"])
        body["client_side"] = bool(values["client_side"])
        if not problems:
            comment = form.get("comment", "").strip() or None
            try:
                await call.run(
                    call.service.create_flag, call.principal, nav.project.key, body, comment=comment
                )
            except ValidationFailed as exc:
                problems = list(exc.problems)
            except AlreadyExists:
                problems = [Problem("key", f"a flag {body['key']!r} already exists in {nav.project.key}")]
            else:
                return call.redirect(
                    nav.url("flags", body["key"]),
                    f"Created {body['key']}. It is off in every environment until you turn it on.",
                )
        return call.render("flag_new.html", status=422, nav=nav, values=values, problems=problems)

    return [
        Route("/p/{project}/{env}/flags", page(console, flag_list), methods=["GET"], name="ui-flags"),
        Route(
            "/p/{project}/{env}/new-flag", page(console, new_flag_form), methods=["GET"], name="ui-flag-new"
        ),
        Route(
            "/p/{project}/{env}/new-flag", page(console, create_flag), methods=["POST"], name="ui-flag-create"
        ),
    ]
