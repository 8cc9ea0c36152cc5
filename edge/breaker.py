"""A circuit breaker per NATS subject: stop sending to a subject that keeps failing, try again later.

Closed: requests go through; `failures` failures in a row (no responders, timeouts) open it. "In a
row" is in the order the requests were sent: a failure of a request sent before the subject's
last success does not count. Requests in flight run concurrently, so when one replica dies the
timeouts of what it held arrive together, all at once, while the other replicas keep answering:
those say nothing about the subject, and must not open a circuit that the others serve.
Open: every request is refused at once (the edge answers 503) until `cooldown` seconds have passed.
Half-open: one probe goes through; its success closes the circuit, its failure opens it again
for another cool-down; the others are refused meanwhile. Any reply from an actor, an error reply
included, is a success here: the subject is served. A call that ends without a verdict (the bus
was down, the caller was cancelled) frees the probe slot and changes nothing.

Small and hand-written (design.md §9): the async breaker libraries are unmaintained. One breaker
set per edge process; the state is in memory and shows as `loans_edge_circuit_state{subject}`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import IntEnum


class State(IntEnum):
    """The values of the `loans_edge_circuit_state` gauge (README, "Metrics")."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Breaker:
    def __init__(
        self,
        failures: int,
        cooldown: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[State], None] | None = None,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.state = State.CLOSED
        self.failures = 0  # in a row, while closed
        self._clock = clock
        self._on_change = on_change
        self._opened_at = 0.0
        self._succeeded_at = -math.inf
        self._probing = False
        if on_change is not None:
            on_change(self.state)

    def allow(self) -> bool:
        """Whether a request may go now; in half-open the one that may takes the probe slot.

        Every True must be followed by exactly one of `success`, `failure` or `release`.
        """
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN:
            if self._clock() - self._opened_at < self.cooldown:
                return False
            self._set(State.HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def now(self) -> float:
        """The breaker's clock: what `failure` wants as the time a request was sent."""
        return self._clock()

    def success(self) -> None:
        self.failures = 0
        self._succeeded_at = self._clock()
        self._probing = False
        if self.state is not State.CLOSED:
            self._set(State.CLOSED)

    def failure(self, sent_at: float | None = None) -> None:
        """A request sent at `sent_at` (by `now()`; default: now) got no answer."""
        if self.state is State.HALF_OPEN:
            self._probing = False
            self._open()
            return
        if sent_at is not None and sent_at < self._succeeded_at:
            return  # answered since by the subject: this one's replica failed, not the subject
        self.failures += 1
        if self.state is State.CLOSED and self.failures >= self.threshold:
            self._open()

    def release(self) -> None:
        """The call ended without telling whether the subject is served."""
        self._probing = False

    def retry_after(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        if self.state is not State.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown - self._clock())

    def _open(self) -> None:
        self._opened_at = self._clock()
        self.failures = 0
        self._set(State.OPEN)

    def _set(self, state: State) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change(state)


class Breakers:
    """One Breaker per subject, made on first use."""

    def __init__(
        self,
        failures: int,
        cooldown: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State], None] | None = None,
    ) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._by_subject: dict[str, Breaker] = {}

    def __getitem__(self, subject: str) -> Breaker:
        breaker = self._by_subject.get(subject)
        if breaker is None:
            report = self._on_change
            on_change = None if report is None else (lambda state: report(subject, state))
            breaker = Breaker(self.failures, self.cooldown, clock=self._clock, on_change=on_change)
            self._by_subject[subject] = breaker
        return breaker

    def states(self) -> dict[str, State]:
        return {subject: b.state for subject, b in self._by_subject.items()}
