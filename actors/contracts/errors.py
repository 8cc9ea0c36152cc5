"""Domain errors an actor answers with; the runtime turns each into a micro error reply."""

from __future__ import annotations

from typing import Any


class ActorError(Exception):
    """An expected failure: its status, code and message are safe to show the caller."""

    def __init__(self, status: int, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class _FixedStatus(ActorError):
    """An ActorError whose class fixes the status and names the usual code, so call sites say
    only what went wrong: `raise NotFound("no such loan")`; `code=` may name a more specific one."""

    status: int
    code: str

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        kind = type(self)
        super().__init__(kind.status, kind.code if code is None else code, message, details=details)


class BadRequest(_FixedStatus):
    status, code = 400, "validation_error"


class Unauthenticated(_FixedStatus):
    status, code = 401, "unauthenticated"


class Forbidden(_FixedStatus):
    status, code = 403, "forbidden"


class NotFound(_FixedStatus):
    status, code = 404, "not_found"


class Conflict(_FixedStatus):
    status, code = 409, "conflict"


class TooManyRequests(_FixedStatus):
    status, code = 429, "rate_limited"


class Unavailable(_FixedStatus):
    status, code = 503, "service_unavailable"


class DeadlineExceeded(_FixedStatus):
    status, code = 504, "timeout"


class Replay(Exception):
    """Not an error: the request was answered before (same Idempotency-Key); send that answer."""

    def __init__(self, reply: bytes) -> None:
        super().__init__("replayed")
        self.reply = reply
