"""Sessions: logout, password change, disabled admins, and the revocations every component holds.

Imports only msgspec and the stdlib: the edge and every actor decode these (design.md §16).
A revocation is one of two kinds: one token (its `jti`, refused until it expires: a logout), or
every token of a user issued before a moment (a password change, a disabled admin).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from actors.contracts.base import Message
from actors.contracts.users import Password, User

# The core NATS subject the users actor announces each new revocation on (not JetStream: the
# other actors' consumers of `events.users.>` expect a user in every event). A component that was
# not listening catches up from `users.revocations`, at start, on reconnect and periodically.
REVOCATIONS_CHANGED = "users.revocations.changed"
REVOCATIONS_SUBJECT = "users.revocations"


class RevokedToken(Message):
    """One token refused until it would have expired anyway."""

    jti: str
    user_id: UUID
    expires_at: datetime


class RevokedUser(Message):
    """Every token of `user_id` issued before `tokens_before` is refused."""

    user_id: UUID
    tokens_before: datetime


class Revocations(Message):
    """A set of revocations: the whole current list (`users.revocations`) or one new one."""

    tokens: list[RevokedToken] = []
    users: list[RevokedUser] = []


class LoggedOut(Message):
    """`users.logout`: the caller's token is refused from now until it expires."""

    jti: str
    expires_at: datetime


class ChangePassword(Message):
    current_password: Password
    new_password: Password


class PasswordChanged(Message):
    """Every older token of the user is refused; this one, issued after the change, works."""

    access_token: str
    expires_in: int
    token_type: str = "bearer"


class SetAdminDisabled(Message):
    user_id: UUID
    disabled: bool


class AdminStatus(Message):
    """An admin and whether they are disabled (a disabled admin cannot log in)."""

    user: User
    disabled: bool
    disabled_at: datetime | None = None
