"""The edge's side of NATS request-reply: retries, the circuit breaker and metrics, around the one
request client.

One request has one deadline (`request_timeout` from its start). A retry-safe request (a read, or a
write with an Idempotency-Key) may take several attempts inside it (edge/retry.py), each capped at
`attempt_timeout` so that a worker killed mid-request leaves time to ask another; each attempt
sends its own end as `Loans-Deadline`, so the actor stops working on an attempt the edge no longer
waits for. Every attempt passes the subject's circuit breaker (edge/breaker.py) first. The attempt
itself (headers, deadline, trace span, error decoding) is the one request client's
(actors/bus/client.py); this module decides only whether, when and how long to try.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping

from nats.aio.client import Client
from nats.errors import Error as NatsError

from actors.bus.client import CANCELLED, Outcome, exchange
from actors.bus.connection import server_of
from actors.contracts.errors import ActorError
from edge.breaker import Breaker, Breakers, State
from edge.errors import CircuitOpen
from edge.metrics import EdgeMetrics
from edge.retry import NO_RETRY, RetryPolicy

PING_TIMEOUT = 0.5  # seconds: /ready must answer fast even when an actor is gone
# Outcomes that say the subject is not being served; "unavailable" (the bus is down) says nothing
# about one subject, and any reply, an error reply too, says it is served.
_SUBJECT_FAILED = frozenset({"no_responders", "timeout", "504"})
_NO_VERDICT = frozenset({"unavailable", "cancelled"})
_BUSY = frozenset({"timeout", "504"})  # for a slow subject: its workers are busy, not gone


class Bus:
    """Sends requests on one NATS connection, which may arrive after the edge has started."""

    def __init__(
        self,
        timeout: float,
        nc: Client | None = None,
        metrics: EdgeMetrics | None = None,
        *,
        retry: RetryPolicy = NO_RETRY,
        breakers: Breakers | None = None,
    ) -> None:
        self.timeout = timeout
        self.nc = nc
        self.metrics = metrics
        self.retry = retry
        if breakers is None:
            breakers = Breakers(5, 5.0, on_change=metrics.set_circuit if metrics is not None else None)
        self.breakers = breakers

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def server(self) -> str | None:
        """host:port of the NATS server this edge is connected to (which node, in a cluster)."""
        return server_of(self.nc)

    async def request(
        self,
        subject: str,
        payload: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        retry_safe: bool = False,
        attempt_timeout: float | None = None,
        circuit: bool = True,
        slow: bool = False,
    ) -> bytes:
        """The reply body of a success; raises ActorError for an error reply or a NATS failure.

        `retry_safe`: the request may be sent again (a read, or a write with an Idempotency-Key).
        `attempt_timeout`: the cap per attempt instead of the policy's (the whole deadline for a
        request whose slowness means load, not a lost worker). `circuit=False` bypasses the
        breaker (a caller with its own retry loop, such as the JWKS warm-up). `slow`: a timeout
        says the workers are busy (a login storm), not gone, so it does not open the circuit.
        """
        policy = self.retry if retry_safe else NO_RETRY
        cap = attempt_timeout if attempt_timeout is not None else policy.attempt_timeout
        if not retry_safe:
            cap = self.timeout  # one attempt: it has the whole deadline
        deadline = time.monotonic() + self.timeout
        breaker = self.breakers[subject] if circuit else None
        attempt = 0
        last_error: ActorError | None = None
        while True:
            attempt += 1
            if breaker is not None and not breaker.allow():
                self._observe(subject, "circuit_open", 0.0)
                raise last_error or CircuitOpen(max(1, math.ceil(breaker.retry_after())))
            per_try = min(cap, deadline - time.monotonic())
            sent_at = breaker.now() if breaker is not None else 0.0
            outcome, error, data = await self._attempt(subject, payload, headers, per_try, breaker)
            if error is None:
                if breaker is not None:
                    breaker.success()
                return data
            pause = policy.pause(attempt)
            again = policy.should_retry(outcome, attempt, deadline - time.monotonic() - pause)
            if breaker is not None:
                _judge(breaker, outcome, sent_at, slow=slow, retrying=again)
            last_error = error
            if not again:
                raise error
            if self.metrics is not None:
                self.metrics.retried(subject, outcome)
            await asyncio.sleep(pause)

    async def _attempt(
        self,
        subject: str,
        payload: bytes,
        headers: Mapping[str, str] | None,
        timeout: float,
        breaker: Breaker | None,
    ) -> Outcome:
        started = time.perf_counter()
        outcome, error, data = CANCELLED, None, b""
        try:
            outcome, error, data = await exchange(self.nc, subject, payload, timeout=timeout, headers=headers)
        except BaseException:
            if breaker is not None:
                breaker.release()  # cancelled: no verdict, and the probe slot is free again
            raise
        finally:
            self._observe(subject, outcome, time.perf_counter() - started)
        return outcome, error, data

    def _observe(self, subject: str, outcome: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.observe_nats(subject, outcome, seconds)

    async def ping(self, service: str) -> bool:
        """Whether at least one replica of `service` answers the micro $SRV.PING."""
        nc = self.nc
        if nc is None or not nc.is_connected:
            return False
        try:
            await nc.request(f"$SRV.PING.{service}", b"", timeout=PING_TIMEOUT)
        except (NatsError, TimeoutError):
            return False
        return True


def _judge(breaker: Breaker, outcome: str, sent_at: float, *, slow: bool, retrying: bool) -> None:
    """Tell the subject's breaker what one attempt, sent at `sent_at`, says about the subject.

    No responders says at once that nobody serves the subject. A timeout says less: one replica
    may have died with the request. While the circuit is closed, a timed-out attempt that is
    about to be retried says nothing yet; the retry, which NATS hands to another replica, tells.
    Without this, a replica frozen under a closed-loop load (every client ends up waiting on it)
    times out five requests sent after the last success and opens a circuit that its twin serves
    (tests/chaos/test_workers.py).
    """
    if outcome in _SUBJECT_FAILED and not (slow and outcome in _BUSY):
        if retrying and outcome in _BUSY and breaker.state is State.CLOSED:
            breaker.release()
        else:
            breaker.failure(sent_at)
    elif outcome in _BUSY or outcome in _NO_VERDICT:
        breaker.release()
    else:
        breaker.success()  # any reply, an error reply too: the subject is served
