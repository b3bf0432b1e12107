"""One stream client's bounded mailbox of SSE frames; overflowing it drops the client, never the server.

Event-loop only (not thread-safe); it knows nothing about HTTP.
"""

from __future__ import annotations

import asyncio


class Subscriber:
    """Frames tagged with their snapshot version; `version` is what the client's `put` already contains.

    Frames at or below `version` are skipped when taken (the `put` included them); version -1 (heartbeats)
    always passes. `push` returns False once the client is more than `limit` frames or `byte_limit` bytes
    behind: the caller drops it, the stream ends, and the client reconnects and gets a fresh `put`.
    """

    __slots__ = (
        "_bytes",
        "_frames",
        "_wakeup",
        "byte_limit",
        "client_side",
        "closed",
        "environment_id",
        "key_id",
        "limit",
        "version",
    )

    def __init__(
        self,
        environment_id: int,
        client_side: bool,
        *,
        limit: int,
        byte_limit: int,
        key_id: int | None = None,
    ) -> None:
        self.environment_id = environment_id
        self.client_side = client_side
        #: The API key the stream was opened with (None: not tied to one), so revoking it ends the stream.
        self.key_id = key_id
        self.limit = limit
        self.byte_limit = byte_limit
        self.version = -1
        self.closed = False
        self._frames: list[tuple[int, bytes]] = []
        self._bytes = 0
        self._wakeup = asyncio.Event()

    def push(self, version: int, frame: bytes) -> bool:
        if self.closed:
            return True
        self._frames.append((version, frame))
        self._bytes += len(frame)
        if len(self._frames) > self.limit or self._bytes > self.byte_limit:
            self._frames.clear()
            self._bytes = 0
            self.close()
            return False
        self._wakeup.set()
        return True

    def close(self) -> None:
        """End the stream after the frames already queued."""
        self.closed = True
        self._wakeup.set()

    async def next_frames(self) -> list[bytes] | None:
        """Wait for frames to send; None once closed and drained."""
        while True:
            if self._frames:
                frames, self._frames, self._bytes = self._frames, [], 0
                out = [frame for version, frame in frames if version < 0 or version > self.version]
                if out:
                    return out
                continue
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
