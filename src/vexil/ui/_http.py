"""Request plumbing of the console: the session check, size-limited form parsing, CSRF, rendering, errors.

Every page handler goes through `page()`, the one place that turns service errors into error pages. No
permission rule lives here beyond "signed in" and "writes need the writer role"; the service decides.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from vexil.service import (
    Conflict,
    Environment,
    Forbidden,
    NotFound,
    Principal,
    Project,
    Role,
    Service,
    ServiceError,
    ValidationFailed,
)

from ._sessions import COOKIE_NAME, Session, SessionStore

T = TypeVar("T")
Form = ImmutableMultiDict[str, str]
EMPTY_FORM: Form = ImmutableMultiDict()
#: A form with more fields than this is refused (the biggest editor has a few per clause).
MAX_FIELDS = 5000


class UiSettings(Protocol):
    """The settings the console reads (`vexil.server.ServerSettings` has them)."""

    @property
    def max_body_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Console:
    """What every page needs, built once per app by `ui_routes` (no globals)."""

    service: Service
    sessions: SessionStore
    templates: jinja2.Environment
    max_body_bytes: int


class PageError(Exception):
    """Stop and show an error page with this status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


class Redirect(Exception):  # noqa: N818 -- control flow, not a failure
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass(frozen=True, slots=True)
class Nav:
    """The project and environment a page is about, and the choices of the switcher."""

    projects: list[Project]
    project: Project
    environments: list[Environment]
    environment: Environment

    def url(self, *parts: str) -> str:
        tail = "/".join(quote(p, safe="") for p in parts)
        base = f"/p/{quote(self.project.key, safe='')}/{quote(self.environment.key, safe='')}"
        return f"{base}/{tail}" if tail else base


def default_environment(environments: list[Environment], preferred: str | None = None) -> Environment:
    """The preferred one if it exists, else a non-critical one (the safe place to land), else the first."""
    by_key = {e.key: e for e in environments}
    if preferred in by_key:
        return by_key[preferred]
    return next((e for e in environments if not e.critical), environments[0])


class Call:
    """One console request: the session, the parsed form and helpers to load, render and redirect."""

    def __init__(self, console: Console, request: Request, session: Session, form: Form) -> None:
        self.console = console
        self.request = request
        self.session = session
        self.form = form

    @property
    def principal(self) -> Principal:
        return self.session.principal

    @property
    def service(self) -> Service:
        return self.console.service

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A blocking use case, in the thread pool."""
        return await run_in_threadpool(function, *args, **kwargs)

    async def nav(self) -> Nav:
        """The path's project and environment (404 when unknown) and the switcher's lists."""
        project, environment = self.param("project"), self.param("env")

        def load() -> Nav:
            projects = self.service.list_projects(self.principal)
            current = self.service.get_project(self.principal, project)
            environments = self.service.list_environments(self.principal, project)
            found = next((e for e in environments if e.key == environment), None)
            if found is None:
                raise NotFound("environment", f"{project}/{environment}")
            return Nav(projects, current, environments, found)

        nav = await self.run(load)
        self.session.project, self.session.environment = nav.project.key, nav.environment.key
        return nav

    def can_write(self, project: str) -> bool:
        return self.principal.can_write(project)

    @property
    def is_admin(self) -> bool:
        return self.principal.role is Role.ADMIN

    def require_write(self, project: str) -> None:
        if not self.can_write(project):
            raise PageError(
                403, "Read-only access", f"Your key ({self.principal.name}) can only read {project}."
            )

    def render(
        self, template: str, *, status: int = 200, nav: Nav | None = None, **values: Any
    ) -> HTMLResponse:
        page = self.console.templates.get_template(template)
        html = page.render(
            session=self.session,
            principal=self.principal,
            csrf=self.session.csrf,
            nav=nav,
            can_write=nav is not None and self.can_write(nav.project.key),
            is_admin=self.is_admin,
            flash=self.session.pop_flash(),
            path=self.request.url.path,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def redirect(self, url: str, flash: str | None = None) -> Response:
        """After a successful POST: 303 (or HX-Redirect for htmx, which then loads the page itself)."""
        if flash:
            self.session.flash = flash
        if self.is_htmx:
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)


Handler = Callable[[Call], Awaitable[Response]]


def safe_next(url: str | None) -> str:
    """Only local paths: never an open redirect (`//host`, `/\\host`, schemes)."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(url)
    return url if not parts.scheme and not parts.netloc else "/"


async def read_form(request: Request, limit: int) -> Form:
    """A urlencoded body, refused (413) beyond `limit` bytes or `MAX_FIELDS` fields."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise PageError(415, "Unsupported form", "The console only accepts URL-encoded forms.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PageError(413, "Too much data", f"A form may carry at most {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PageError(413, "Too much data", f"A form may carry at most {limit} bytes.")
        chunks.append(chunk)
    try:
        pairs = parse_qsl(
            b"".join(chunks).decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            strict_parsing=False,
        )
    except (UnicodeDecodeError, ValueError):
        raise PageError(400, "Unreadable form", "The form could not be read; reload the page.") from None
    return ImmutableMultiDict(pairs)


def same_origin(request: Request) -> bool:
    """A browser's Origin (when sent) must be this host: forms are only posted from our own pages."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def check_csrf(request: Request, form: Form, expected: str) -> None:
    token = form.get("csrf_token") or request.headers.get("x-csrf-token") or ""
    if not same_origin(request) or not secrets.compare_digest(token.encode(), expected.encode()):
        raise PageError(
            403,
            "Form expired",
            "This form is stale or did not come from this console. Reload the page and retry.",
        )


def error_page(
    console: Console, status: int, title: str, message: str, session: Session | None
) -> HTMLResponse:
    html = console.templates.get_template("error.html").render(
        title=title,
        message=message,
        status=status,
        session=session,
        principal=session.principal if session else None,
        csrf=session.csrf if session else "",
        nav=None,
        can_write=False,
        is_admin=False,
        flash=None,
        path="",
    )
    return HTMLResponse(html, status_code=status)


def service_error_page(console: Console, exc: ServiceError, session: Session | None) -> HTMLResponse:
    if isinstance(exc, NotFound):
        return error_page(
            console, 404, "Not found", f"There is no {exc.kind} {exc.key!r} (or not any more).", session
        )
    if isinstance(exc, Forbidden):
        return error_page(console, 403, "Not allowed", exc.message, session)
    if isinstance(exc, Conflict):
        return error_page(console, 409, "Changed meanwhile", exc.message, session)
    if isinstance(exc, ValidationFailed):
        return error_page(console, 422, "Not valid", exc.message, session)
    return error_page(console, 400, "Request refused", exc.message, session)


def page(console: Console, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A signed-in page: GETs without a session go to sign in; POSTs need the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        session = await console.sessions.get(request.cookies.get(COOKIE_NAME))
        if session is None:
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)
            return error_page(console, 401, "Signed out", "Your session ended. Sign in again.", None)
        try:
            form = EMPTY_FORM
            if request.method == "POST":
                form = await read_form(request, console.max_body_bytes)
                check_csrf(request, form, session.csrf)
            return await handler(Call(console, request, session, form))
        except Redirect as exc:
            return RedirectResponse(exc.url, status_code=303)
        except PageError as exc:
            failed = error_page(console, exc.status, exc.title, exc.message, session)
        except ServiceError as exc:
            failed = service_error_page(console, exc, session)
        if request.headers.get("hx-request") == "true":
            # A fragment request that failed shows the whole error page instead of a broken fragment.
            failed.headers.update({"HX-Retarget": "main", "HX-Reselect": "main", "HX-Reswap": "outerHTML"})
        return failed

    return endpoint
