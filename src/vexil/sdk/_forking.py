"""Fork safety: after `os.fork()` each live client restarts its background threads in the child.

Holds only weak references (a closed or collected client drops out by itself) and registers the at-fork
hook once, on the first client started, never at import.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Protocol


class Forkable(Protocol):
    def _after_fork_in_child(self) -> None: ...


class _Registry:
    """The live clients of this process; the hook is registered the first time one is added."""

    def __init__(self) -> None:
        self.clients: weakref.WeakSet[Forkable] = weakref.WeakSet()
        self.lock = threading.Lock()
        self.hooked = False

    def add(self, client: Forkable) -> None:
        with self.lock:
            if not self.hooked and hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=self.after_fork_in_child)
                self.hooked = True
            self.clients.add(client)

    def discard(self, client: Forkable) -> None:
        with self.lock:
            self.clients.discard(client)

    def after_fork_in_child(self) -> None:
        # Only this thread exists in the child; the lock may have been held by another parent thread.
        self.lock = threading.Lock()
        for client in list(self.clients):
            try:
                client._after_fork_in_child()
            except Exception:
                logging.getLogger("vexil.sdk").exception("vexil: restarting a client after fork failed")


REGISTRY = _Registry()
