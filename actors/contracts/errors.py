"""Domain errors an actor answers with; the runtime turns each into a micro error reply."""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """An expected failure: its status, code and message are safe to show the caller."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class BadRequest(ActorError):
    status, code = 400, "validation_error"


class Unauthenticated(ActorError):
    status, code = 401, "unauthenticated"


class Forbidden(ActorError):
    status, code = 403, "forbidden"


class NotFound(ActorError):
    status, code = 404, "not_found"


class Conflict(ActorError):
    status, code = 409, "conflict"


class TooManyRequests(ActorError):
    status, code = 429, "rate_limited"


class Unavailable(ActorError):
    status, code = 503, "service_unavailable"


class DeadlineExceeded(ActorError):
    status, code = 504, "timeout"


class Replay(Exception):
    """Not an error: the request was answered before (same Idempotency-Key); send that answer."""

    def __init__(self, reply: bytes) -> None:
        super().__init__("replayed")
        self.reply = reply
