"""Reconnection delays: exponential, capped, with jitter from an injected source so tests are exact.

Pure arithmetic: it never sleeps and never reads a clock (the state machine decides when to reset it).
"""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """Delay n (from 0) lies in [d/2, d], d = min(maximum, initial * 2**n): "0.5-1 s, doubling to 30 s"."""

    def __init__(
        self,
        *,
        initial: float = 1.0,
        maximum: float = 30.0,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        # A private generator: seeding or reseeding the global `random` must not synchronise clients.
        self._jitter = jitter if jitter is not None else random.Random().random
        self.attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * 2.0 ** min(self.attempts, 62))
        self.attempts += 1
        fraction = min(1.0, max(0.0, self._jitter()))
        return ceiling / 2 + ceiling / 2 * fraction

    def reset(self) -> None:
        self.attempts = 0
