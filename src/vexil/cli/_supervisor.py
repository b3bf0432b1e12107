"""`Supervisor`: forked worker processes serving one listening socket (`vexil serve --workers N`).

Process management only, never serving: forks while holding no threads or database, forwards SIGTERM/SIGINT,
replaces dead workers, kills stragglers after the budget; workers stop if it dies (even by SIGKILL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

#: uvicorn's logger, so the supervisor's lines look like the workers' (and reach the same handler).
logger = logging.getLogger("uvicorn.error")

#: Exit status of a worker that failed before it was ready (and of the parent when that happens).
STARTUP_FAILURE = 3
#: More deaths than this within `_RESTART_WINDOW` seconds means something is broken: stop everything.
_MAX_RESTARTS = 5
_RESTART_WINDOW = 60.0

#: What a worker runs: serve until told to stop, calling `ready()` once accepting; returns an exit status.
Work = Callable[[Callable[[], None]], int]


class Supervisor:
    """Runs `workers` copies of `work` in forked children and watches them until SIGTERM/SIGINT."""

    def __init__(
        self,
        workers: int,
        work: Work,
        *,
        shutdown_seconds: float,
        startup_seconds: float = 60.0,
        on_ready: Callable[[list[int]], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._count = workers
        self._work = work
        self._shutdown_seconds = shutdown_seconds
        self._startup_seconds = startup_seconds
        self._on_ready = on_ready
        self._on_stop = on_stop
        self._children: dict[int, int] = {}  # pid -> slot
        self._stopping = False
        self._deaths: list[float] = []
        # The parent holds the write end for its whole life; a worker seeing EOF knows the parent is gone.
        self._lifeline: tuple[int, int] | None = None

    def run(self) -> int:
        """Start the workers, wait for a signal, stop them; returns the parent's exit status."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._lifeline = os.pipe()
        try:
            started = self._start_all()
            if not started and not self._stopping:
                self._stop_all()
                return STARTUP_FAILURE
            if started and self._on_ready is not None:
                self._on_ready(sorted(self._children))
            while not self._stopping:
                self._reap_and_replace()
                time.sleep(0.1)  # a signal sets `_stopping`; PEP 475 resumes the sleep, so poll briefly
            return self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for fd in self._lifeline:
                os.close(fd)

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    # -- children

    def _spawn(self, slot: int, ready_fd: int | None) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            self._children[pid] = slot
            return pid
        # The child: never return into the parent's code, whatever happens.
        status = 1
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)  # the server installs its own handlers
            if self._lifeline is not None:
                os.close(self._lifeline[1])
                watch = threading.Thread(target=_stop_when_orphaned, args=(self._lifeline[0],), daemon=True)
                watch.start()
            status = self._work(lambda: _signal_ready(ready_fd))
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # the worker's last boundary: report it, then exit with a failure status
            logger.exception("worker %d failed", os.getpid())
            status = STARTUP_FAILURE
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)

    def _start_all(self) -> bool:
        """Fork every worker and wait until each says it is accepting; False if one dies first."""
        pending: dict[int, int] = {}  # read end -> pid
        for slot in range(self._count):
            read_end, write_end = os.pipe()
            pid = self._spawn(slot, write_end)
            os.close(write_end)
            pending[read_end] = pid
        deadline = time.monotonic() + self._startup_seconds
        try:
            while pending and not self._stopping and time.monotonic() < deadline:
                readable, _, _ = select.select(list(pending), [], [], 0.1)
                for fd in readable:
                    if os.read(fd, 1) != b"r":  # EOF: the worker exited before it was ready
                        logger.error("worker %d stopped before it was ready", pending[fd])
                        return False
                    os.close(fd)
                    del pending[fd]
            if pending and not self._stopping:
                logger.error(
                    "workers %s were not ready in %.0f s", sorted(pending.values()), self._startup_seconds
                )
            return not pending
        finally:
            for fd in pending:
                os.close(fd)

    def _reap_and_replace(self) -> None:
        while self._children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            slot = self._children.pop(pid, None)
            if slot is None or self._stopping:
                continue
            logger.error("worker %d exited unexpectedly (%s); starting another", pid, _describe(status))
            now = time.monotonic()
            self._deaths = [t for t in self._deaths if now - t < _RESTART_WINDOW] + [now]
            if len(self._deaths) > _MAX_RESTARTS:
                logger.error(
                    "workers keep dying (%d in %.0f s); stopping", len(self._deaths), _RESTART_WINDOW
                )
                self._stopping = True
                return
            self._spawn(slot, None)

    def _stop_all(self) -> int:
        """SIGTERM every worker, wait up to the budget, SIGKILL the rest; 0 when all stopped cleanly."""
        if self._on_stop is not None:
            self._on_stop()
        for pid in self._children:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + max(0.5, self._shutdown_seconds - 0.5)
        clean = True
        while self._children and time.monotonic() < deadline:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                time.sleep(0.05)
                continue
            if self._children.pop(pid, None) is not None and not _clean_exit(status):
                logger.warning("worker %d stopped with %s", pid, _describe(status))
                clean = False
        for pid in list(self._children):
            logger.error("worker %d did not stop in time; killing it", pid)
            _kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            del self._children[pid]
            clean = False
        return 0 if clean else 1


def _stop_when_orphaned(lifeline: int) -> None:
    """In a worker: block until the parent's end of the lifeline closes, then shut down gracefully."""
    while os.read(lifeline, 1):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _signal_ready(fd: int | None) -> None:
    if fd is not None:
        os.write(fd, b"r")
        os.close(fd)


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited meanwhile; reaped by the caller
        os.kill(pid, sig)


def _clean_exit(status: int) -> bool:
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"status {os.WEXITSTATUS(status)}"
