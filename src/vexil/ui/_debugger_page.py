"""The debugger: evaluate a flag "as" a context typed as JSON, in every environment, with `vexil.engine`
on that environment's snapshot, and show the value, the variation, the reason and what decided it.

Read-only (a GET form, so results can be bookmarked); the session remembers recent contexts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.engine import Context, ReasonKind, Result, Snapshot

from ._http import Call, Console, Nav, page

DEFAULT_CONTEXT = '{\n  "kind": "user",\n  "key": "user-1",\n  "email": "ada@example.com"\n}'
MAX_CONTEXT_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class EnvResult:
    environment: str
    critical: bool
    result: Result
    #: What the read-only targeting view should mark: {"rule": i} / {"target": i} / {"fallthrough": True}...
    highlight: dict[str, Any]
    targeting: dict[str, Any] | None


def highlight_for(result: Result, flag: dict[str, Any] | None, context: Context) -> dict[str, Any]:
    reason = result.reason
    if reason.kind is ReasonKind.RULE_MATCH and reason.rule_index is not None:
        return {"rule": reason.rule_index}
    if reason.kind is ReasonKind.FALLTHROUGH:
        return {"fallthrough": True}
    if reason.kind is ReasonKind.OFF:
        return {"off": True}
    if reason.kind is ReasonKind.PREREQUISITE_FAILED:
        return {"prerequisite": reason.prerequisite_key}
    if reason.kind is ReasonKind.TARGET_MATCH and flag is not None:
        # The reason does not say which target matched; the engine checks them in order, so do we.
        for index, target in enumerate(flag.get("targets") or []):
            key = context.get(target.get("context_kind") or "user", "key")
            if key is not None and key in (target.get("values") or []):
                return {"target": index}
    return {}


def parse_context(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The typed context, or an error message for people."""
    if len(text) > MAX_CONTEXT_CHARS:
        return None, f"The context is longer than {MAX_CONTEXT_CHARS} characters."
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"That is not valid JSON: {exc}."
    if not isinstance(value, dict):
        return None, 'A context is a JSON object, like {"kind": "user", "key": "user-1"}.'
    context = Context.from_dict(value)
    if not context.valid:
        return None, f"Not a valid context: {context.error}."
    return value, None


def debugger_routes(console: Console) -> list[BaseRoute]:
    def evaluate(call: Call, nav: Nav, flag: str | None, context: dict[str, Any]) -> dict[str, Any]:
        actor, project = call.principal, nav.project.key
        definitions = {f.key: {"key": f.key, **f.body} for f in call.service.list_flags(actor, project)}
        ctx = Context.from_dict(context)
        if flag is None:
            document = call.service.get_snapshot(actor, project, nav.environment.key).document
            results = Snapshot.from_document(document, strict=False).evaluate_all(ctx)
            return {"definitions": definitions, "all": sorted(results.items()), "per_env": []}
        per_env = []
        for env in nav.environments:
            document = call.service.get_snapshot(actor, project, env.key).document
            result = Snapshot.from_document(document, strict=False).evaluate(flag, ctx)
            item = document.get("flags", {}).get(flag)
            per_env.append(EnvResult(env.key, env.critical, result, highlight_for(result, item, ctx), item))
        return {"definitions": definitions, "all": [], "per_env": per_env}

    async def debugger(call: Call) -> Response:
        nav = await call.nav()
        flag = call.query("flag").strip() or None
        text = call.query("context")
        error = None
        evaluated: dict[str, Any] = {"all": [], "per_env": []}
        if text.strip():
            context, error = parse_context(text)
            if context is not None:
                call.session.remember_context(json.dumps(context, separators=(",", ":")))
                evaluated = await call.run(evaluate, call, nav, flag, context)
        if "definitions" not in evaluated:
            flags = await call.run(call.service.list_flags, call.principal, nav.project.key)
            evaluated["definitions"] = {f.key: {"key": f.key, **f.body} for f in flags}
        return call.render(
            "debugger.html",
            status=422 if error else 200,
            nav=nav,
            flag=flag,
            context_text=text or DEFAULT_CONTEXT,
            error=error,
            definitions=evaluated["definitions"],
            all_results=evaluated["all"],
            per_env=evaluated["per_env"],
            recent=list(call.session.recent_contexts),
            evaluated=bool(text.strip()) and error is None,
        )

    return [
        Route("/p/{project}/{env}/debugger", page(console, debugger), methods=["GET"], name="ui-debugger")
    ]
