"""Signed OFREP stream links: the `eventStreams` entry of bulk responses and the check of its token.

Browsers' EventSource cannot send an Authorization header, so the link carries a token instead: the
environment and key ids signed with HMAC-SHA256. It holds no secret key and grants only change notices.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from ._ofrep_results import encode

STREAM_PATH = "/ofrep/v1/stream"
_MAC_HEX = 32
_CONTEXT = b"vexil-ofrep-stream-v1."


class StreamLinks:
    """Mints and checks stream tokens `<environment id>.<key id>.<mac>`; caches each key's entry bytes."""

    def __init__(
        self, secret: bytes, *, public_url: str | None = None, inactivity_seconds: int = 120
    ) -> None:
        self._secret = secret
        self._public_url = public_url
        self._inactivity = inactivity_seconds
        self._entries: dict[tuple[int, int], tuple[str, bytes]] = {}

    def _mac(self, environment_id: int, key_id: int) -> str:
        message = _CONTEXT + b"%d.%d" % (environment_id, key_id)
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]

    def token(self, environment_id: int, key_id: int) -> str:
        return f"{environment_id}.{key_id}.{self._mac(environment_id, key_id)}"

    def verify(self, token: str) -> tuple[int, int] | None:
        """(environment id, key id) of a token this server (or one sharing its secret) minted, else None."""
        parts = token.split(".")
        if (
            len(parts) != 3
            or not parts[0].isdigit()
            or not parts[1].isdigit()
            or len(parts[0] + parts[1]) > 36
        ):
            return None
        environment_id, key_id = int(parts[0]), int(parts[1])
        if not hmac.compare_digest(parts[2], self._mac(environment_id, key_id)):
            return None
        return environment_id, key_id

    def entry(self, environment_id: int, key_id: int) -> tuple[str, bytes]:
        """(token, the encoded `eventStreams` array) for this key; built once per key."""
        cached = self._entries.get((environment_id, key_id))
        if cached is None:
            token = self.token(environment_id, key_id)
            request_uri = f"{STREAM_PATH}?channel={token}"
            stream: dict[str, Any] = {"type": "sse"}
            if self._public_url:
                stream["url"] = self._public_url + request_uri
            else:
                # Relative: providers join it to the origin of the OFREP base URL they were configured with.
                stream["endpoint"] = {"requestUri": request_uri}
            stream["inactivityDelaySec"] = self._inactivity
            cached = (token, encode([stream]))
            if len(self._entries) < 100_000:
                self._entries[(environment_id, key_id)] = cached
        return cached
