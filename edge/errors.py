"""Every failure, whoever raised it, becomes one error envelope with the matching status.

Actors' error replies, the edge's own refusals (ActorError subclasses, shared with the actors),
NATS failures (already turned into ActorErrors by nats_call) and Litestar's own HTTP errors
(unknown route, wrong method, body too large) all go through `render_error`, the one table from
failure to answer: Litestar's exception handler (`exception_to_http_response`) and the fast path
(edge/fastpath.py) only put its answer into their own kind of response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import msgspec
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from opentelemetry import trace

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

    def __init__(self) -> None:
        # Litestar's words, so both paths agree
        super().__init__(413, "payload_too_large", "Request Entity Too Large")


def retry_after_of(exc: ActorError) -> int | None:
    """Seconds for the `Retry-After` header of a refusal that says when to come back: the edge's
    own, or an actor's 429/503 whose details say `retry_after` (a users worker shedding hashes)."""
    if isinstance(exc, RateLimited | CircuitOpen):
        return exc.retry_after
    hint = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
    if exc.status in (429, 503) and isinstance(hint, int) and not isinstance(hint, bool) and hint > 0:
        return hint
    return None


def error_body(code: str, message: str, details: Any = None) -> bytes:
    """The error envelope's bytes."""
    body = ErrorEnvelope(success=False, message=message, error=ErrorInfo(code=code, details=details))
    return msgspec.json.encode(body)


class ErrorAnswer(NamedTuple):
    """The HTTP answer to a failure: its status, the envelope's bytes, headers besides Content-Type."""

    status: int
    body: bytes
    headers: Mapping[str, str]


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_INTERNAL = ErrorAnswer(500, error_body("internal_error", "internal error"), _NO_HEADERS)


def render_error(exc: Exception, method: str, path: str) -> ErrorAnswer:
    """The one table from failure to HTTP answer; `method` and `path` only name the request in the log."""
    if isinstance(exc, ActorError):  # its message is safe to show, whatever the status
        retry_after = retry_after_of(exc)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else _NO_HEADERS
        return ErrorAnswer(exc.status, error_body(exc.code, exc.message, exc.details), headers)
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        # Litestar puts validation failures in `extra`; a 405 carries its Allow header.
        body = error_body(CODES.get(status, "error"), exc.detail, exc.extra or None)
        return ErrorAnswer(status, body, exc.headers or _NO_HEADERS)
    # Unexpected, or a 500 from below: log it whole, tell the caller nothing about the inside.
    log.error("%s %s failed", method, path, exc_info=exc)
    trace.get_current_span().record_exception(exc)  # the server span; it turns ERROR on the 500
    return _INTERNAL


def exception_to_http_response(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Litestar's handler for every exception type: `render_error`'s answer as a Response."""
    status, body, headers = render_error(exc, request.method, request.url.path)
    return Response(body, status_code=status, media_type=MediaType.JSON, headers=dict(headers) or None)
