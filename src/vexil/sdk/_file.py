"""Offline data sources: a flag file (JSON or YAML, optionally watched by mtime polling) and a bootstrap dict.

They only read local data and push it as protocol `put` messages; a bad file is reported, never raised.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vexil.protocol import Put
from vexil.sdk._source import Updates
from vexil.sdk._status import SourceError, SourceErrorKind, State

_YAML_SUFFIXES = (".yaml", ".yml")


def as_put(data: object, *, default_version: int = 0) -> Put:
    """A flag document `{"flags", "segments"}` or a snapshot envelope `{"version", "document"}` as a put."""
    if not isinstance(data, Mapping):
        raise ValueError("a flag file must hold an object")
    document = data.get("document")
    version = data.get("version")
    if isinstance(document, Mapping) and isinstance(version, int) and not isinstance(version, bool):
        return Put(version, dict(document))
    return Put(default_version, dict(data))


def read_flag_file(path: Path) -> Put:
    """Parse a JSON or YAML (by suffix) flag file; raises OSError or ValueError on a bad one."""
    raw = path.read_bytes()
    data: Any
    if path.suffix.lower() in _YAML_SUFFIXES:
        import yaml  # noqa: PLC0415 -- only YAML files pay for importing PyYAML

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
    return as_put(data)


class FileSource:
    """Loads a flag file at start (synchronously, so `Client.from_file` is ready at once) and, with
    `watch=True`, reloads it when its modification time or size changes; a broken edit keeps the old flags."""

    def __init__(self, path: str | Path, *, watch: bool, interval: float, logger: logging.Logger) -> None:
        self.name = "file"
        self.path = Path(path)
        self._watch = watch
        self._interval = interval
        self._log = logger
        self._updates: Updates | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: tuple[int, int] | None = None

    def start(self, updates: Updates) -> None:
        self._updates = updates
        self._stop = threading.Event()
        self._load()
        if self._watch:
            self._thread = threading.Thread(target=self._run, name="vexil-file-watch", daemon=True)
            self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def after_fork(self) -> None:
        if self._watch and self._updates is not None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name="vexil-file-watch", daemon=True)
            self._thread.start()

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _load(self) -> None:
        updates = self._updates
        if updates is None:
            return
        self._seen = self._stat()
        try:
            put = read_flag_file(self.path)
        except (OSError, ValueError) as exc:
            self._log.error("vexil: cannot load flags from %s: %s", self.path, exc)
            updates.report(State.INTERRUPTED, SourceError(SourceErrorKind.FILE, str(exc)))
            return
        updates.apply(put)
        updates.report(State.VALID)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if self._stat() != self._seen:
                    self._load()
            except Exception:  # noqa: BLE001 -- the thread's boundary: a watcher must outlive any surprise
                self._log.exception("vexil: unexpected error watching %s", self.path)


class StaticSource:
    """A fixed document given in code (bootstrap): delivered once at start."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.name = "bootstrap"
        self._put = as_put(data)

    def start(self, updates: Updates) -> None:
        updates.apply(self._put)
        updates.report(State.VALID)

    def stop(self, timeout: float) -> None:
        pass

    def after_fork(self) -> None:
        pass
