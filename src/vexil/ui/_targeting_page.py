"""The targeting editor page: editor actions re-render the draft (htmx swaps the form, or a full page
without JavaScript); saving replaces the targeting with the version the editor was opened at.

A stale save never overwrites: it shows what changed meanwhile and merges the person's edits onto the
current targeting by field, for them to check and save again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.engine import Problem
from vexil.service import Conflict, ResourceKind, ValidationFailed

from ._conflicts import Meanwhile, changes_since
from ._diff import merge_three
from ._http import Call, Console, Nav, page
from ._targeting_draft import TargetingDraft

COMMON_ATTRIBUTES = ("key", "email", "name", "country", "plan", "beta", "app_version", "created_at", "groups")


@dataclass(frozen=True, slots=True)
class EditorData:
    flag: dict[str, Any]
    body: dict[str, Any]
    version: int
    flags: dict[str, dict[str, Any]]
    segments: list[str]
    attributes: list[str]


@dataclass(frozen=True, slots=True)
class ConflictView:
    meanwhile: list[Meanwhile]
    overlapping: tuple[str, ...]


def _attributes(document: dict[str, Any]) -> list[str]:
    """Attribute names already used in this environment, then common ones, for the editor's suggestions."""
    seen: dict[str, None] = {}
    for item in [*document.get("flags", {}).values(), *document.get("segments", {}).values()]:
        for rule in item.get("rules") or []:
            for clause in rule.get("clauses") or []:
                if clause.get("attribute") and clause.get("op") != "segment_match":
                    seen[str(clause["attribute"])] = None
    return [*seen, *(a for a in COMMON_ATTRIBUTES if a not in seen)]


def load_editor(call: Call, nav: Nav, flag: str) -> EditorData:
    service, actor, project, env = call.service, call.principal, nav.project.key, nav.environment.key
    definition = service.get_flag(actor, project, flag)
    targeting = service.get_targeting(actor, project, flag, env)
    document = service.get_snapshot(actor, project, env).document
    return EditorData(
        flag={"key": definition.key, **definition.body},
        body=targeting.body,
        version=targeting.version,
        flags={f.key: {"key": f.key, **f.body} for f in service.list_flags(actor, project) if f.key != flag},
        segments=sorted(document.get("segments", {})),
        attributes=_attributes(document),
    )


def targeting_routes(console: Console) -> list[BaseRoute]:
    def render(
        call: Call,
        nav: Nav,
        data: EditorData,
        draft: TargetingDraft,
        *,
        version: int,
        base: dict[str, Any],
        status: int = 200,
        problems: list[Problem] | None = None,
        conflict: ConflictView | None = None,
    ) -> Response:
        # htmx only swaps what it is told to; a refused save still answers 200 to a fragment request.
        return call.render(
            "targeting.html",
            status=200 if call.is_htmx else status,
            nav=nav,
            flag=data.flag,
            flags=data.flags,
            segments=data.segments,
            attributes=data.attributes,
            draft=draft,
            version=version,
            base=json.dumps(base),
            problems=problems or [],
            conflict=conflict,
            comment=call.form.get("comment", ""),
        )

    async def edit_form(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        data = await call.run(load_editor, call, nav, call.param("flag"))
        draft = TargetingDraft.from_body(data.body, len(data.flag.get("variations", [])))
        return render(call, nav, data, draft, version=data.version, base=data.body)

    async def edit(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        flag, form = call.param("flag"), call.form
        data = await call.run(load_editor, call, nav, flag)
        draft = TargetingDraft.from_form(form, len(data.flag.get("variations", [])))
        version = int(form.get("version", "")) if form.get("version", "").isdigit() else data.version
        try:
            base = json.loads(form.get("base", "")) if form.get("base") else data.body
        except ValueError:
            base = data.body
        op = form.get("op", "refresh")
        if op != "save":
            draft.apply(op)
            return render(call, nav, data, draft, version=version, base=base)
        body, problems = draft.to_body()
        if problems:
            return render(call, nav, data, draft, version=version, base=base, status=422, problems=problems)
        env = nav.environment.key
        try:
            await call.run(
                call.service.replace_targeting,
                call.principal,
                nav.project.key,
                flag,
                env,
                body,
                expected_version=version,
                comment=form.get("comment", "").strip() or None,
            )
        except ValidationFailed as exc:
            problems = list(exc.problems)
            return render(call, nav, data, draft, version=version, base=base, status=422, problems=problems)
        except Conflict:
            meanwhile = await call.run(
                changes_since,
                call.service,
                call.principal,
                nav.project.key,
                kind=ResourceKind.TARGETING,
                resource=flag,
                environment=env,
                version=version,
            )
            merge = merge_three(base, body, data.body)
            merged = TargetingDraft.from_body(merge.merged, draft.variations)
            view = ConflictView(meanwhile, merge.overlapping)
            return render(
                call, nav, data, merged, version=data.version, base=data.body, status=409, conflict=view
            )
        return call.redirect(nav.url("flags", flag), f"Saved the targeting of {flag} in {env}.")

    path = "/p/{project}/{env}/flags/{flag}/targeting"
    return [
        Route(path, page(console, edit_form), methods=["GET"], name="ui-targeting-form"),
        Route(path, page(console, edit), methods=["POST"], name="ui-targeting"),
    ]
