"""Requests and replies of the `users.*` subjects. Imports only msgspec and the stdlib: the edge does too."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from actors.contracts.base import Message, Page, PageSize
from actors.contracts.roles import Role

Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
# Categories an address must not hold: controls, format characters (zero-width spaces and joiners,
# bidi marks, embeddings, overrides and isolates, the BOM, the soft hyphen), surrogates, private
# use, unassigned code points, and every space or line separator.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_ONE_WRITING = {"HIRAGANA": "CJK", "KATAKANA": "CJK"}  # Japanese mixes these with Han ideographs


def email_problem(email: str) -> str | None:
    """Why `email` is refused, or None. Beyond the pattern: no invisible or direction-changing
    character; the NFKC-normal spelling only (no full-width or mathematical look-alikes); no
    non-ASCII symbol; and each part (the local part, each domain label) in one script, so that a
    Cyrillic 'а' cannot pass for the Latin 'a' beside it (UTS #39's single-script restriction)."""
    if any(unicodedata.category(ch) in _HIDDEN for ch in email):
        return "must not contain invisible, control or direction-changing characters"
    if unicodedata.normalize("NFKC", email) != email:
        return "must be written in its normal form (no full-width or compatibility characters)"
    local, _, domain = email.rpartition("@")
    for part in (local, *domain.split(".")):
        scripts = set()
        for ch in part:
            if ch.isascii():
                if ch.isalpha():
                    scripts.add("LATIN")
                continue
            if unicodedata.category(ch)[0] not in "LM":
                return "must not contain symbols or punctuation outside ASCII"
            script = unicodedata.name(ch, "UNKNOWN").split()[0]
            if script in ("COMBINING", "UNKNOWN"):
                return "must not contain combining or unnamed characters"
            scripts.add(_ONE_WRITING.get(script, script))
        if len(scripts) > 1:
            return (
                f"mixes scripts ({', '.join(sorted(scripts)).lower()}) in one part: look-alikes are refused"
            )
    return None


# Characters here; the 8..72 *bytes* bcrypt allows is checked by the handler.
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Status = Literal["active", "pending", "rejected"]
SearchText = Annotated[str, msgspec.Meta(max_length=100)]


class User(Message):
    id: UUID
    email: str
    first_name: str
    last_name: str
    role: Role
    status: Status
    created_at: datetime
    # The largest principal of one loan this agent may request; None: no limit (and never set on
    # a customer or an admin). A string with two decimals on the wire.
    lending_limit: Decimal | None = None


class Signup(Message):
    email: Email
    password: Password
    first_name: Name
    last_name: Name
    role: Literal["customer", "agent"]


class SignupReply(Message):
    user: User
    access_token: str | None
    expires_in: int | None
    token_type: str = "bearer"


class Login(Message):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: Password


class LoginReply(Message):
    access_token: str
    expires_in: int
    user: User
    token_type: str = "bearer"


class Activity(Message):
    type: str
    loan_id: UUID
    status: str
    version: int
    by: UUID | None
    occurred_at: datetime


class Profile(User):
    activity: list[Activity] = []


class CreateAdmin(Message):
    email: Email
    password: Password
    first_name: Name
    last_name: Name


class ListCustomers(Message):
    page: Page = 1
    page_size: PageSize = 20
    q: SearchText | None = None


class ListUsers(Message):
    page: Page = 1
    page_size: PageSize = 20
    role: Literal["customer", "agent"] | None = None
    status: Status | None = None


class ListApprovals(Message):
    page: Page = 1
    page_size: PageSize = 20


class UserPage(Message):
    data: list[User]
    count: int
    page: int
    page_size: int


class DecideAgent(Message):
    user_id: UUID
    is_approved: bool
    # Only with is_approved true: a limit, or null for none; left out, the agent's limit stays.
    lending_limit: Decimal | msgspec.UnsetType | None = msgspec.UNSET


class SetLendingLimit(Message):
    """`users.set_lending_limit`: an agent's limit (> 0, at most two decimals), or null for none."""

    user_id: UUID
    lending_limit: Decimal | None


class DeleteAgent(Message):
    user_id: UUID


class GetUser(Message):
    user_id: UUID


NotificationType = Literal[
    "loan_approved", "loan_rejected", "repayment_due", "installment_overdue", "loan_closed"
]


class ListNotifications(Message):
    page: Page = 1
    page_size: PageSize = 20


class Notification(Message):
    """What the customer was told (and mailed); `delivered_at` None until the mail server took it."""

    id: UUID
    type: NotificationType
    loan_id: UUID
    subject: str
    body: str
    created_at: datetime
    delivered_at: datetime | None


class NotificationPage(Message):
    data: list[Notification]
    count: int
    page: int
    page_size: int


class UserRecord(User):
    """`users.get`: a user as other actors need it, deleted ones included."""

    deleted: bool = False
    version: int = 0


class UserChanged(Message):
    """The data of every `users.*` event: the user as they are after the change."""

    id: UUID
    email: str
    first_name: str
    last_name: str
    role: Role
    status: Status
    deleted: bool = False
    lending_limit: Decimal | None = None


# Events the users actor publishes (subject `<prefix>.<type>`), each with its data Struct.
EVENTS: dict[str, type[Message]] = {
    "users.user.registered": UserChanged,
    "users.agent.approved": UserChanged,
    "users.agent.rejected": UserChanged,
    "users.agent.deleted": UserChanged,
    "users.agent.limit_changed": UserChanged,
}
