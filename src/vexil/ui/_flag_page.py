"""The flag page: variations, every environment's state with its on/off switch (typed confirmation and a
comment in critical environments), the current environment's targeting, settings and deletion.

Writes go through `patch_targeting`/`patch_flag`/`delete_flag` with the version the page was loaded at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.service import Conflict, FlagTargeting, FlagUsage, ResourceKind, ValidationFailed

from ._conflicts import Meanwhile, changes_since
from ._flag_list import USAGE_DAYS
from ._http import Call, Console, Nav, PageError, page


@dataclass(frozen=True, slots=True)
class FlagView:
    definition: dict[str, Any]
    version: int
    targeting: dict[str, FlagTargeting]
    usage: dict[str, FlagUsage]


def load_flag(call: Call, nav: Nav, flag: str) -> FlagView:
    service, actor, project = call.service, call.principal, nav.project.key
    definition = service.get_flag(actor, project, flag)
    since = date.today() - timedelta(days=USAGE_DAYS - 1)
    return FlagView(
        definition={"key": definition.key, **definition.body},
        version=definition.version,
        targeting={t.environment: t for t in service.list_flag_targeting(actor, project, flag)},
        usage={u.environment: u for u in service.flag_usage(actor, project, flag=flag, since=since)},
    )


@dataclass(frozen=True, slots=True)
class ToggleProblem:
    """Shown next to one environment's switch after a refused toggle."""

    environment: str
    message: str
    meanwhile: list[Meanwhile]


def flag_page_routes(console: Console) -> list[BaseRoute]:
    async def show(
        call: Call, *, status: int = 200, toggle: ToggleProblem | None = None, **extra: Any
    ) -> Response:
        nav = await call.nav()
        view = await call.run(load_flag, call, nav, call.param("flag"))
        return call.render(
            "flag.html",
            status=status,
            nav=nav,
            view=view,
            flag=view.definition,
            current=view.targeting.get(nav.environment.key),
            toggle=toggle,
            settings_error=extra.get("settings_error"),
        )

    async def flag_page(call: Call) -> Response:
        return await show(call)

    async def toggle(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        flag, form = call.param("flag"), call.form
        env_key = form.get("environment", "")
        env = next((e for e in nav.environments if e.key == env_key), None)
        if env is None:
            raise PageError(404, "Not found", f"There is no environment {env_key!r} in {nav.project.key}.")
        turn_on = form.get("on") == "true"
        version = int(form.get("version", "0")) if form.get("version", "").isdigit() else None
        comment = form.get("comment", "").strip() or None
        verb = "on" if turn_on else "off"
        if env.critical and (form.get("confirm", "").strip() != flag or not comment):
            message = f"{env.key} is critical: type the flag key ({flag}) and say why, to turn it {verb}."
            return await show(call, status=422, toggle=ToggleProblem(env.key, message, []))
        try:
            await call.run(
                call.service.patch_targeting,
                call.principal,
                nav.project.key,
                flag,
                env.key,
                {"on": turn_on},
                expected_version=version,
                comment=comment,
            )
        except Conflict:
            meanwhile = await call.run(
                changes_since,
                call.service,
                call.principal,
                nav.project.key,
                kind=ResourceKind.TARGETING,
                resource=flag,
                environment=env.key,
                version=version or 0,
            )
            message = f"This flag changed in {env.key} after you opened the page, so nothing was switched."
            return await show(call, status=409, toggle=ToggleProblem(env.key, message, meanwhile))
        return call.redirect(nav.url("flags", flag), f"Turned {flag} {verb} in {env.key}.")

    async def settings(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        flag, form = call.param("flag"), call.form
        view = await call.run(load_flag, call, nav, flag)
        patch: dict[str, Any] = {
            "description": form.get("description", "").strip() or None,
            "tags": [t.strip() for t in form.get("tags", "").split(",") if t.strip()] or None,
            "owner": form.get("owner", "").strip() or None,
            "temporary": form.get("temporary") == "on",
            "client_side": form.get("client_side") == "on",
        }
        names = [form.get(f"name{i}", "").strip() for i in range(len(view.definition.get("variations", [])))]
        old_info = view.definition.get("variation_info") or [{} for _ in names]
        info = [
            {**old, "name": name} if name else {k: v for k, v in old.items() if k != "name"}
            for old, name in zip(old_info, names, strict=False)
        ]
        patch["variation_info"] = info if any(info) else None
        version = int(form.get("version", "0")) if form.get("version", "").isdigit() else None
        try:
            await call.run(
                call.service.patch_flag,
                call.principal,
                nav.project.key,
                flag,
                patch,
                expected_version=version,
                comment=form.get("comment", "").strip() or None,
            )
        except Conflict as exc:
            message = f"Someone changed this flag's settings meanwhile (now version {exc.current_version}): "
            return await show(call, status=409, settings_error=message + "review them below and save again.")
        except ValidationFailed as exc:
            return await show(call, status=422, settings_error=exc.message)
        return call.redirect(nav.url("flags", flag), f"Saved the settings of {flag}.")

    async def delete(call: Call) -> Response:
        nav = await call.nav()
        call.require_write(nav.project.key)
        flag = call.param("flag")
        if call.form.get("confirm", "").strip() != flag:
            return await show(call, status=422, settings_error=f"Type {flag} to confirm the deletion.")
        version = call.form.get("version", "")
        try:
            await call.run(
                call.service.delete_flag,
                call.principal,
                nav.project.key,
                flag,
                expected_version=int(version) if version.isdigit() else None,
                comment=call.form.get("comment", "").strip() or None,
            )
        except ValidationFailed as exc:
            return await show(call, status=422, settings_error=exc.message)
        except Conflict:
            return await show(
                call, status=409, settings_error="The flag changed meanwhile; review it and retry."
            )
        return call.redirect(nav.url("flags"), f"Deleted {flag} from every environment.")

    base = "/p/{project}/{env}/flags/{flag}"
    return [
        Route(base, page(console, flag_page), methods=["GET"], name="ui-flag"),
        Route(f"{base}/toggle", page(console, toggle), methods=["POST"], name="ui-flag-toggle"),
        Route(f"{base}/settings", page(console, settings), methods=["POST"], name="ui-flag-settings"),
        Route(f"{base}/delete", page(console, delete), methods=["POST"], name="ui-flag-delete"),
    ]
