"""The edge's rate limits: login attempts, signups, and requests in general, per client.

Addresses are counted by `limit_key` (an IPv6 address by its /64) of the client address that
edge/client_address.py worked out (X-Forwarded-For only from a trusted proxy).

Logins (`LoginLimits`): a sliding 60 s window per (client address, email), and one per account
(the email alone, across addresses). An attempt is counted when it is admitted, before it is
forwarded, so parallel attempts cannot all pass a check made before any of them was counted; once
answered, it is given back unless the password was wrong (or the answer never came): a user who
types the right password is never slowed down by their own logins. The per-account cap is higher
and stops a guesser spread over many addresses; it cannot lock the owner out for long: it frees
up a minute after the guessing stops, and it does not apply at all from an address the account
has logged in from (successfully) before, so its owner, from where they usually are, gets in
throughout.

Requests and signups: a token bucket per client address that holds a minute's worth and refills
continuously, so a client may burst up to that many, then goes at the steady rate.

All live in this edge process's memory, so each edge replica counts on its own; one edge per
machine is the deployment this is meant for (design.md §9, README "Rate limits").
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from edge.client_address import limit_key
from edge.errors import RateLimited

SWEEP_EVERY = 1024  # attempts recorded between sweeps of keys whose window has passed
KNOWN_FOR = 30 * 86_400.0  # seconds an address stays "known" to an account after a good login
KNOWN_MAX = 50_000  # (address, account) pairs remembered at most; the oldest are forgotten first
# Answers after which an attempt is given back: the right password (200, or 403 for an agent not
# approved), or no password checked at all (400 malformed, 429 the general limit, 503 shed or
# unavailable). A 401 stays counted, and so does an attempt whose outcome is unknown (a timeout,
# a 500).
NOT_A_GUESS = frozenset({200, 400, 403, 429, 503})


class FailureLimiter:
    """Allows at most `limit` attempts per key in any `window` seconds."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        # Only the newest `limit` attempts matter: the oldest of them says when the key frees up.
        self._attempts: dict[Hashable, deque[float]] = {}
        self._recorded = 0

    def retry_after(self, key: Hashable) -> int | None:
        """Seconds until `key` may try again, or None if it may try now."""
        times = self._attempts.get(key)
        if times is None or len(times) < self.limit:
            return None
        wait = times[0] + self.window - self._clock()
        if wait <= 0:
            return None
        return max(1, math.ceil(wait))

    def record(self, key: Hashable) -> float:
        """Count one attempt of `key` now; returns its stamp, for `refund`."""
        times = self._attempts.get(key)
        if times is None:
            times = self._attempts[key] = deque(maxlen=self.limit)
        stamp = self._clock()
        times.append(stamp)
        self._recorded += 1
        if self._recorded % SWEEP_EVERY == 0:
            self._sweep()
        return stamp

    def refund(self, key: Hashable, stamp: float) -> None:
        """Take back the attempt `record` stamped (if the window has not dropped it already)."""
        times = self._attempts.get(key)
        if times is None:
            return
        try:
            times.remove(stamp)
        except ValueError:
            return
        if not times:
            del self._attempts[key]

    def _sweep(self) -> None:
        # Forget keys with no attempt inside the window, so sprayed emails don't pile up.
        cutoff = self._clock() - self.window
        for key in [k for k, times in self._attempts.items() if times[-1] <= cutoff]:
            del self._attempts[key]

    def __len__(self) -> int:
        return len(self._attempts)


class KnownClients:
    """(address, account) pairs that logged in successfully lately: at most `size`, for `ttl` s."""

    def __init__(
        self, ttl: float = KNOWN_FOR, size: int = KNOWN_MAX, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.size, self._clock = ttl, size, clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def add(self, pair: Hashable) -> None:
        self._seen[pair] = self._clock()
        self._seen.move_to_end(pair)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def __contains__(self, pair: Hashable) -> bool:
        seen = self._seen.get(pair)
        return seen is not None and self._clock() - seen < self.ttl


@dataclass(frozen=True)
class Admission:
    """One login attempt let through, and what it was counted under."""

    pair: tuple[str, str]
    stamp: float
    account_stamp: float | None  # None: from a known address, not counted against the account


class LoginLimits:
    def __init__(
        self,
        per_address: int,
        per_account: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = FailureLimiter(per_address, window, clock)
        self.accounts = FailureLimiter(per_account, window, clock)
        self.known = KnownClients(clock=clock)

    def admit(self, address: str, email: str) -> Admission:
        """Count an attempt of `email` from `address`, or refuse it (RateLimited, 429)."""
        pair = (limit_key(address), email)
        known = pair in self.known
        # Checked, then recorded, with no await between: parallel attempts are counted one by one.
        if (wait := self.attempts.retry_after(pair)) is not None:
            raise RateLimited("too many failed login attempts; try again later", retry_after=wait)
        if not known and (wait := self.accounts.retry_after(email)) is not None:
            raise RateLimited("too many failed login attempts for this account; try again later", wait)
        account_stamp = None if known else self.accounts.record(email)
        return Admission(pair, self.attempts.record(pair), account_stamp)

    def settle(self, admission: Admission, status: int) -> None:
        """What the attempt was answered with: a wrong password stays counted (NOT_A_GUESS)."""
        if status not in NOT_A_GUESS:
            return
        self.attempts.refund(admission.pair, admission.stamp)
        if admission.account_stamp is not None:
            self.accounts.refund(admission.pair[1], admission.account_stamp)
        if status == 200:
            self.known.add(admission.pair)


class RequestLimiter:
    """A token bucket per client address: `per_minute` tokens at most, refilled at `per_minute` a
    minute (addresses counted by `limit_key`)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key → (tokens, when counted)
        self._swept_at = clock()

    def take(self, address: str) -> int | None:
        """Spend one token of `address`: None if there was one, else the seconds to wait for one."""
        key = limit_key(address)
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
