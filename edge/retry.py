"""When the edge sends a request again, and how long it waits first.

Only requests that are safe to repeat are retried: reads, and writes carrying an Idempotency-Key
(the edge gives every write one; the actor answers a repeat with its first answer). Only failures
that say nothing reached an actor or nothing came back are retried: no responders, a timeout (the
worker may have died mid-request), the actor's own 504 (the attempt ran past the deadline it was
given) and the bus being down (the request never left the edge). An error reply (400, 404, 409,
the actor's 503 while its database is down...) is an answer, never retried. Every attempt and
every pause fits inside the request's one deadline.

A small loop rather than `stamina` (design.md §9 names it): stamina's `timeout` stops retrying
once the time is spent but may start a back-off that runs past the deadline, the per-attempt
time has to be recomputed from the deadline anyway, our failures are outcomes rather than
exceptions, and its tenacity machinery costs ~100 µs per call on the success path (measured:
about a tenth of the edge's CPU per request) against ~2 µs for this.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from actors.contracts.config import Settings

# Outcomes (actors/bus/client.py's `exchange`) after which a retry-safe request may be sent again.
RETRY_ON = frozenset({"no_responders", "timeout", "504", "unavailable"})
MIN_ATTEMPT = 0.05  # seconds: an attempt with less time left than this is not worth sending


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # in all, the first included
    backoff: float = 0.05  # seconds before the first retry, doubled for each next one
    backoff_max: float = 0.5
    attempt_timeout: float = 2.0  # at most this per attempt, and never past the deadline

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            attempts=settings.retry_attempts,
            backoff=settings.retry_backoff,
            backoff_max=settings.retry_backoff_max,
            attempt_timeout=settings.attempt_timeout,
        )

    def pause(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first): "equal jitter", so
        replicas of the edge that failed together spread out, yet never retry at once."""
        ceiling = min(self.backoff_max, self.backoff * 2.0 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def should_retry(self, outcome: str, attempt: int, time_left_after_pause: float) -> bool:
        """Whether attempt number `attempt` (1-based), which ended in `outcome`, gets a successor."""
        return outcome in RETRY_ON and attempt < self.attempts and time_left_after_pause >= MIN_ATTEMPT


NO_RETRY = RetryPolicy(attempts=1)
