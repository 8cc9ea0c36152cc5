"""The one NATS request client: the edge, the actors and the `loans` tool all send through it.

It sets the caller's deadline (`Loans-Deadline`) and bearer token, carries the trace (a CLIENT span
`send <subject>` whose context goes on the wire, when tracing is on), and turns every outcome into
the reply body or an ActorError: an error reply into the ActorError of its status, with the code,
message and details its body names; no responders or a bus that is down into Unavailable; no reply
in time into DeadlineExceeded. `exchange` also says which outcome it was, for callers with a
policy of their own (the edge's retries, breakers and metrics: edge/nats_call.py).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

import msgspec
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from opentelemetry.trace import Span

from actors.contracts.base import ErrorReply
from actors.contracts.errors import (
    ActorError,
    BadRequest,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
)
from actors.contracts.headers import AUTHORIZATION_HEADER, DEADLINE_HEADER, ERROR_CODE_HEADER, ERROR_HEADER
from otel import spans
from otel.setup import enabled as tracing

# The outcome of one exchange: these, or an error reply's status ("404", "503", ...).
OK = "ok"
NO_RESPONDERS = "no_responders"  # nobody serves the subject
TIMEOUT = "timeout"  # no reply before the deadline
UNAVAILABLE = "unavailable"  # the bus is not connected: the request never left
CANCELLED = "cancelled"  # the caller stopped waiting (only metrics and spans see it)

NOT_CONNECTED = "the service is temporarily unavailable (message bus not connected)"
NO_WORKER = "the service is temporarily unavailable (no worker answers)"

Outcome = tuple[str, ActorError | None, bytes]


class _ErrorKind(Protocol):
    """An ActorError class that fixes its status (NotFound, Conflict, ...)."""

    def __call__(self, message: str, *, code: str | None = None, details: Any = None) -> ActorError: ...


_BY_STATUS: dict[int, _ErrorKind] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    429: TooManyRequests,
    503: Unavailable,
    504: DeadlineExceeded,
}
_reply_decoder = msgspec.json.Decoder(ErrorReply)


async def request(
    nc: Client | None,
    subject: str,
    body: bytes = b"",
    *,
    timeout: float,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The reply body of a success; raises the ActorError that any other outcome is."""
    _, error, data = await exchange(nc, subject, body, timeout=timeout, token=token, headers=headers)
    if error is not None:
        raise error
    return data


def exchange(
    nc: Client | None,
    subject: str,
    body: bytes = b"",
    *,
    timeout: float,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Coroutine[Any, Any, Outcome]:
    """(outcome, the ActorError it is or None, the reply body) of one request of `timeout` seconds.

    The body is an error reply's too, as it came (`loans request` prints it). `headers` are sent
    along; the deadline, the token and the trace context are set over any of the same name.
    Awaited at once: a plain function handing back the one coroutine that sends, because the
    edge's fast path sends every request through here and a coroutine more is a cost per request.
    """
    # One dict per request, built once.
    deadline = str(int((time.time() + timeout) * 1000))
    sent = {**headers, DEADLINE_HEADER: deadline} if headers else {DEADLINE_HEADER: deadline}
    if token:
        sent[AUTHORIZATION_HEADER] = f"Bearer {token}"
    if tracing():
        return _traced(nc, subject, body, sent, timeout)
    return _send(nc, subject, body, sent, timeout)


async def _traced(
    nc: Client | None, subject: str, body: bytes, sent: dict[str, str], timeout: float
) -> Outcome:
    # The client span's context replaces a traceparent in `headers` (one the edge forwarded from
    # the HTTP client: the edge's server span has continued that trace already).
    span = spans.nats_client(subject, sent)
    outcome: Outcome = (CANCELLED, None, b"")
    try:
        outcome = await _send(nc, subject, body, sent, timeout)
    finally:
        _finish(span, outcome[0], outcome[1])
    return outcome


async def _send(
    nc: Client | None, subject: str, body: bytes, sent: dict[str, str], timeout: float
) -> Outcome:
    # While disconnected nats-py would buffer the request and let it time out: refuse at once.
    if nc is None or not nc.is_connected:
        return UNAVAILABLE, Unavailable(NOT_CONNECTED), b""
    try:
        msg = await nc.request(subject, body, timeout=timeout, headers=sent)
    except NoRespondersError:
        return NO_RESPONDERS, Unavailable(NO_WORKER), b""
    except TimeoutError:  # nats.errors.TimeoutError is one
        return TIMEOUT, DeadlineExceeded("the service did not answer in time"), b""
    except NatsError:  # closed, reconnecting, buffer full: the bus is not usable right now
        return UNAVAILABLE, Unavailable("the service is temporarily unavailable"), b""
    # nc.request does not raise on an error reply: the micro error headers say it failed.
    reply_headers = msg.headers
    if reply_headers:
        status = reply_headers.get(ERROR_CODE_HEADER)
        if status:
            return status, error_from_reply(status, reply_headers.get(ERROR_HEADER), msg.data), msg.data
    return OK, None, msg.data


def error_from_reply(status: str, description: str | None, body: bytes) -> ActorError:
    """An actor's micro error reply (status header, description header, JSON body) as the
    ActorError of its status (NotFound for a 404, ...); a status that is no HTTP error is a 500."""
    try:
        code_number = int(status)
    except ValueError:
        code_number = 500
    if not 400 <= code_number <= 599:
        code_number = 500
    code: str | None
    try:
        reply = _reply_decoder.decode(body)
        code, message, details = reply.code, reply.message, reply.details
    except msgspec.MsgspecError:  # not the runtime's reply body: the headers say what they can
        code, message, details = None, description or "request failed", None
    kind = _BY_STATUS.get(code_number)
    if kind is not None:
        return kind(message, code=code, details=details)  # no code: the kind's usual one
    if code is None:
        code = "internal_error" if code_number == 500 else "error"
    return ActorError(code_number, code, message, details=details)


def _finish(span: Span, outcome: str, error: ActorError | None) -> None:
    if error is not None:
        if error.status < 500:
            spans.refused(span, error.status, error.code)
        else:
            spans.failed(span, error.status, None, outcome)
    span.end()
