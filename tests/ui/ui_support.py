"""Helpers of the console tests: the real app (API + console) over a SQLite store, driven with httpx, and
small HTML readers (CSRF token, form fields) so tests post exactly what the pages render.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from vexil.server import ServerSettings, create_app
from vexil.service import Principal, Service
from vexil.store import SQLITE_FILE, SqliteStore

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_ATTR = re.compile(r'([\w-]+)(?:="([^"]*)")?')


@dataclass
class Console:
    client: httpx.AsyncClient
    service: Service
    admin_key: str

    async def key(self, role: str, name: str | None = None) -> str:
        """A new admin key with `role`, made through the service."""
        created = self.service.create_key(
            Principal.system(), {"name": name or f"{role}-key", "kind": "admin", "role": role}
        )
        return created.secret.reveal()


def csrf_of(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "the page has no CSRF token"
    return html.unescape(found.group(1))


def form_fields(page: str, form_id: str) -> list[tuple[str, str]]:
    """The successful controls of one form (inputs, textareas, selected options), as a browser sends them."""
    start = page.index(f'id="{form_id}"')
    end = page.index("</form>", start)
    body = page[start:end]
    fields: list[tuple[str, str]] = []
    for match in re.finditer(
        r"<input\b([^>]*)>|<textarea\b([^>]*)>(.*?)</textarea>|<select\b([^>]*)>(.*?)</select>", body, re.S
    ):
        if match.group(1) is not None:
            attrs = dict((k, html.unescape(v or "")) for k, v in _ATTR.findall(match.group(1)))
            kind = attrs.get("type", "text")
            if "name" not in attrs or kind in {"submit", "button"}:
                continue
            if kind in {"checkbox", "radio"} and "checked" not in attrs:
                continue
            fields.append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))
        elif match.group(2) is not None:
            attrs = dict((k, html.unescape(v or "")) for k, v in _ATTR.findall(match.group(2)))
            fields.append((attrs["name"], html.unescape(match.group(3))))
        else:
            attrs = dict((k, html.unescape(v or "")) for k, v in _ATTR.findall(match.group(4)))
            options = re.findall(r"<option\b([^>]*)>", match.group(5))
            chosen = [dict(_ATTR.findall(o)) for o in options]
            selected = [o for o in chosen if "selected" in o] or chosen[:1]
            for option in selected if "multiple" in attrs else selected[:1]:
                fields.append((attrs["name"], html.unescape(option.get("value", ""))))
    return fields


def replace_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    assert any(k == name for k, _ in fields), f"no field {name!r}"
    return [(k, value if k == name else v) for k, v in fields]


async def post_form(
    client: httpx.AsyncClient, path: str, pairs: list[tuple[str, str]], headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST repeated and ordered fields, as a browser does (httpx's `data=` takes only a mapping)."""
    return await client.post(
        path,
        content=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    page = await client.get("/signin")
    assert page.status_code == 200
    return await client.post("/signin", data={"key": key, "csrf_token": csrf_of(page.text), "next": "/"})


async def signed_in_page(client: httpx.AsyncClient, key: str, path: str) -> str:
    response = await sign_in(client, key)
    assert response.status_code == 303, response.text
    page = await client.get(path, follow_redirects=True)
    assert page.status_code == 200, page.text
    return page.text


@asynccontextmanager
async def console_app(
    tmp_path: Path, *, base_url: str = "http://testserver", **settings: Any
) -> AsyncIterator[Console]:
    store = SqliteStore(tmp_path / SQLITE_FILE, synchronous="NORMAL")
    try:
        service = Service(store)
        boot = service.ensure_default()
        assert boot.admin_secret is not None
        service.load_demo(Principal.system("demo"), project="default")
        app = create_app(service, ServerSettings(data_dir=tmp_path, **settings))
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url=base_url) as client,
        ):
            yield Console(client, service, boot.admin_secret.reveal())
    finally:
        store.close()


def text_of(page: str) -> str:
    """The visible text, whitespace collapsed (good enough for assertions on messages)."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", without)).split())


__all__ = [
    "Console",
    "console_app",
    "csrf_of",
    "form_fields",
    "post_form",
    "replace_field",
    "sign_in",
    "signed_in_page",
    "text_of",
]
