"""Message pieces shared by every actor: the base Struct and paging. Imports only msgspec."""

from __future__ import annotations

from typing import Annotated

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every request and reply: frozen; new fields get defaults.

    `frozen` is inherited by subclasses, `kw_only` is not (msgspec applies it per class): a
    required field must come before the fields with defaults.
    """


# Pages 1..100 of at most 100 rows: never more than 10,000 rows deep. A deep OFFSET makes Postgres
# read and drop every row before it; past the cap, narrow the list with its filters instead.
MAX_PAGE = 100
Page = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)]
PageSize = Annotated[int, msgspec.Meta(ge=1, le=100)]


class Empty(Message):
    """A request with nothing in it but the caller's token."""


class ErrorReply(Message):
    """The body of every error reply (status in the Nats-Service-Error-Code header)."""

    code: str
    message: str
    details: object = None
