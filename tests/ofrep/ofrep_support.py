"""Helpers of the OFREP tests: the real app over a real SQLite store (ASGI transport) and flag set-up
through the admin API. Every OFREP evaluation response is checked against the spec (`ofrep_spec.check`)
and every response to be below 500 unless a test expects otherwise.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ofrep_spec
from ofrep_spec import check
from starlette.applications import Starlette

from vexil.server import ServerSettings, create_app
from vexil.service import Service
from vexil.store import open_store

BASE = "http://testserver"
FLAGS = "/api/v1/projects/default/flags"
SINGLE = "/ofrep/v1/evaluate/flags/{}"
BULK = "/ofrep/v1/evaluate/flags"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """Collect what the server logs at ERROR (the last-resort handler logs every unhandled exception)."""
    handler = _Collect()
    logger = logging.getLogger("vexil.server")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@dataclass
class Ofrep:
    app: Starlette
    client: httpx.AsyncClient
    service: Service
    admin_key: str

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    async def new_key(self, kind: str, environment: str = "production") -> str:
        body = {"name": f"{kind}-{secrets.token_hex(3)}", "kind": kind}
        if kind != "admin":
            body |= {"project": "default", "environment": environment}
        response = await self.client.post("/api/v1/keys", headers=self.admin(), json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    async def flag(self, definition: dict[str, Any], targeting: dict[str, Any] | None = None) -> str:
        """Create a flag (random key unless given); `targeting` replaces those fields of its production
        targeting (a PUT, so a new `fallthrough` replaces the default one rather than merging into it)."""
        body = {"key": f"f-{secrets.token_hex(4)}", **definition}
        response = await self.client.post(FLAGS, headers=self.admin(), json=body)
        assert response.status_code == 201, response.text
        if targeting is not None:
            path = f"{FLAGS}/{body['key']}/environments/production"
            current = (await self.client.get(path, headers=self.admin())).json()
            fields = ("on", "targets", "rules", "fallthrough", "off_variation", "prerequisites")
            replaced = {name: current[name] for name in fields if name in current} | targeting
            put = await self.client.put(path, headers=self.admin(), json=replaced)
            assert put.status_code == 200, put.text
        return str(body["key"])

    async def target(self, flag: str, patch: dict[str, Any]) -> None:
        response = await self.client.patch(
            f"{FLAGS}/{flag}/environments/production",
            headers={**self.admin(), "Content-Type": "application/merge-patch+json"},
            content=json.dumps(patch),
        )
        assert response.status_code == 200, response.text

    async def single(
        self, key: str, flag: str, context: Any = None, *, body: Any = None, **headers: str
    ) -> httpx.Response:
        payload = {"context": context} if body is None else body
        return await self.client.post(
            SINGLE.format(flag), headers={"Authorization": f"Bearer {key}", **headers}, json=payload
        )

    async def bulk(self, key: str, context: Any = None, **headers: str) -> httpx.Response:
        return await self.client.post(
            BULK, headers={"Authorization": f"Bearer {key}", **headers}, json={"context": context}
        )


@asynccontextmanager
async def running_ofrep(tmp_path: Path, *, check_500: bool = True, **settings: Any) -> AsyncIterator[Ofrep]:
    """The real app over SQLite in `tmp_path`; VEXIL_OFREP_* come from the (monkeypatched) environment."""
    store = open_store(None, tmp_path)
    try:
        service = Service(store)
        boot = service.ensure_default()
        assert boot.admin_secret is not None
        app = create_app(service, ServerSettings(data_dir=tmp_path, **settings))

        async def below_500(response: httpx.Response) -> None:
            if check_500 and response.status_code >= 500:
                await response.aread()
                raise AssertionError(f"{response.request.url} -> {response.status_code}: {response.text}")

        async def conforms(response: httpx.Response) -> None:
            """Every OFREP evaluation response of every test is checked against the spec."""
            path = response.request.url.path
            if response.request.method == "POST" and path.startswith(BULK):
                await response.aread()
                check(response, ofrep_spec.BULK if path == BULK else ofrep_spec.SINGLE)

        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=transport, base_url=BASE, event_hooks={"response": [below_500, conforms]}
            ) as client,
        ):
            yield Ofrep(app, client, service, boot.admin_secret.reveal())
    finally:
        store.close()
