"""`ui_routes(service, settings)`: the console's pages and static files as routes the server mounts last.

The mount claims only the console's own paths (/, /signin, /signout, /switch, /p/..., /static/...), so the
API and SDK routes keep their own 404/405 answers. Composition only; each page group has its module.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vexil.service import Service

from ._auth_pages import auth_routes
from ._debugger_page import debugger_routes
from ._flag_list import flag_list_routes
from ._flag_page import flag_page_routes
from ._history_page import history_routes
from ._http import Call, Console, PageError, UiSettings, page
from ._keys_page import keys_routes
from ._segment_pages import segment_routes
from ._sessions import SessionStore
from ._targeting_page import targeting_routes
from ._templates import STATIC, build_templates

#: Same-origin everything; no inline scripts or styles, no framing, forms post only here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_OWN_EXACT = frozenset({"/", "/signin", "/signout", "/switch"})
_OWN_PREFIXES = ("/p/", "/static/")


class ConsoleMount(Mount):
    """A Mount at "/" that does not match paths the console does not own (so they stay the API's)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path in _OWN_EXACT or path.startswith(_OWN_PREFIXES)):
            return Match.NONE, {}
        return super().matches(scope)


class SecurityHeaders:
    """Pure ASGI middleware: browser hardening headers on every console response; pages are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cache-control": b"public, max-age=86400" if static else b"no-store",
                }
                headers += [(name, value) for name, value in extra.items() if name not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_wrapper)


def ui_routes(service: Service, settings: UiSettings) -> list[BaseRoute]:
    """The console's routes; mount them after the API and SDK routes. Sessions live in this app's memory."""
    console = Console(
        service=service,
        sessions=SessionStore(service),
        templates=build_templates(),
        max_body_bytes=settings.max_body_bytes,
    )

    async def not_found(call: Call) -> Response:
        raise PageError(404, "Not found", "There is no such page in the console.")

    pages: list[BaseRoute] = [
        *auth_routes(console),
        *flag_list_routes(console),
        *flag_page_routes(console),
        *targeting_routes(console),
        *segment_routes(console),
        *history_routes(console),
        *debugger_routes(console),
        *keys_routes(console),
        Mount("/static", app=StaticFiles(directory=STATIC), name="ui-static"),
        Route("/p/{rest:path}", page(console, not_found), methods=["GET", "POST"], name="ui-not-found"),
    ]
    return [ConsoleMount("/", routes=pages, name="ui", middleware=[Middleware(SecurityHeaders)])]
