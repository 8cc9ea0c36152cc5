"""The edge's rate limits: failed logins, and requests in general, per client.

Failed logins: a sliding 60 s window per (client address, lowercased email). Only failures count:
a user who types the right password is never slowed down by their own successful logins.

Requests: a token bucket per client address that holds a minute's worth (`requests_per_minute`)
and refills continuously, so a client may burst up to that many, then goes at the steady rate.

Both live in this edge process's memory, so each edge replica counts on its own; one edge per
machine is the deployment this is meant for (design.md §9, README "Rate limits").
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


class RequestLimiter:
    """A token bucket per key: `per_minute` tokens at most, refilled at `per_minute` a minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key → (tokens, when counted)
        self._swept_at = clock()

    def take(self, key: Hashable) -> int | None:
        """Spend one token of `key`: None if there was one, else the seconds to wait for one."""
        now = self._clock()
        if now - self._swept_at >= 60.0:
            self._sweep(now)
        tokens, then = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def _sweep(self, now: float) -> None:
        # A bucket untouched for a minute is full again: forgetting it changes nothing.
        self._swept_at = now
        for key in [k for k, (_, then) in self._buckets.items() if now - then >= 60.0]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
