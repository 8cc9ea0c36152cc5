"""Notifications: what the customer of a loan is told, recorded once per event by the users actor's
consumers (a decision from the loans actor; a repayment due soon, an overdue installment and the
payoff from the servicing actor), listed at GET /api/user/notifications and mailed by
actors/users/mailer.py (design.md §12)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import msgspec

from actors.contracts import users as m
from actors.contracts.envelope import Envelope
from actors.contracts.loans import LoanChanged
from actors.contracts.servicing import AccountChanged
from actors.runtime.db import Conn
from actors.users.queries import NotificationRow, insert_notifications
from actors.users.templates import render

# The events that notify, each with the kind its notification is recorded under.
LOAN_KINDS = {"loans.loan.approved": "loan_approved", "loans.loan.rejected": "loan_rejected"}
SERVICING_KINDS = {
    "servicing.repayment.due": "repayment_due",
    "servicing.installment.overdue": "installment_overdue",
    "servicing.loan.closed": "loan_closed",
}


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _row(
    event: Envelope, customer_id: uuid.UUID, loan_id: uuid.UUID, kind: str, facts: dict[str, str]
) -> NotificationRow:
    return NotificationRow(
        id=uuid.uuid4(),
        event_id=event.id,
        user_id=customer_id,
        loan_id=loan_id,
        kind=kind,
        facts=msgspec.json.encode(facts).decode(),
    )


def for_loan_event(event: Envelope, loan: LoanChanged) -> NotificationRow | None:
    """A decision tells the customer the terms decided on; other loan events tell nothing."""
    kind = LOAN_KINDS.get(event.type)
    if kind is None or loan.imported:  # a decision imported from the monolith was told long ago
        return None
    facts = {"principal": _money(loan.principal), "months": str(loan.months), "emi": _money(loan.emi)}
    return _row(event, loan.customer_id, loan.loan_id, kind, facts)


def for_servicing_event(event: Envelope, account: AccountChanged) -> NotificationRow | None:
    """A reminder, an overdue installment or the payoff tells the customer what it is about."""
    kind = SERVICING_KINDS.get(event.type)
    if kind is None:
        return None
    facts: dict[str, str] = {}
    if account.installment is not None:
        facts["installment"] = str(account.installment)
    if account.due_date is not None:
        facts["due_date"] = account.due_date.isoformat()
    if account.amount is not None:
        facts["amount"] = _money(account.amount)
    if account.closed_on is not None:
        facts["closed_on"] = account.closed_on.isoformat()
    return _row(event, account.customer_id, account.loan_id, kind, facts)


async def record(con: Conn, rows: list[NotificationRow]) -> None:
    """Insert a batch's notifications in one statement, in the consumer's transaction."""
    if rows:
        await con.execute(insert_notifications.sql, *insert_notifications.columns_of(rows))


_facts = msgspec.json.Decoder(dict[str, str])


def to_notification(row: asyncpg.Record) -> m.Notification:
    text = render(row["kind"], row["loan_id"], _facts.decode(row["facts"]))
    return m.Notification(
        id=row["id"],
        type=row["kind"],
        loan_id=row["loan_id"],
        subject=text.subject,
        body=text.text,
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )
