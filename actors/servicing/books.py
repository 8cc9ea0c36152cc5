"""An account's books: its Ledger rebuilt from the schema, and the Ledger's state written back.

A write locks the account row, rebuilds the Ledger from the installments and the repayments not
reversed, in the order they were recorded (ledger.replay), applies its change, and writes back
what the Ledger says: each installment's paid, waived and status columns (judged at the business
date), the account's sums, status, days past due and bucket. The rules are ledger.py's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import asyncpg
import msgspec

from actors.contracts import servicing as m
from actors.contracts.errors import NotFound
from actors.runtime.db import Conn
from actors.runtime.sql import Statement
from actors.servicing import ledger as money
from actors.servicing.ledger import ZERO, Ledger, Repayment, Terms

ACCOUNT_COLUMNS = (
    "loan_id, customer_id, agent_id, principal, interest, months, start_date, status, closed_on, "
    "outstanding_principal, paid_principal, paid_interest, waived_interest, days_past_due, bucket, version, "
    "cob_date"
)
INSTALLMENT_COLUMNS = (
    "number, due_date, interest, principal, paid_interest, paid_principal, waived_interest, status"
)
_LOCK_ACCOUNT = Statement(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE loan_id = :loan_id FOR UPDATE")
GET_ACCOUNT = Statement(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE loan_id = :loan_id")
INSTALLMENTS = Statement(
    f"SELECT {INSTALLMENT_COLUMNS} FROM installments WHERE loan_id = :loan_id ORDER BY number"
)
_REPAYMENTS = Statement(
    "SELECT id, amount, paid_on FROM transactions WHERE loan_id = :loan_id AND NOT reversed ORDER BY seq"
)
# Only the installments whose columns change are written (a repayment touches one or two of 480).
_SAVE_INSTALLMENTS = Statement("""
UPDATE installments AS i
SET paid_interest = u.paid_interest, paid_principal = u.paid_principal,
    waived_interest = u.waived_interest, status = u.status
FROM unnest(:number::integer[], :paid_interest::numeric[], :paid_principal::numeric[],
            :waived_interest::numeric[], :status::text[])
     AS u(number, paid_interest, paid_principal, waived_interest, status)
WHERE i.loan_id = :loan_id AND i.number = u.number
  AND (i.paid_interest, i.paid_principal, i.waived_interest, i.status)
      IS DISTINCT FROM (u.paid_interest, u.paid_principal, u.waived_interest, u.status)""")
_SAVE_ACCOUNT = Statement("""
UPDATE accounts
SET status = :status, closed_on = :closed_on, outstanding_principal = :outstanding_principal,
    paid_principal = :paid_principal, paid_interest = :paid_interest,
    waived_interest = :waived_interest, days_past_due = :days_past_due, bucket = :bucket,
    version = :version, updated_at = now()
WHERE loan_id = :loan_id""")


def terms_of(account: asyncpg.Record, installments: list[asyncpg.Record]) -> Terms:
    return Terms(
        principal=account["principal"],
        annual_rate=account["interest"],
        start_date=account["start_date"],
        installments=tuple(
            money.Installment(r["number"], r["due_date"], r["interest"], r["principal"]) for r in installments
        ),
    )


def stored_ledger(account: asyncpg.Record, installments: list[asyncpg.Record]) -> Ledger:
    """The Ledger as the columns hold it (what the last write left): for reads, no replay."""
    return Ledger(
        terms_of(account, installments),
        paid_interest=[r["paid_interest"] for r in installments],
        paid_principal=[r["paid_principal"] for r in installments],
        waived_interest=[r["waived_interest"] for r in installments],
        closed_on=account["closed_on"],
    )


@dataclass
class Book:
    """A locked account, its Ledger replayed, and the repayments replayed (in seq order)."""

    account: asyncpg.Record
    ledger: Ledger
    repayment_ids: list[UUID]
    allocations: list[list[money.Allocation]]

    @property
    def loan_id(self) -> UUID:
        value: UUID = self.account["loan_id"]
        return value

    def judged_at(self, business_date: date) -> date:
        """The date a write judges the account at: the business date, or the date of the COB run
        that has judged it already while its other batches are still going (the business date
        moves with the run's last batch; judging at the older date would undo this account's
        step, and the run would not come back to it)."""
        cob_date: date | None = self.account["cob_date"]
        return max(business_date, cob_date) if cob_date is not None else business_date

    @property
    def version(self) -> int:
        value: int = self.account["version"]
        return value


async def locked(con: Conn, loan_id: UUID, *, leaving_out: UUID | None = None) -> Book:
    """Lock the account row (FOR UPDATE: its writes take turns) and replay its repayments, all
    but `leaving_out`. ledger.Overpayment / AccountClosed if those no longer fit the schedule."""
    account = await _LOCK_ACCOUNT.fetchrow(con, loan_id=loan_id)
    if account is None:
        raise NotFound("no such loan")
    installments = await INSTALLMENTS.fetch(con, loan_id=loan_id)
    repayments = [r for r in await _REPAYMENTS.fetch(con, loan_id=loan_id) if r["id"] != leaving_out]
    ledger, allocations = money.replay(
        terms_of(account, installments), (Repayment(r["amount"], r["paid_on"]) for r in repayments)
    )
    return Book(account, ledger, [r["id"] for r in repayments], allocations)


async def save(con: Conn, book: Book, business_date: date, version: int) -> None:
    """Write the Ledger's state back, judged at `business_date`, the account at `version`."""
    ledger = book.ledger
    n = len(ledger.terms.installments)
    await _SAVE_INSTALLMENTS.execute(
        con,
        loan_id=book.loan_id,
        number=[inst.number for inst in ledger.terms.installments],
        paid_interest=ledger.paid_interest,
        paid_principal=ledger.paid_principal,
        waived_interest=ledger.waived_interest,
        status=[ledger.status_of(i, business_date) for i in range(n)],
    )
    days = ledger.days_past_due(business_date)
    await _SAVE_ACCOUNT.execute(
        con,
        loan_id=book.loan_id,
        status="CLOSED" if ledger.closed else "ACTIVE",
        closed_on=ledger.closed_on,
        outstanding_principal=ledger.outstanding_principal,
        paid_principal=sum(ledger.paid_principal, ZERO),
        paid_interest=sum(ledger.paid_interest, ZERO),
        waived_interest=sum(ledger.waived_interest, ZERO),
        days_past_due=days,
        bucket=money.bucket(days),
        version=version,
    )


def changed(
    book: Book, business_date: date, by: UUID, transaction: m.Transaction, reason: str | None = None
) -> m.AccountChanged:
    """An event's data: the account as the Ledger now stands, and the transaction that changed it."""
    ledger = book.ledger
    return m.AccountChanged(
        loan_id=book.loan_id,
        customer_id=book.account["customer_id"],
        agent_id=book.account["agent_id"],
        status="CLOSED" if ledger.closed else "ACTIVE",
        business_date=business_date,
        outstanding_principal=ledger.outstanding_principal,
        by=by,
        closed_on=ledger.closed_on,
        transaction_id=transaction.id,
        amount=transaction.amount,
        paid_on=transaction.paid_on,
        reason=reason,
    )


_encode = msgspec.json.Encoder().encode


def allocation_json(allocations: list[money.Allocation]) -> str:
    """A transaction's `allocation` column: [{"installment", "interest", "principal"}], money as text."""
    return _encode(
        [
            m.Allocation(installment=a.installment, interest=a.interest, principal=a.principal)
            for a in allocations
        ]
    ).decode()
