"""Events posted to the relay, forwarded upstream in batches: a bounded buffer and the sending loop.

Recording never blocks and never waits for the network (full: the events are dropped and counted). While the
upstream is unreachable batches stay buffered and are retried; a batch the upstream rejects is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from vexil.protocol import WireEvent, encode_events

logger = logging.getLogger(__name__)
EVENTS_PATH = "/events/v1/bulk"
#: Statuses where sending the same batch again cannot succeed (the protocol's 4xx answers).
_REJECTED = frozenset({400, 401, 403, 404, 413, 422})


@dataclass
class EventCounts:
    forwarded: int = 0
    #: Dropped because the buffer was full.
    dropped: int = 0
    #: Dropped because the upstream refused them (a 4xx).
    rejected: int = 0


class EventBuffer:
    """FIFO queues per environment sharing one capacity; safe to call from any thread."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._queues: dict[int, collections.deque[WireEvent]] = {}
        self._size = 0
        self._lock = threading.Lock()
        self.counts = EventCounts()

    @property
    def size(self) -> int:
        return self._size

    def add(self, environment_id: int, events: Sequence[WireEvent]) -> int:
        """Queue what fits; returns how many were dropped (counted in `counts.dropped`)."""
        with self._lock:
            room = max(0, self._capacity - self._size)
            kept = events[:room]
            self._queues.setdefault(environment_id, collections.deque()).extend(kept)
            self._size += len(kept)
            dropped = len(events) - len(kept)
            self.counts.dropped += dropped
            return dropped

    def take(self, environment_id: int, limit: int) -> list[WireEvent]:
        with self._lock:
            queue = self._queues.get(environment_id)
            if not queue:
                return []
            batch = [queue.popleft() for _ in range(min(limit, len(queue)))]
            self._size -= len(batch)
            return batch

    def give_back(self, environment_id: int, batch: list[WireEvent]) -> None:
        """Put an unsent batch back in front (oldest first); what no longer fits is dropped and counted."""
        with self._lock:
            room = max(0, self._capacity - self._size)
            kept = batch[:room]
            self._queues.setdefault(environment_id, collections.deque()).extendleft(reversed(kept))
            self._size += len(kept)
            self.counts.dropped += len(batch) - len(kept)

    def environments(self) -> list[int]:
        with self._lock:
            return [environment_id for environment_id, queue in self._queues.items() if queue]


class EventForwarder:
    """Every `interval` seconds, sends each environment's buffered events with that environment's key."""

    def __init__(
        self,
        buffer: EventBuffer,
        clients: Callable[[int], httpx.AsyncClient],
        *,
        interval: float,
        batch: int,
        request_timeout: float,
    ) -> None:
        self._buffer = buffer
        self._clients = clients
        self._interval = interval
        self._batch = batch
        self._timeout = request_timeout
        self._warned: set[int] = set()
        #: The upstream could not be reached last time: logged once per outage, not once per round.
        self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush(time.monotonic() + max(self._interval, self._timeout))

    async def flush(self, deadline: float) -> bool:
        """Send what is buffered now, until `deadline`; True when everything went (or there was nothing)."""
        done = True
        for environment_id in self._buffer.environments():
            while time.monotonic() < deadline:
                batch = self._buffer.take(environment_id, self._batch)
                if not batch:
                    break
                if not await self._send(environment_id, batch, deadline):
                    done = False
                    break  # the upstream is unreachable: the rest waits for the next round
        return done and self._buffer.size == 0

    async def _send(self, environment_id: int, batch: list[WireEvent], deadline: float) -> bool:
        body = gzip.compress(encode_events(batch), compresslevel=6)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        timeout = max(0.1, min(self._timeout, deadline - time.monotonic()))
        try:
            response = await self._clients(environment_id).post(
                EVENTS_PATH, content=body, headers=headers, timeout=timeout
            )
        except httpx.HTTPError as exc:
            self._unsent(environment_id, batch, type(exc).__name__)
            return False
        status = response.status_code
        if 200 <= status < 300:
            self._buffer.counts.forwarded += len(batch)
            if self._failing:
                self._failing = False
                logger.info("vexil relay: forwarding events again")
            return True
        if status in _REJECTED:
            self._buffer.counts.rejected += len(batch)
            if environment_id not in self._warned:  # once per environment: a bad key would flood the log
                self._warned.add(environment_id)
                logger.warning("vexil relay: the upstream rejected an event batch (HTTP %d)", status)
            return True
        self._unsent(environment_id, batch, f"HTTP {status}")
        return False

    def _unsent(self, environment_id: int, batch: list[WireEvent], reason: str) -> None:
        self._buffer.give_back(environment_id, batch)
        if not self._failing:
            self._failing = True
            logger.warning("vexil relay: cannot forward events (%s); buffering them meanwhile", reason)
