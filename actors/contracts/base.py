"""Message pieces shared by every actor: the base Struct and paging. Imports only msgspec."""

from __future__ import annotations

from typing import Annotated

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every request and reply: frozen; new fields get defaults.

    `frozen` is inherited by subclasses, `kw_only` is not (msgspec applies it per class): a
    required field must come before the fields with defaults.
    """


Page = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
PageSize = Annotated[int, msgspec.Meta(ge=1, le=100)]


class Empty(Message):
    """A request with nothing in it but the caller's token."""


class ErrorReply(Message):
    """The body of every error reply (status in the Nats-Service-Error-Code header)."""

    code: str
    message: str
    details: object = None
