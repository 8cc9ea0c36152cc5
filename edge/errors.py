"""Every failure, whoever raised it, becomes one error envelope with the matching status.

Actors' error replies, the edge's own refusals (ActorError subclasses, shared with the actors),
NATS failures (already turned into ActorErrors by nats_call) and Litestar's own HTTP errors
(unknown route, wrong method, body too large) all go through `exception_to_http_response`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from opentelemetry import trace

from actors.contracts.base import ErrorReply
from actors.contracts.errors import ActorError, TooManyRequests, Unavailable

log = logging.getLogger("edge.errors")

# The machine code for a status when nobody more specific named one (api.md, "Envelope").
CODES = {
    400: "validation_error",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
    504: "timeout",
}


class ErrorInfo(msgspec.Struct, frozen=True):
    code: str
    details: Any = None


class ErrorEnvelope(msgspec.Struct, frozen=True):
    """The body of every error answer; also what the OpenAPI document shows for errors."""

    success: bool
    message: str
    error: ErrorInfo


class RateLimited(TooManyRequests):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class CircuitOpen(Unavailable):
    """The edge's breaker refuses a subject that keeps failing (edge/breaker.py)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("the service is temporarily unavailable (circuit open)")
        self.retry_after = retry_after


class PayloadTooLarge(ActorError):
    """A body over the edge's limit (the fast path's; Litestar raises its own for the rest)."""

    status, code = 413, "payload_too_large"

    def __init__(self) -> None:
        super().__init__("Request Entity Too Large")  # Litestar's words, so both paths agree


def retry_after_of(exc: ActorError) -> int | None:
    """Seconds for the `Retry-After` header of a refusal that says when to come back."""
    return exc.retry_after if isinstance(exc, RateLimited | CircuitOpen) else None


_reply_decoder = msgspec.json.Decoder(ErrorReply)


def error_from_reply(status: str, description: str | None, body: bytes) -> ActorError:
    """An actor's micro error reply (status header, description header, JSON body) as an exception."""
    try:
        code_number = int(status)
    except ValueError:
        code_number = 500
    if not 400 <= code_number <= 599:
        code_number = 500
    try:
        reply = _reply_decoder.decode(body)
        code, message, details = reply.code, reply.message, reply.details
    except msgspec.MsgspecError:
        code, message, details = CODES.get(code_number, "error"), description or "request failed", None
    error = ActorError(message, code=code, details=details)
    error.status = code_number
    return error


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        content=error_body(code, message, details),
        media_type=MediaType.JSON,
        status_code=status,
        headers=dict(headers) if headers else None,
    )


def error_body(code: str, message: str, details: Any = None) -> bytes:
    """The error envelope's bytes."""
    body = ErrorEnvelope(success=False, message=message, error=ErrorInfo(code=code, details=details))
    return msgspec.json.encode(body)


def exception_to_http_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """The one table from failure to HTTP answer (registered for every exception type)."""
    if isinstance(exc, ActorError):  # its message is safe to show, whatever the status
        retry_after = retry_after_of(exc)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        # Litestar puts validation failures in `extra`; a 405 carries its Allow header.
        return error_response(status, CODES.get(status, "error"), exc.detail, exc.extra or None, exc.headers)
    # Unexpected, or a 500 from below: log it whole, tell the caller nothing about the inside.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    trace.get_current_span().record_exception(exc)  # the server span; it turns ERROR on the 500
    return error_response(500, "internal_error", "internal error")
