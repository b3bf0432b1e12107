"""Helpers of the admin API tests: the real app over a real SQLite store in a temporary directory.

Every response is checked to be below 500 and the server must log no unhandled error (`no_server_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from vexil.server import ServerSettings, create_app
from vexil.service import Principal, Service
from vexil.store import SQLITE_FILE, SqliteStore

BASE = "http://testserver"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_server_errors() -> Iterator[None]:
    """Fail if the server logs an error (the last-resort handler logs every unhandled exception)."""
    handler = _Collect()
    logger = logging.getLogger("vexil.server")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]


async def _below_500(response: httpx.Response) -> None:
    if response.status_code >= 500:
        await response.aread()
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}"
        )


@dataclass
class Api:
    app: Starlette
    client: httpx.AsyncClient
    service: Service
    admin_key: str
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, key: str | None = None, **headers: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}", **headers}

    async def request(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = self.auth(key, **kwargs.pop("headers", {}))
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, json=body, **kwargs)

    async def put(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, json=body, **kwargs)

    async def patch(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, json=body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def new_key(self, **body: Any) -> str:
        """Create a key through the API and return its secret."""
        response = await self.post("/api/v1/keys", body)
        assert response.status_code == 201, response.text
        secret = response.json()["key"]
        assert isinstance(secret, str)
        return secret


@asynccontextmanager
async def running_api(tmp_path: Path, *, demo: bool = False, **settings: Any) -> AsyncIterator[Api]:
    store = SqliteStore(tmp_path / SQLITE_FILE, synchronous="NORMAL")
    try:
        service = Service(store)
        boot = service.ensure_default()
        assert boot.admin_secret is not None
        if demo:
            service.load_demo(Principal.system(), project="default")
        app = create_app(service, ServerSettings(data_dir=tmp_path, **settings))
        transport = httpx.ASGITransport(app=app)
        with no_server_errors():
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=transport, base_url=BASE, event_hooks={"response": [_below_500]}
                ) as client,
            ):
                yield Api(app, client, service, boot.admin_secret.reveal())
    finally:
        store.close()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with `status` whose every error names a field; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert body["type"].startswith("urn:vexil:problem:")
    assert body["title"] and body["detail"]
    assert body["errors"], "a problem names at least one field"
    assert all(isinstance(e["path"], str) and e["path"] and e["message"] for e in body["errors"])
    return body


def paths(body: dict[str, Any]) -> list[str]:
    return [str(e["path"]) for e in body["errors"]]
