"""The data plane's shared state: pre-serialised snapshots per environment and the fan-out of changes.

Event loop only (store threads hand changes over with `call_soon_threadsafe`); it never writes to the
database or blocks the loop. When the database fails, pollers keep the last good snapshot; streams do not.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from vexil.protocol import Delete, ItemKind, Patch, Put, encode_comment, encode_event, encode_json, encode_sse
from vexil.service import Change, NotFound, Unavailable

from ._backend import SnapshotFeed
from ._metrics import Metrics
from ._subscriber import Subscriber

logger = logging.getLogger(__name__)

#: (environment id, client-side only)
VariantKey = tuple[int, bool]
_HEARTBEAT = encode_comment("heartbeat")


class HubClosedError(Exception):
    """The server is shutting down: no new streams."""


@dataclass(frozen=True, slots=True)
class CachedSnapshot:
    """One environment's snapshot serialised once: the `/sdk/v1/snapshot` body and the stream's `put`."""

    version: int
    project: str
    environment: str
    body: bytes
    gzip_body: bytes
    etag: str
    gzip_etag: str
    put_frame: bytes
    #: Response headers built once: (plain, gzip) for 200 and for 304.
    headers: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]
    not_modified_headers: tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]


def _serialise(service: SnapshotFeed, key: VariantKey) -> CachedSnapshot:
    """Runs in a worker thread: read the document, encode it, compress it, frame it."""
    environment_id, client_side = key
    snapshot = service.snapshot_by_id(environment_id, client_side_only=client_side)
    body = encode_json(Put(snapshot.version, snapshot.document))
    # A content hash makes a strong ETag that replicas sharing a database compute identically.
    digest = hashlib.sha256(body).hexdigest()[:24]
    etag, gzip_etag = f'"{digest}"', f'"{digest}.gz"'
    gzip_body = gzip.compress(body, compresslevel=6, mtime=0)
    common = [
        (b"cache-control", b"no-cache"),
        (b"vary", b"Accept-Encoding, Authorization"),
        (b"x-vexil-snapshot-version", str(snapshot.version).encode()),
    ]
    plain_304 = [(b"etag", etag.encode()), *common]
    gzip_304 = [(b"etag", gzip_etag.encode()), *common]
    json_type = (b"content-type", b"application/json")
    return CachedSnapshot(
        version=snapshot.version,
        project=snapshot.project,
        environment=snapshot.environment,
        body=body,
        gzip_body=gzip_body,
        etag=etag,
        gzip_etag=gzip_etag,
        put_frame=encode_event(body, event="put", id=str(snapshot.version)),
        headers=(
            [*plain_304, json_type, (b"content-length", b"%d" % len(body))],
            [
                *gzip_304,
                json_type,
                (b"content-length", b"%d" % len(gzip_body)),
                (b"content-encoding", b"gzip"),
            ],
        ),
        not_modified_headers=(plain_304, gzip_304),
    )


@dataclass(eq=False)
class _Variant:
    """Cache and subscribers of one (environment, client-side) pair. `generation` counts change notices."""

    cache: CachedSnapshot | None = None
    generation: int = 0
    built_generation: int = -1
    task: asyncio.Task[None] | None = None
    subscribers: set[Subscriber] = field(default_factory=set)
    #: The last rebuild failed or is overdue: pollers get `cache` at once instead of waiting for a retry.
    degraded: bool = False


class Hub:
    """Snapshot cache and stream fan-out of one server process (create one per app; no globals).

    Starts lazily on first use from the event loop (subscribing to `service` then); `close()` ends every
    stream at once (SIGTERM), `aclose()` also unsubscribes and stops the heartbeat. Each heartbeat also asks
    the service whether the keys of open streams were revoked, and ends those streams.
    """

    def __init__(
        self,
        service: SnapshotFeed,
        *,
        heartbeat_seconds: float = 15.0,
        queue_limit: int = 1000,
        queue_bytes: int = 8 * 1024 * 1024,
        metrics: Metrics | None = None,
        stale_wait_seconds: float = 1.0,
    ) -> None:
        self._service = service
        self._heartbeat_seconds = heartbeat_seconds
        self._stale_wait = stale_wait_seconds
        self._revocation_listeners: list[Callable[[int], object]] = []
        self._queue_limit = queue_limit
        self._queue_bytes = queue_bytes
        self.metrics = metrics or Metrics()
        self._variants: dict[VariantKey, _Variant] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def degraded(self) -> bool:
        """Some snapshot could not be rebuilt after a change (the database failed): a stale one is served."""
        return any(v.degraded for v in self._variants.values())

    def clients(self) -> int:
        return sum(len(v.subscribers) for v in self._variants.values())

    # -- lifecycle

    def _start(self) -> None:
        if self._loop is not None or self._closed:
            return
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = self._service.subscribe(self._on_change_threadsafe)
        if self._heartbeat_seconds > 0:
            self._heartbeat = self._loop.create_task(self._beat(), name="vexil-sse-heartbeat")

    def close(self) -> None:
        """End every stream now (after its queued frames) and refuse new ones; cheap and idempotent."""
        self._closed = True
        for variant in self._variants.values():
            for subscriber in variant.subscribers:
                subscriber.close()
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    async def aclose(self) -> None:
        self.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [t for t in (self._heartbeat, *(v.task for v in self._variants.values())) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- snapshots

    async def snapshot(
        self, environment_id: int, *, client_side: bool, allow_stale: bool = False
    ) -> CachedSnapshot:
        """The current snapshot: cached bytes, or a rebuild when a change arrived since they were built.

        Raises what `service.snapshot_by_id` raises (`NotFound` for a deleted environment, `Unavailable`).
        `allow_stale` (polling, which catches up on its next poll): when the rebuild fails or takes longer
        than `stale_wait_seconds`, answer the last good snapshot instead; never for streams, whose `put`
        must contain every change they will not get as a patch.
        """
        key = (environment_id, client_side)
        variant = self._variants.get(key)
        if (
            variant is not None
            and variant.cache is not None
            and variant.built_generation >= variant.generation
        ):
            return variant.cache  # the hot path: nothing changed since the bytes were built
        self._start()
        if variant is None:
            variant = self._variants[key] = _Variant()
        needed = variant.generation
        while variant.cache is None or variant.built_generation < needed:
            task = variant.task or self._rebuild(variant, key)
            if not allow_stale or variant.cache is None:
                # shield: a client hanging up must not cancel a rebuild other requests are waiting for
                await asyncio.shield(task)
                continue
            if variant.degraded:
                return variant.cache  # the database is failing: answer now; the rebuild retries meanwhile
            try:
                await asyncio.wait_for(asyncio.shield(task), self._stale_wait)
            except NotFound:
                raise
            except Exception:  # noqa: BLE001 -- the data plane's database boundary: keep serving the last good
                variant.degraded = True  # overdue (TimeoutError) or failed (logged by `_retrieve`)
                return variant.cache
        return variant.cache

    def _rebuild(self, variant: _Variant, key: VariantKey) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._build(variant, key))
        task.add_done_callback(_retrieve)
        variant.task = task
        return task

    async def _build(self, variant: _Variant, key: VariantKey) -> None:
        generation = variant.generation  # notices up to here were committed before this read starts
        failed = True
        try:
            try:
                cached = await run_in_threadpool(_serialise, self._service, key)
            except Unavailable:
                variant.degraded = variant.cache is not None
                raise
            if variant.cache is None or cached.version >= variant.cache.version:
                variant.cache = cached
            variant.built_generation = generation
            variant.degraded = False
            failed = False
            self.metrics.snapshot_builds.inc()
            self.metrics.snapshot_version.labels(cached.project, cached.environment).set(cached.version)
        finally:
            variant.task = None
            if not failed and variant.built_generation < variant.generation and not self._closed:
                self._rebuild(variant, key)  # changes arrived meanwhile: keep the cache warm

    # -- streams

    def subscribe(self, environment_id: int, *, client_side: bool, key_id: int | None = None) -> Subscriber:
        """Register a stream before reading its snapshot, so no change can fall between the two.

        `key_id`: the API key that opened it; revoking that key ends the stream (`revoke_key`, heartbeats).
        """
        if self._closed:
            raise HubClosedError
        self._start()
        subscriber = Subscriber(
            environment_id, client_side, limit=self._queue_limit, byte_limit=self._queue_bytes, key_id=key_id
        )
        self._variants.setdefault((environment_id, client_side), _Variant()).subscribers.add(subscriber)
        self.metrics.stream_clients.labels("client" if client_side else "server").inc()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        variant = self._variants.get((subscriber.environment_id, subscriber.client_side))
        if variant is not None and subscriber in variant.subscribers:
            variant.subscribers.discard(subscriber)
            self.metrics.stream_clients.labels("client" if subscriber.client_side else "server").dec()
        subscriber.close()

    # -- revoked keys

    def on_revoked(self, listener: Callable[[int], object]) -> None:
        """Call `listener(key_id)` when a heartbeat finds a stream's key revoked (say, by another process)."""
        self._revocation_listeners.append(listener)

    def revoke_key(self, key_id: int) -> int:
        """End the streams opened with this key (after their queued frames); returns how many."""
        ended = [s for v in self._variants.values() for s in v.subscribers if s.key_id == key_id]
        for subscriber in ended:
            self.unsubscribe(subscriber)
        return len(ended)

    async def check_keys(self) -> int:
        """Ask the service which keys of open streams were revoked (one read) and end their streams."""
        key_ids = {s.key_id for v in self._variants.values() for s in v.subscribers if s.key_id is not None}
        if not key_ids:
            return 0
        try:
            inactive = await run_in_threadpool(self._service.inactive_keys, key_ids)
        except Unavailable:
            return 0  # cannot tell now; the next heartbeat asks again
        ended = 0
        for key_id in sorted(inactive):
            ended += self.revoke_key(key_id)
            for listener in self._revocation_listeners:
                listener(key_id)
        return ended

    def _on_change_threadsafe(self, change: Change) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._on_change, change)
        except RuntimeError:  # the loop closed between the check and the call (shutdown)
            logger.debug("change %s arrived after the event loop closed", change.snapshot_version)

    def _on_change(self, change: Change) -> None:
        for client_side in (False, True):
            key = (change.environment_id, client_side)
            variant = self._variants.get(key)
            if variant is None:
                continue
            variant.generation += 1
            if variant.task is None and not self._closed:
                self._rebuild(variant, key)
            if not variant.subscribers:
                continue
            name, frame = _frame(change, client_side)
            self.metrics.stream_messages.labels(name).inc(len(variant.subscribers))
            for subscriber in list(variant.subscribers):
                if not subscriber.push(change.snapshot_version, frame):
                    self.metrics.stream_dropped.inc()
                    self.unsubscribe(subscriber)

    async def _beat(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._heartbeat_seconds)
            for variant in self._variants.values():
                for subscriber in list(variant.subscribers):
                    if not subscriber.push(-1, _HEARTBEAT):
                        self.metrics.stream_dropped.inc()
                        self.unsubscribe(subscriber)
            await self.check_keys()


def _frame(change: Change, client_side: bool) -> tuple[str, bytes]:
    kind = ItemKind(change.kind.value)
    item = change.item
    hidden = (
        client_side and kind is ItemKind.FLAG and item is not None and item.get("client_side") is not True
    )
    if item is None or hidden:
        # A flag that stops being client-side disappears from client streams: a tombstone.
        return "delete", encode_sse(Delete(change.snapshot_version, kind, change.key))
    return "patch", encode_sse(Patch(change.snapshot_version, kind, change.key, item))


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a rebuild's failure as seen (its waiters got it); the next request retries the rebuild."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("snapshot rebuild failed: %r", task.exception())
