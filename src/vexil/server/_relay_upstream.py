"""Keeps one mirrored environment current from the upstream: its SSE stream, polling when streaming keeps
failing, reconnecting with backoff; the decisions are the SDK's `DataSourceMachine`, performed here with
asyncio on the relay's event loop.

It feeds the mirror and its status only; it never serves a request and never lets an error end its task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from vexil.protocol import Message, ProtocolError, Put, SSEDecoder, decode_json
from vexil.sdk import (
    Apply,
    Backoff,
    Continue,
    DataSourceMachine,
    Decision,
    FallBackToPolling,
    PollAfter,
    Reconnect,
    Stop,
)

from ._relay_keys import RelayKeys
from ._relay_mirror import Mirror
from ._relay_settings import RelaySettings

logger = logging.getLogger(__name__)
SNAPSHOT_PATH = "/sdk/v1/snapshot"
STREAM_PATH = "/sdk/v1/stream"
OFREP_BULK_PATH = "/ofrep/v1/evaluate/flags"
_EVENT_STREAM = "text/event-stream"


def describe(exc: BaseException) -> str:
    """A one-line, key-free description of a transport failure."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class UpstreamSync:
    """One environment's sync task (`run`), cancelled on shutdown. `on_applied(environment_id)` runs after
    each message that changed the copy (the app writes the disk cache then)."""

    def __init__(
        self,
        environment_id: int,
        mirror: Mirror,
        keys: RelayKeys,
        http: httpx.AsyncClient,
        settings: RelaySettings,
        *,
        on_applied: Callable[[int], None],
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self.environment_id = environment_id
        self._mirror = mirror
        self._keys = keys
        self._http = http
        self._settings = settings
        self._on_applied = on_applied
        self._now = monotonic
        self._wall = wall_clock
        self._jitter = jitter
        self._status = mirror.status(environment_id)
        self._etag: str | None = None
        self._checks: asyncio.Task[None] | None = None
        #: Set once the first attempt to reach the upstream ended (a `put` applied, or a failure).
        self.first_attempt = asyncio.Event()
        key = keys.get(environment_id)
        #: How logs name this environment: the key's public prefix (never the key).
        self.label = key.prefix if key is not None else f"environment {environment_id}"

    async def run(self) -> None:
        settings = self._settings
        machine = DataSourceMachine(
            streaming=True,
            poll_interval=settings.poll_interval,
            # Polling only bridges a stream that cannot be opened: every good poll is followed by a stream
            # attempt (after an upstream restart the stream works again at once).
            stream_retry_after=0.0,
            backoff=Backoff(
                initial=settings.backoff_initial, maximum=settings.backoff_max, jitter=self._jitter
            ),
        )
        decision: Decision | None = machine.start()
        try:
            while decision is not None:
                try:
                    decision = await self._step(machine, decision)
                except Exception as exc:  # the sync task's boundary: log, back off, carry on
                    logger.exception("vexil relay: unexpected error syncing %s", self.label)
                    decision = machine.failed(None, f"internal error: {describe(exc)}", self._now())
                self._status.mode = machine.mode.value
        finally:
            if self._checks is not None:  # cancelled (shutdown): the key checks end with the sync
                self._checks.cancel()

    async def _step(self, machine: DataSourceMachine, decision: Decision) -> Decision | None:
        if isinstance(decision, Stop):
            self._disconnected(decision.error.message)
            self._status.rejected = True
            self._keys.reject(self.environment_id)
            logger.error("vexil relay: %s: %s; serving the last copy", self.label, decision.error.message)
            return None
        if isinstance(decision, Reconnect):
            await asyncio.sleep(decision.delay)
            return await self._stream(machine)
        if isinstance(decision, FallBackToPolling):
            logger.warning(
                "vexil relay: %s: streaming keeps failing (%s); polling every %g s",
                self.label,
                decision.reason,
                machine.poll_interval,
            )
        if isinstance(decision, FallBackToPolling | PollAfter):
            await asyncio.sleep(decision.delay)
            return await self._poll(machine)
        raise AssertionError(f"unexpected decision {decision!r}")  # Continue/Apply never reach here

    # -- streaming

    async def _stream(self, machine: DataSourceMachine) -> Decision:
        decoder = SSEDecoder()
        settings = self._settings
        timeout = httpx.Timeout(settings.stream_read_timeout, connect=settings.connect_timeout)
        decision: Decision
        try:
            headers = {"Accept": _EVENT_STREAM}
            async with self._http.stream("GET", STREAM_PATH, headers=headers, timeout=timeout) as response:
                if response.status_code != 200:
                    message = f"{STREAM_PATH}: HTTP {response.status_code}"
                    decision = machine.failed(response.status_code, message, self._now())
                elif not response.headers.get("content-type", "").startswith(_EVENT_STREAM):
                    decision = machine.malformed(
                        f"{STREAM_PATH} did not answer with an event stream", self._now()
                    )
                else:
                    machine.connected(self._now())
                    decision = await self._read(machine, decoder, response)
        except (httpx.HTTPError, ProtocolError, OSError) as exc:
            decision = machine.failed(None, f"{STREAM_PATH}: {describe(exc)}", self._now())
        self._disconnected(machine.error.message if machine.error else "the stream ended")
        return decision

    async def _read(
        self, machine: DataSourceMachine, decoder: SSEDecoder, response: httpx.Response
    ) -> Decision:
        async for chunk in response.aiter_bytes():
            if self._status.connected:
                self._status.last_sync = self._wall()  # heartbeats too: the copy is current
            for item in decoder.feed(chunk):
                decision = machine.received(item, self._now())
                if isinstance(decision, Apply):
                    await self._apply(decision.message)
                elif not isinstance(decision, Continue):
                    return decision
        decoder.close()
        return machine.closed(self._now())

    async def _apply(self, message: Message) -> None:
        if isinstance(message, Put):
            await self._before_put()
        changed = self._mirror.apply(self.environment_id, message)
        if isinstance(message, Put):
            was_connected = self._status.connected
            self._status.connected = True
            self._status.error = None
            self._status.last_sync = self._wall()
            self.first_attempt.set()
            if not was_connected:
                logger.info(
                    "vexil relay: %s: in sync with the upstream at version %d", self.label, message.version
                )
        if changed or isinstance(message, Put):
            self._on_applied(self.environment_id)

    async def _before_put(self) -> None:
        """Learn the environment's names once (OFREP answers carry them), and recheck the client keys."""
        if self._mirror.names(self.environment_id) == ("", ""):
            await self._learn_names()
        if self._checks is None and self._keys.client_keys_of(self.environment_id):
            self._checks = asyncio.get_running_loop().create_task(self._check_client_keys())

    # -- polling

    async def _poll(self, machine: DataSourceMachine) -> Decision:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        try:
            response = await self._http.get(
                SNAPSHOT_PATH, headers=headers, timeout=self._settings.request_timeout
            )
        except httpx.HTTPError as exc:
            decision = machine.failed(None, f"polling {SNAPSHOT_PATH}: {describe(exc)}", self._now())
            self._disconnected(machine.error.message if machine.error else "polling failed")
            return decision
        if response.status_code not in (200, 304):
            message = f"polling {SNAPSHOT_PATH}: HTTP {response.status_code}"
            decision = machine.failed(response.status_code, message, self._now())
            self._disconnected(message)
            return decision
        if response.status_code == 200:
            try:
                message_ = decode_json("put", response.content)
            except ProtocolError as exc:
                self._disconnected(f"malformed snapshot: {exc}")
                return machine.malformed(f"malformed snapshot from {SNAPSHOT_PATH}: {exc}", self._now())
            await self._apply(message_)
            self._etag = response.headers.get("etag")
        self._status.connected = True
        self._status.error = None
        self._status.last_sync = self._wall()
        return machine.polled(self._now())

    # -- helpers

    def _disconnected(self, reason: str) -> None:
        if self._status.connected:
            version = self._mirror.current(self.environment_id)
            logger.warning(
                "vexil relay: %s: lost the upstream (%s); serving the last copy (version %s)",
                self.label,
                reason,
                version.version if version else None,
            )
        self._status.connected = False
        self._status.error = reason
        self.first_attempt.set()

    async def _learn_names(self) -> None:
        body: dict[str, Any] = {"context": {"targetingKey": "vexil-relay"}}
        try:
            response = await self._http.post(
                OFREP_BULK_PATH, json=body, timeout=self._settings.request_timeout
            )
            metadata = response.json().get("metadata") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            logger.info("vexil relay: %s: cannot learn the environment's name: %s", self.label, describe(exc))
            return
        if isinstance(metadata, dict):
            project, environment = metadata.get("project"), metadata.get("environment")
            if isinstance(project, str) and isinstance(environment, str):
                self._mirror.set_names(self.environment_id, project, environment)

    async def _check_client_keys(self) -> None:
        """Ask the upstream whether each mapped client key still works: a revoked one stops working here."""
        try:
            for key_id, secret in self._keys.client_keys_of(self.environment_id):
                try:
                    response = await self._http.head(
                        SNAPSHOT_PATH,
                        headers={"Authorization": f"Bearer {secret}"},
                        timeout=self._settings.request_timeout,
                    )
                except httpx.HTTPError:
                    continue  # unknown now; checked again at the next put
                if response.status_code in (401, 403):
                    if not self._keys.rejected(key_id):
                        logger.error(
                            "vexil relay: the upstream rejects client key #%d; refusing it too", key_id
                        )
                    self._keys.reject(key_id)
                elif response.status_code == 200:
                    self._keys.accept(key_id)
        finally:
            self._checks = None
