"""The edge's side of NATS request-reply: headers, deadline, and every failure as an ActorError."""

from __future__ import annotations

import time
from collections.abc import Mapping

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from opentelemetry.trace import Span

from actors.errors import ActorError, DeadlineExceeded, Unavailable
from actors.runtime import DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from edge.errors import error_from_reply
from edge.metrics import EdgeMetrics
from otel import spans
from otel.setup import enabled as tracing

PING_TIMEOUT = 0.5  # seconds: /ready must answer fast even when an actor is gone
NOT_CONNECTED = "the service is temporarily unavailable (message bus not connected)"
NO_WORKER = "the service is temporarily unavailable (no worker answers)"


class Bus:
    """Sends requests on one NATS connection, which may arrive after the edge has started."""

    def __init__(self, timeout: float, nc: Client | None = None, metrics: EdgeMetrics | None = None) -> None:
        self.timeout = timeout
        self.nc = nc
        self.metrics = metrics

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def request(
        self, subject: str, payload: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> bytes:
        """The reply body of a success; raises ActorError for an error reply or a NATS failure."""
        sent = {**(headers or {}), DEADLINE_HEADER: str(int((time.time() + self.timeout) * 1000))}
        # With tracing on, the client span's context replaces a traceparent forwarded from the
        # HTTP client (the edge's server span has continued that trace already).
        span = spans.nats_client(subject, sent) if tracing() else None
        started = time.perf_counter()
        outcome, error, data = "cancelled", None, b""
        try:
            outcome, error, data = await self._exchange(subject, payload, sent)
        finally:
            if self.metrics is not None:
                self.metrics.observe_nats(subject, outcome, time.perf_counter() - started)
            if span is not None:
                _finish(span, outcome, error)
        if error is not None:
            raise error
        return data

    async def _exchange(
        self, subject: str, payload: bytes, sent: dict[str, str]
    ) -> tuple[str, ActorError | None, bytes]:
        """(outcome, the error to raise or None, the reply body) of one request."""
        nc = self.nc
        # While disconnected nats-py would buffer the request and let it time out: refuse at once.
        if nc is None or not nc.is_connected:
            return "unavailable", Unavailable(NOT_CONNECTED), b""
        try:
            msg = await nc.request(subject, payload, timeout=self.timeout, headers=sent)
        except NoRespondersError:
            return "no_responders", Unavailable(NO_WORKER), b""
        except TimeoutError:  # nats.errors.TimeoutError is one
            return "timeout", DeadlineExceeded("the service did not answer in time"), b""
        except NatsError:  # closed, reconnecting, buffer full: the bus is not usable right now
            return "unavailable", Unavailable("the service is temporarily unavailable"), b""
        reply_headers = msg.headers or {}
        # nc.request does not raise on an error reply: the micro error headers say it failed.
        status = reply_headers.get(ERROR_CODE_HEADER)
        if status:
            return status, error_from_reply(status, reply_headers.get(ERROR_HEADER), msg.data), b""
        return "ok", None, msg.data

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


def _finish(span: Span, outcome: str, error: ActorError | None) -> None:
    if error is not None:
        if error.status < 500:
            spans.refused(span, error.status, error.code)
        else:
            spans.failed(span, error.status, None, outcome)
    span.end()
