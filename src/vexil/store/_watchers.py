"""The set of change-notice callbacks of one store, called after commits (thread-safe).

Delivery only; it never reads the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from vexil.service import Notice

logger = logging.getLogger(__name__)


class Watchers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: list[Notice] = []

    def add(self, callback: Notice) -> Callable[[], None]:
        with self._lock:
            self._callbacks.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return remove

    def __bool__(self) -> bool:
        return bool(self._callbacks)

    def fire(self, notices: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for environment_id, snapshot_version in notices:
            for callback in callbacks:
                try:
                    callback(environment_id, snapshot_version)
                except Exception:  # a failing watcher must not undo or hide a committed write
                    logger.exception("change watcher failed")
