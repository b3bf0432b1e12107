"""One conditional GET of `/sdk/v1/snapshot` (ETag / If-None-Match / 304): the polling data path.

Performs the request and decodes the body; scheduling and retries are the state machine's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from vexil.protocol import ProtocolError, Put, decode_json
from vexil.sdk._http import SNAPSHOT_PATH, describe


@dataclass(frozen=True, slots=True)
class NotModified:
    """304: the snapshot held is current."""


@dataclass(frozen=True, slots=True)
class PollFailed:
    """`status` None: a network error or timeout; `malformed`: a 200 whose body is not the protocol."""

    status: int | None
    message: str
    malformed: bool = False


PollResult = Put | NotModified | PollFailed


class Poller:
    """Remembers the last ETag so an unchanged snapshot costs a 304 and no parsing."""

    def __init__(self) -> None:
        self.etag: str | None = None

    def poll(self, http: httpx.Client) -> PollResult:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        try:
            response = http.get(SNAPSHOT_PATH, headers=headers)
        except httpx.HTTPError as exc:
            return PollFailed(None, f"polling {SNAPSHOT_PATH} failed: {describe(exc)}")
        if response.status_code == 304:
            return NotModified()
        if response.status_code != 200:
            return PollFailed(response.status_code, f"polling {SNAPSHOT_PATH}: HTTP {response.status_code}")
        try:
            message = decode_json("put", response.content)
        except ProtocolError as exc:
            return PollFailed(None, f"malformed snapshot from {SNAPSHOT_PATH}: {exc}", malformed=True)
        if not isinstance(message, Put):  # decode_json("put") only returns a Put; keeps mypy exact
            return PollFailed(None, "malformed snapshot", malformed=True)
        self.etag = response.headers.get("ETag")
        return message
