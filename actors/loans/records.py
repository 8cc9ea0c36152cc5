"""What a loan change writes besides the loan: its history row and its event data; and a new
loan, built whole before its row is written.

Pure functions of the loans actor's messages, shared with the bench's direct app (which must
write exactly what the actor writes). The statements that take these rows are in queries.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

from actors.contracts import loans as m
from actors.loans.money import Terms
from actors.loans.parties import Party
from actors.loans.queries import HistoryRow, NewLoanRow

TRACKED = ("principal", "months", "interest", "emi", "amount", "status", "start_date", "end_date")
_CENT = Decimal("0.01")
_encode = msgspec.json.Encoder().encode


def cents(value: Decimal) -> Decimal:
    """As a NUMERIC(…, 2) column gives it back (10000 → 10000.00). Values have two decimals at
    most (money.py refuses more), so nothing is rounded here."""
    return value.quantize(_CENT)


def new_loan(
    agent: Party, customer: Party, principal: Decimal, months: int, terms: Terms, now: datetime
) -> m.Loan:
    """A NEW loan exactly as its row will read back: a create answers it without reading the row."""
    return m.Loan(
        id=uuid.uuid4(),
        customer_id=customer.id,
        customer_email=customer.email,
        customer_name=customer.name,
        agent_id=agent.id,
        agent_email=agent.email,
        principal=cents(principal),
        interest=cents(terms.interest),
        months=months,
        emi=cents(terms.emi),
        amount=cents(terms.amount),
        status="NEW",
        start_date=None,
        end_date=None,
        version=1,
        created_at=now,
        modified_at=now,
    )


def _as_json(value: Any) -> str | int | None:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def changes(before: m.Loan | None, after: m.Loan) -> str:
    """The history row's `fields`: {"name": {"old": …, "new": …}} of every tracked field changed."""
    fields = {}
    for name in TRACKED:
        old = _as_json(getattr(before, name)) if before is not None else None
        new = _as_json(getattr(after, name))
        if old != new:
            fields[name] = {"old": old, "new": new}
    return _encode(fields).decode()


def event_data(loan: m.Loan, by: uuid.UUID, schedule: list[m.ScheduleRow] | None = None) -> m.LoanChanged:
    """What a loan event says: the loan as the change left it, and who changed it (and, for an
    approval, its schedule with due dates)."""
    return m.LoanChanged(
        loan_id=loan.id,
        customer_id=loan.customer_id,
        agent_id=loan.agent_id,
        status=loan.status,
        principal=loan.principal,
        interest=loan.interest,
        months=loan.months,
        emi=loan.emi,
        amount=loan.amount,
        start_date=loan.start_date,
        end_date=loan.end_date,
        by=by,
        schedule=schedule,
    )


def history_row(change: str, before: m.Loan, after: m.Loan, by: uuid.UUID) -> HistoryRow:
    """The history row of a decision or an edit (queries.record_change)."""
    return HistoryRow(
        loan_id=after.id,
        version=after.version,
        change=change,
        changed_by=by,
        changed_at=after.modified_at,
        fields=changes(before, after),
    )


def new_loan_row(loan: m.Loan) -> NewLoanRow:
    """What queries.create_loan writes of a new loan besides its event."""
    return NewLoanRow(
        id=loan.id,
        customer_id=loan.customer_id,
        customer_email=loan.customer_email,
        customer_name=loan.customer_name,
        agent_id=loan.agent_id,
        agent_email=loan.agent_email,
        principal=loan.principal,
        interest=loan.interest,
        months=loan.months,
        emi=loan.emi,
        amount=loan.amount,
        created_at=loan.created_at,
        fields=changes(None, loan),
    )
