"""A small synchronous client of the vexil admin API (httpx) and the CLI's error type.

Turns RFC 9457 problem responses and transport failures into one readable `CliError`; never prints the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote

import click
import httpx

#: Short names for statuses, so an error reads `vexil: 409 conflict: ...`.
_STATUS_WORDS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    412: "precondition failed",
    413: "too large",
    422: "invalid",
    429: "too many requests",
    500: "server error",
    502: "bad gateway",
    503: "unavailable",
}
_MAX_DETAIL_LINES = 50


class CliError(click.ClickException):
    """A user-facing failure: printed as `vexil: <message>` on stderr, exit status 1, no traceback."""

    def show(self, file: Any = None) -> None:
        click.echo(f"vexil: {self.format_message()}", err=True)


class ApiError(CliError):
    """The server refused a request; `problem` is the parsed problem body (empty when there was none)."""

    def __init__(self, status: int, problem: Mapping[str, Any], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.problem = dict(problem)


def api_path(*parts: str | int) -> str:
    """`/api/v1/...` from raw segments, each percent-encoded (keys may hold `:` and `.`)."""
    return "/api/v1/" + "/".join(quote(str(part), safe="") for part in parts)


def _error_from(response: httpx.Response) -> ApiError:
    status = response.status_code
    word = _STATUS_WORDS.get(status) or response.reason_phrase.lower() or "error"
    problem: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            problem = parsed
    except ValueError:
        pass
    detail = problem.get("detail")
    errors = [e for e in problem.get("errors", []) if isinstance(e, dict)]
    if status == 404 and len(errors) == 1 and isinstance(errors[0].get("message"), str):
        detail = errors[0]["message"]  # the detail repeats the parameter name: "flag: flag 'x' not found"
    if not isinstance(detail, str) or not detail:
        text = response.text.strip().replace("\n", " ")
        detail = text[:200] if text else "(no details)"
    lines = [f"{status} {word}: {detail}"]
    if status == 401:
        lines[0] += " (check the key: `vexil login`, or VEXIL_KEY)"
    if len(errors) > 1:
        for error in errors[:_MAX_DETAIL_LINES]:
            lines.append(f"  {error.get('path', '')}: {error.get('message', '')}")
        if len(errors) > _MAX_DETAIL_LINES:
            lines.append(f"  ... and {len(errors) - _MAX_DETAIL_LINES} more")
    return ApiError(status, problem, "\n".join(lines))


class ApiClient:
    """Admin API calls (`Authorization: Bearer KEY`), JSON in and out; errors raise `ApiError`/`CliError`."""

    def __init__(
        self,
        base_url: str,
        key: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Accept": "application/json", "User-Agent": "vexil-cli"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        try:
            self._http = httpx.Client(
                base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
            )
        except (httpx.InvalidURL, ValueError) as exc:
            raise CliError(f"invalid server URL {base_url!r}: {exc}") from None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str | int] | None = None,
        comment: str | None = None,
        if_match: int | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """The parsed JSON response (None for 204)."""
        headers: list[tuple[bytes, bytes]] = []
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers.append((b"Content-Type", content_type.encode()))
        if comment:
            # UTF-8 bytes (the server decodes them); a header cannot hold line breaks.
            headers.append((b"X-Vexil-Comment", " ".join(comment.split()).encode("utf-8")))
        if if_match is not None:
            headers.append((b"If-Match", f'"{if_match}"'.encode()))
        try:
            response = self._http.request(method, path, content=content, headers=headers, params=params)
        except httpx.TimeoutException:
            raise CliError(f"{self.base_url}: the server did not answer in time") from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise CliError(f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from None
        if response.status_code >= 400:
            raise _error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(
                f"{self.base_url}{path}: the answer is not JSON (is this a vexil server?)"
            ) from None

    def get(self, path: str, **params: str | int | None) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any, *, comment: str | None = None) -> Any:
        return self.request("POST", path, body=body, comment=comment)

    def put(self, path: str, body: Any, *, comment: str | None = None, if_match: int | None = None) -> Any:
        return self.request("PUT", path, body=body, comment=comment, if_match=if_match)

    def patch(self, path: str, body: Any, *, comment: str | None = None, if_match: int | None = None) -> Any:
        return self.request(
            "PATCH",
            path,
            body=body,
            comment=comment,
            if_match=if_match,
            content_type="application/merge-patch+json",
        )

    def delete(self, path: str, *, comment: str | None = None) -> Any:
        return self.request("DELETE", path, comment=comment)

    def items(self, path: str, **params: str | int | None) -> list[dict[str, Any]]:
        """A listing's `items`."""
        found = self.get(path, **params)
        items = found.get("items") if isinstance(found, dict) else None
        if not isinstance(items, list):
            raise CliError(f"{self.base_url}{path}: unexpected answer (no items list)")
        return [item for item in items if isinstance(item, dict)]
