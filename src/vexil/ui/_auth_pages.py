"""Signing in with an admin key (exchanged for a session cookie), signing out, and the landing redirects.

The key is read once from the sign-in form, checked by the service and kept only in the server-side
session; the cookie holds a random session id (HttpOnly, SameSite=Strict, Secure over TLS).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from vexil.service import KeyKind, Unauthorized

from ._http import (
    Call,
    Console,
    PageError,
    Redirect,
    check_csrf,
    default_environment,
    page,
    read_form,
    safe_next,
)
from ._sessions import COOKIE_NAME

SIGNIN_COOKIE = "vexil_signin"
#: Browsers keep the cookie this long; the server-side session may end earlier (idle, restart, revocation).
COOKIE_MAX_AGE = 7 * 24 * 3600


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _signin_page(
    console: Console, request: Request, *, error: str | None = None, status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    html = console.templates.get_template("signin.html").render(
        error=error,
        signin_token=token,
        next=safe_next(request.query_params.get("next")),
        session=None,
        principal=None,
        csrf="",
        nav=None,
        can_write=False,
        is_admin=False,
        flash=None,
        path="/signin",
    )
    response = HTMLResponse(html, status_code=status)
    _set_cookie(response, request, SIGNIN_COOKIE, token, max_age=3600)
    return response


def auth_routes(console: Console) -> list[BaseRoute]:
    async def signin_form(request: Request) -> Response:
        if await console.sessions.get(request.cookies.get(COOKIE_NAME)) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return _signin_page(console, request)

    async def signin(request: Request) -> Response:
        try:
            form = await read_form(request, console.max_body_bytes)
            # Double-submit token: a sign-in can only come from the form this browser was just given.
            check_csrf(request, form, request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(24))
        except PageError as exc:
            return _signin_page(console, request, error=exc.message, status=exc.status)
        secret = form.get("key", "").strip()
        if not secret:
            return _signin_page(console, request, error="Paste an admin key to sign in.", status=400)
        try:
            principal = await run_in_threadpool(console.service.authorize, secret)
        except Unauthorized:
            return _signin_page(console, request, error="That key is not valid (or was revoked).", status=401)
        if principal.kind is not KeyKind.ADMIN:
            message = "That is an SDK key. Sign in with an admin key (it starts with vxa_)."
            return _signin_page(console, request, error=message, status=403)
        console.sessions.drop(request.cookies.get(COOKIE_NAME) or "")  # a fresh id on every sign-in
        session = console.sessions.create(secret, principal)
        response = RedirectResponse(safe_next(form.get("next")), status_code=303)
        _set_cookie(response, request, COOKIE_NAME, session.id, max_age=COOKIE_MAX_AGE)
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    async def signout(call: Call) -> Response:
        console.sessions.drop(call.session.id)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
        return response

    async def home(call: Call) -> Response:
        """The last place this session was, else the first project's safe environment."""
        projects = await call.run(call.service.list_projects, call.principal)
        if not projects:
            raise PageError(404, "No projects", "Your key cannot see any project. Ask an admin for access.")
        keys = [p.key for p in projects]
        project = call.session.project if call.session.project in keys else keys[0]
        raise Redirect(await _landing(call, project, call.session.environment))

    async def project_home(call: Call) -> Response:
        raise Redirect(await _landing(call, call.param("project"), None))

    async def environment_home(call: Call) -> Response:
        nav = await call.nav()
        raise Redirect(nav.url("flags"))

    async def switch(call: Call) -> Response:
        """The switcher's GET form: keep the same kind of page in the chosen project and environment."""
        project = call.query("project") or call.session.project or ""
        target = await _landing(call, project, call.query("environment") or call.session.environment)
        section = call.query("section")
        if section in {"segments", "history", "debugger", "keys"}:
            target = target.rsplit("/", 1)[0] + "/" + section
        elif section.startswith("flags/") and section[6:]:
            target = target + "/" + quote(section[6:].split("/")[0], safe="")
        if section == "debugger" and call.query("flag"):
            target += "?" + urlencode({"flag": call.query("flag")})
        raise Redirect(target)

    return [
        Route("/", page(console, home), methods=["GET"], name="ui-home"),
        Route("/signin", signin_form, methods=["GET"], name="ui-signin-form"),
        Route("/signin", signin, methods=["POST"], name="ui-signin"),
        Route("/signout", page(console, signout), methods=["POST"], name="ui-signout"),
        Route("/switch", page(console, switch), methods=["GET"], name="ui-switch"),
        Route("/p/{project}", page(console, project_home), methods=["GET"], name="ui-project"),
        Route("/p/{project}/{env}", page(console, environment_home), methods=["GET"], name="ui-environment"),
    ]


async def _landing(call: Call, project: str, environment: str | None) -> str:
    environments = await call.run(call.service.list_environments, call.principal, project)
    if not environments:
        raise PageError(404, "No environments", f"Project {project!r} has no environments yet.")
    env = default_environment(environments, environment)
    return f"/p/{quote(project, safe='')}/{quote(env.key, safe='')}/flags"
