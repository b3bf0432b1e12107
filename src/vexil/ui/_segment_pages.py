"""Segments of the current environment: the list, creating one, and the editor (included, excluded, rules).

Writes go through the segment use cases with the version the editor was opened at; readers get a view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.engine import Problem
from vexil.service import AlreadyExists, Conflict, ResourceKind, Segment, ValidationFailed

from ._conflicts import changes_since
from ._diff import merge_three
from ._http import Call, Console, Nav, page
from ._segment_draft import SegmentDraft


@dataclass(frozen=True, slots=True)
class SegmentRow:
    segment: Segment
    used_by: list[str]


def _users(document: dict[str, Any], segment: str) -> list[str]:
    """Flags and segments whose rules name `segment` (a delete is refused while any do)."""
    found = []
    for kind, items in (("flag", document.get("flags", {})), ("segment", document.get("segments", {}))):
        for key, item in items.items():
            for rule in item.get("rules") or []:
                if any(
                    c.get("op") == "segment_match" and segment in (c.get("values") or [])
                    for c in rule.get("clauses") or []
                ):
                    found.append(f"{kind} {key}")
                    break
    return found


def segment_routes(console: Console) -> list[BaseRoute]:
    def load_rows(call: Call, nav: Nav) -> list[SegmentRow]:
        actor, project, env = call.principal, nav.project.key, nav.environment.key
        document = call.service.get_snapshot(actor, project, env).document
        return [
            SegmentRow(s, _users(document, s.key)) for s in call.service.list_segments(actor, project, env)
        ]

    async def segment_list(call: Call) -> Response:
        nav = await call.nav()
        rows = await call.run(load_rows, call, nav)
        return call.render("segments.html", nav=nav, rows=rows, values={}, problems=[])

    async def create(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        key = call.form.get("key", "").strip()
        body = {"key": key, "description": call.form.get("description", "").strip()}
        if not body["description"]:
            del body["description"]
        try:
            await call.run(
                call.service.create_segment, call.principal, nav.project.key, nav.environment.key, body
            )
        except (ValidationFailed, AlreadyExists) as exc:
            problems = (
                list(exc.problems) if isinstance(exc, ValidationFailed) else [Problem("key", exc.message)]
            )
            rows = await call.run(load_rows, call, nav)
            values = {"key": key, "description": call.form.get("description", "")}
            return call.render(
                "segments.html", status=422, nav=nav, rows=rows, values=values, problems=problems
            )
        return call.redirect(nav.url("segments", key), f"Created segment {key} in {nav.environment.key}.")

    def load_segment(call: Call, nav: Nav, key: str) -> tuple[Segment, list[str]]:
        actor, project, env = call.principal, nav.project.key, nav.environment.key
        segment = call.service.get_segment(actor, project, env, key)
        others = [s.key for s in call.service.list_segments(actor, project, env) if s.key != key]
        return segment, others

    async def show(call: Call) -> Response:
        nav = await call.nav()
        segment, others = await call.run(load_segment, call, nav, call.param("segment"))
        draft = SegmentDraft.from_body(segment.body)
        return render(call, nav, segment, draft, others, version=segment.version, base=segment.body)

    def render(
        call: Call,
        nav: Nav,
        segment: Segment,
        draft: SegmentDraft,
        others: list[str],
        *,
        version: int,
        base: dict[str, Any],
        status: int = 200,
        problems: list[Problem] | None = None,
        conflict: Any = None,
    ) -> Response:
        return call.render(
            "segment.html",
            status=200 if call.is_htmx else status,
            nav=nav,
            segment=segment,
            draft=draft,
            version=version,
            base=json.dumps(base),
            problems=problems or [],
            conflict=conflict,
            segments=others,
            comment=call.form.get("comment", ""),
        )

    async def edit(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        key, form = call.param("segment"), call.form
        project, env = nav.project.key, nav.environment.key
        segment, others = await call.run(load_segment, call, nav, key)
        draft = SegmentDraft.from_form(form)
        version = int(form.get("version", "")) if form.get("version", "").isdigit() else segment.version
        try:
            base = json.loads(form.get("base", "")) if form.get("base") else segment.body
        except ValueError:
            base = segment.body
        op = form.get("op", "refresh")
        if op == "delete":
            try:
                await call.run(
                    call.service.delete_segment,
                    call.principal,
                    project,
                    env,
                    key,
                    expected_version=version,
                    comment=form.get("comment", "").strip() or None,
                )
            except (ValidationFailed, Conflict) as exc:
                problems = (
                    list(exc.problems) if isinstance(exc, ValidationFailed) else [Problem("", exc.message)]
                )
                return render(
                    call,
                    nav,
                    segment,
                    draft,
                    others,
                    version=version,
                    base=base,
                    status=422,
                    problems=problems,
                )
            return call.redirect(nav.url("segments"), f"Deleted segment {key} from {env}.")
        if op != "save":
            draft.apply(op)
            return render(call, nav, segment, draft, others, version=version, base=base)
        body, problems = draft.to_body()
        if problems:
            return render(
                call, nav, segment, draft, others, version=version, base=base, status=422, problems=problems
            )
        try:
            await call.run(
                call.service.replace_segment,
                call.principal,
                project,
                env,
                key,
                body,
                expected_version=version,
                comment=form.get("comment", "").strip() or None,
            )
        except ValidationFailed as exc:
            return render(
                call,
                nav,
                segment,
                draft,
                others,
                version=version,
                base=base,
                status=422,
                problems=list(exc.problems),
            )
        except Conflict:
            meanwhile = await call.run(
                changes_since,
                call.service,
                call.principal,
                project,
                kind=ResourceKind.SEGMENT,
                resource=key,
                environment=env,
                version=version,
            )
            merge = merge_three(base, body, segment.body)
            conflict = {"meanwhile": meanwhile, "overlapping": merge.overlapping}
            return render(
                call,
                nav,
                segment,
                SegmentDraft.from_body(merge.merged),
                others,
                version=segment.version,
                base=segment.body,
                status=409,
                conflict=conflict,
            )
        return call.redirect(nav.url("segments", key), f"Saved segment {key} in {env}.")

    base_path = "/p/{project}/{env}/segments"
    return [
        Route(base_path, page(console, segment_list), methods=["GET"], name="ui-segments"),
        Route(base_path, page(console, create), methods=["POST"], name="ui-segment-create"),
        Route(base_path + "/{segment}", page(console, show), methods=["GET"], name="ui-segment"),
        Route(base_path + "/{segment}", page(console, edit), methods=["POST"], name="ui-segment-edit"),
    ]
