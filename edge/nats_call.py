"""The edge's side of NATS request-reply: headers, deadline, and every failure as an ActorError."""

from __future__ import annotations

import time
from collections.abc import Mapping

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from actors.errors import DeadlineExceeded, Unavailable
from actors.runtime import DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from edge.errors import error_from_reply

PING_TIMEOUT = 0.5  # seconds: /ready must answer fast even when an actor is gone


class Bus:
    """Sends requests on one NATS connection, which may arrive after the edge has started."""

    def __init__(self, timeout: float, nc: Client | None = None) -> None:
        self.timeout = timeout
        self.nc = nc

    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def request(
        self, subject: str, payload: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> bytes:
        """The reply body of a success; raises ActorError for an error reply or a NATS failure."""
        nc = self.nc
        # While disconnected nats-py would buffer the request and let it time out: refuse at once.
        if nc is None or not nc.is_connected:
            raise Unavailable("the service is temporarily unavailable (message bus not connected)")
        sent = {**(headers or {}), DEADLINE_HEADER: str(int((time.time() + self.timeout) * 1000))}
        try:
            msg = await nc.request(subject, payload, timeout=self.timeout, headers=sent)
        except NoRespondersError:
            raise Unavailable("the service is temporarily unavailable (no worker answers)") from None
        except TimeoutError:  # nats.errors.TimeoutError is one
            raise DeadlineExceeded("the service did not answer in time") from None
        except NatsError:  # closed, reconnecting, buffer full: the bus is not usable right now
            raise Unavailable("the service is temporarily unavailable") from None
        reply_headers = msg.headers or {}
        # nc.request does not raise on an error reply: the micro error headers say it failed.
        status = reply_headers.get(ERROR_CODE_HEADER)
        if status:
            raise error_from_reply(status, reply_headers.get(ERROR_HEADER), msg.data)
        return msg.data

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
