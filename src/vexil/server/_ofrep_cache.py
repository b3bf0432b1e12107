"""Compiled engine snapshots per environment for OFREP, rebuilt from the data plane hub's cached bytes.

The hub already rebuilds its pre-serialised snapshot on every change notice; this cache compiles what changed
in those bytes once per new snapshot version (in a worker thread); it never reads the database or compiles
per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from vexil.engine import Snapshot
from vexil.protocol import Put, decode_json

from ._hub import CachedSnapshot, Hub
from ._ofrep_results import FlagInfo

logger = logging.getLogger(__name__)
_FRESHNESS_POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    """One environment's whole document, compiled: OFREP always evaluates with every flag and segment (so a
    client-side flag's prerequisites still work) and only *answers* client keys for client-side flags."""

    environment_id: int
    version: int
    project: str
    environment: str
    #: Content hash of the snapshot bytes; with the version it names this configuration (`config_etag`).
    digest: str
    snapshot: Snapshot
    flags: Mapping[str, FlagInfo]
    all_keys: tuple[str, ...]
    client_keys: tuple[str, ...]

    @property
    def config_etag(self) -> str:
        """The flag-configuration token of SSE events (`etag`) and `flagConfigEtag`: `<version>-<digest>`."""
        return f"{self.version}-{self.digest[:16]}"


def compile_view(
    environment_id: int, cached: CachedSnapshot, previous: EnvironmentView | None = None
) -> EnvironmentView:
    """Runs in a worker thread: decode the `put` body the hub serialised and compile it; with the
    environment's `previous` view only the flags and segments that changed compile (about 1 ms a flag)."""
    message = decode_json("put", cached.body)
    assert isinstance(message, Put)
    document = message.document
    new_flags: dict[str, Any] = document.get("flags", {})
    if previous is None:
        # The server validated every write; lenient compilation still keeps one bad flag from hiding the rest.
        snapshot = Snapshot.from_document(document, strict=False)
        infos: dict[str, FlagInfo] = {}
    else:
        changed_flags = _changes(previous.snapshot.flags, new_flags)
        changed_segments = _changes(previous.snapshot.segments, document.get("segments", {}))
        patched = previous.snapshot.with_changes(changed_flags, changed_segments)
        # Keep the document's order (bulk answers list flags in it); with_changes appends new keys.
        snapshot = Snapshot(
            {key: patched.flags[key] for key in new_flags},
            patched.segments,
            {key: patched.flag_table[key] for key in new_flags},
            patched.segment_table,
        )
        infos = {key: info for key, info in previous.flags.items() if key not in changed_flags}
    flags = {key: infos.get(key) or FlagInfo.from_document(key, doc) for key, doc in snapshot.flags.items()}
    return EnvironmentView(
        environment_id=environment_id,
        version=cached.version,
        project=cached.project,
        environment=cached.environment,
        digest=cached.etag.strip('"'),
        snapshot=snapshot,
        flags=flags,
        all_keys=tuple(flags),
        client_keys=tuple(key for key, info in flags.items() if info.client_side),
    )


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What `Snapshot.with_changes` needs to turn `old` items into `new` ones (None deletes)."""
    changes: dict[str, Any] = {key: doc for key, doc in new.items() if old.get(key) != doc}
    changes.update((key, None) for key in old if key not in new)
    return changes


class ViewCache:
    """Per-environment `EnvironmentView`s of one app, following `hub` (create one per app; no globals)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._views: dict[int, EnvironmentView] = {}
        self._builds: dict[tuple[int, str], asyncio.Task[EnvironmentView]] = {}

    async def view(self, environment_id: int) -> EnvironmentView:
        """The compiled current snapshot. Raises what `hub.snapshot` raises (`NotFound` for a deleted one)."""
        cached = await self._hub.snapshot(environment_id, client_side=False)
        current = self._views.get(environment_id)
        if (
            current is not None
            and current.version == cached.version
            and current.digest == cached.etag.strip('"')
        ):
            return current
        key = (environment_id, cached.etag)
        task = self._builds.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._build(environment_id, cached))
            task.add_done_callback(_retrieve)
            self._builds[key] = task
        # shield: a client hanging up must not cancel a compile other requests are waiting for
        return await asyncio.shield(task)

    async def fresh_view(self, environment_id: int, min_version: int, wait_seconds: float) -> EnvironmentView:
        """The view, waiting up to `wait_seconds` for `min_version` to arrive (a refetch a stream event
        triggered may reach a replica whose change notice is still on its way)."""
        view = await self.view(environment_id)
        deadline = time.monotonic() + wait_seconds
        while view.version < min_version and time.monotonic() < deadline:
            await asyncio.sleep(_FRESHNESS_POLL_SECONDS)
            view = await self.view(environment_id)
        return view

    async def _build(self, environment_id: int, cached: CachedSnapshot) -> EnvironmentView:
        try:
            previous = self._views.get(environment_id)
            view = await run_in_threadpool(compile_view, environment_id, cached, previous)
        finally:
            self._builds.pop((environment_id, cached.etag), None)
        current = self._views.get(environment_id)
        if current is None or view.version >= current.version:
            self._views[environment_id] = view
        return view


def _retrieve(task: asyncio.Task[EnvironmentView]) -> None:
    """Mark a failed compile as seen (its waiters got the error); the next request tries again."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("OFREP snapshot compile failed: %r", task.exception())
