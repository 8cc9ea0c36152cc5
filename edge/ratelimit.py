"""Failed-login counting: a sliding 60 s window per (client address, lowercased email).

The counts live in this edge process's memory, so each edge replica counts on its own; one edge
per machine is the deployment this is meant for (design.md §9). Only failures count: a user who
types the right password is never slowed down by their own successful logins.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Hashable

SWEEP_EVERY = 1024  # failures recorded between sweeps of keys whose window has passed


class FailureLimiter:
    """Allows at most `limit` failures per key in any `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        # Only the newest `limit` failures matter: the oldest of them says when the key frees up.
        self._failures: dict[Hashable, deque[float]] = {}
        self._recorded = 0

    def retry_after(self, key: Hashable) -> int | None:
        """Seconds until `key` may try again, or None if it may try now."""
        times = self._failures.get(key)
        if times is None or len(times) < self.limit:
            return None
        wait = times[0] + self.window - self._clock()
        if wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def record_failure(self, key: Hashable) -> None:
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = deque(maxlen=self.limit)
        times.append(self._clock())
        self._recorded += 1
        if self._recorded % SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        # Forget keys with no failure inside the window, so sprayed emails don't pile up.
        cutoff = self._clock() - self.window
        for key in [k for k, times in self._failures.items() if times[-1] <= cutoff]:
            del self._failures[key]

    def __len__(self) -> int:
        return len(self._failures)
