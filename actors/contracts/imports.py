"""Requests and replies of the import subjects (`users.import_batch`, `loans.import_batch`), and the
ids of imported records (design.md §13). Imports only msgspec and the stdlib: the edge maps old
integer ids with these too.

An imported record's id is uuid5 of its legacy id, so the importer, the actors and the edge all
derive the same id from `17`, a run repeated or resumed writes each record once, and a record made
here (uuid4) can never be taken for an imported one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from actors.contracts.base import Message
from actors.contracts.roles import Role

# Fixed for ever: changing it would give every imported record a second id.
LEGACY_NAMESPACE = uuid.UUID("6f1d3c52-9a4e-5b8f-8c2d-1e0f4a7b9c3d")
# `changed_by` of history rows no person made: the import's own row, and monolith changes whose
# `history_user` is null (a shell, a data migration).
IMPORT_ACTOR = uuid.uuid5(LEGACY_NAMESPACE, "import")
MAX_BATCH = 1000


def legacy_user_id(legacy_id: int) -> uuid.UUID:
    return uuid.uuid5(LEGACY_NAMESPACE, f"user:{legacy_id}")


def legacy_loan_id(legacy_id: int) -> uuid.UUID:
    return uuid.uuid5(LEGACY_NAMESPACE, f"loan:{legacy_id}")


class ImportedUser(Message):
    legacy_id: int
    email: str
    # The monolith's hash as Django stored it (`pbkdf2_sha256$…`); the first login replaces it.
    password_hash: str
    first_name: str
    last_name: str
    role: Role
    status: Literal["active", "pending", "rejected"]
    created_at: datetime
    deleted: bool = False  # Django's is_active false: kept, and cannot log in


class ImportUsers(Message):
    """`users.import_batch`: users written once each (ids from legacy ids), with their events."""

    users: list[ImportedUser]


class Refused(Message):
    legacy_id: int
    reason: str


class ImportReply(Message):
    """Legacy ids written now, found written before, and refused (with why); `principal`: the sum
    over the loans now stored of those sent (inserted or present), as the actor reads it back."""

    inserted: list[int]
    present: list[int]
    refused: list[Refused] = []
    principal: Decimal = Decimal("0.00")


class ImportedChange(Message):
    """One row of the monolith's HistoricalLoan, money already rounded to cents."""

    change: Literal["created", "edited", "approved", "rejected"]
    changed_by: uuid.UUID
    changed_at: datetime
    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    status: str
    start_date: date | None
    end_date: date | None


class ImportedLoan(Message):
    """A loan as the import writes it: its terms recomputed by the rules here (the monolith's own
    figures, where they differ, are in `monolith`, and go into the loan's history)."""

    legacy_id: int
    customer_id: uuid.UUID
    customer_email: str
    customer_name: str
    agent_id: uuid.UUID
    agent_email: str
    principal: Decimal
    interest: Decimal
    months: int
    status: Literal["NEW", "APPROVED", "REJECTED"]
    start_date: date | None
    created_at: datetime
    modified_at: datetime
    history: list[ImportedChange] = []
    # The monolith's own figures (emi, amount, start and end dates, …) as history fields spell
    # them: the `imported` history row keeps each that differs from the loan's
    monolith: dict[str, str | None] = {}


class ImportLoans(Message):
    """`loans.import_batch`: loans and their history written once each, with their events."""

    loans: list[ImportedLoan]
