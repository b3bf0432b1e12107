"""API keys, for admins: list, create (the secret is shown once, on the response page only) and revoke.

The service decides scope (a project-scoped admin manages keys of its projects only); revoking a key here
also ends the console sessions signed in with it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vexil.service import ApiKey, CreatedKey, ValidationFailed

from ._http import Call, Console, PageError, page


def keys_routes(console: Console) -> list[BaseRoute]:
    def require_admin(call: Call) -> None:
        if not call.is_admin:
            raise PageError(403, "Admins only", "Managing API keys needs an admin key.")

    async def render(
        call: Call, *, status: int = 200, created: CreatedKey | None = None, **extra: Any
    ) -> Response:
        nav = await call.nav()
        keys: list[ApiKey] = await call.run(call.service.list_keys, call.principal)
        keys.sort(key=lambda k: (k.revoked, -k.id))
        return call.render(
            "keys.html",
            status=status,
            nav=nav,
            keys=keys,
            created=created,
            secret=created.secret.reveal() if created else None,
            problems=extra.get("problems", []),
            values=extra.get("values", {}),
        )

    async def list_keys(call: Call) -> Response:
        require_admin(call)
        return await render(call)

    async def create(call: Call) -> Response:
        require_admin(call)
        form = call.form
        kind = form.get("kind", "admin")
        body: dict[str, Any] = {"name": form.get("name", "").strip(), "kind": kind}
        if kind == "admin":
            body["role"] = form.get("role", "reader")
            projects = [p.strip() for p in form.get("projects", "").split(",") if p.strip()]
            if projects:
                body["projects"] = projects
        else:
            body["project"] = call.param("project")
            body["environment"] = form.get("environment", "")
        try:
            created = await call.run(
                call.service.create_key, call.principal, body, comment=form.get("comment", "").strip() or None
            )
        except ValidationFailed as exc:
            return await render(call, status=422, problems=list(exc.problems), values=dict(form.items()))
        # Rendered, not redirected: the secret must never sit in a session, a URL or a cache.
        return await render(call, status=201, created=created)

    async def revoke(call: Call) -> Response:
        require_admin(call)
        raw = call.param("key_id")
        if not raw.isdigit():
            raise PageError(404, "Not found", "There is no such key.")
        key = await call.run(call.service.revoke_key, call.principal, int(raw))
        console.sessions.drop_key(key.id)
        if key.id == call.principal.key_id:
            return call.redirect("/signin")
        nav = await call.nav()
        return call.redirect(
            nav.url("keys"), f"Revoked {key.name} ({key.prefix}…). It stops working within seconds."
        )

    path = "/p/{project}/{env}/keys"
    return [
        Route(path, page(console, list_keys), methods=["GET"], name="ui-keys"),
        Route(path, page(console, create), methods=["POST"], name="ui-key-create"),
        Route(path + "/{key_id}/revoke", page(console, revoke), methods=["POST"], name="ui-key-revoke"),
    ]
