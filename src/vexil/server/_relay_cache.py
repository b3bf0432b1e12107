"""The relay's disk cache: one file per mirrored environment, replaced atomically after each change.

A file is a snapshot endpoint body (`{"version", "document"}`, so `Client.from_file` reads it too) plus the
environment's names and when it was last known current. Files are named by a hash of the key, never the
key. File I/O only; the writer coalesces bursts of changes into one write at a time, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vexil.protocol import ProtocolError, Put, decode_json
from vexil.service import EnvironmentSnapshot

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedEnvironment:
    version: int
    document: dict[str, Any]
    project: str
    environment: str
    #: Unix time at which the copy was last known to match the upstream.
    synced_at: float


def cache_path(cache_dir: Path, server_key: str) -> Path:
    return cache_dir / f"env-{hashlib.sha256(server_key.encode()).hexdigest()[:16]}.json"


def write_environment(path: Path, snapshot: EnvironmentSnapshot, synced_at: float) -> None:
    """Write a private temporary file, fsync it, `os.replace` it over `path`, fsync the directory: a reader
    (or a restart after a crash) sees the old file or the new one, never a mix. Raises OSError."""
    body = json.dumps(
        {
            "version": snapshot.version,
            "document": snapshot.document,
            "project": snapshot.project,
            "environment": snapshot.environment,
            "synced_at": synced_at,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened for fsync
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def read_environment(path: Path) -> CachedEnvironment | str:
    """The cached copy, or why there is none usable (missing, unreadable, not a snapshot)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return f"no cache file {path.name}"
    except OSError as exc:
        return f"cannot read the cache file {path}: {exc.strerror or exc}"
    try:
        message = decode_json("put", raw)
    except ProtocolError as exc:
        return f"the cache file {path} is not a snapshot: {exc}"
    assert isinstance(message, Put)  # decode_json("put") returns nothing else
    extra = json.loads(raw)
    project, environment, synced_at = extra.get("project"), extra.get("environment"), extra.get("synced_at")
    return CachedEnvironment(
        version=message.version,
        document=message.document,
        project=project if isinstance(project, str) else "",
        environment=environment if isinstance(environment, str) else "",
        synced_at=float(synced_at) if isinstance(synced_at, int | float) else path.stat().st_mtime,
    )


class CacheWriter:
    """Writes one environment's file after changes: at most one write in flight, the latest state wins."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pending: tuple[EnvironmentSnapshot, float] | None = None
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    def schedule(self, snapshot: EnvironmentSnapshot, synced_at: float) -> None:
        self._pending = (snapshot, synced_at)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="vexil-relay-cache")

    async def _drain(self) -> None:
        try:
            while self._pending is not None:
                snapshot, synced_at = self._pending
                self._pending = None
                try:
                    await asyncio.to_thread(write_environment, self._path, snapshot, synced_at)
                except OSError as exc:  # a full or read-only disk: keep serving from memory, try next change
                    self.failures += 1
                    logger.warning("vexil relay: cannot write the cache file %s: %s", self._path, exc)
        finally:
            self._task = None

    async def aclose(self) -> None:
        """Wait for the write in flight (and the one queued after it)."""
        task = self._task
        if task is not None:
            await asyncio.shield(task)
