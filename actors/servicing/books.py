"""An account's books: its Ledger rebuilt from the schema, and the Ledger's state written back.

A write locks the account row, rebuilds the Ledger from the installments and the repayments not
reversed, in the order they were recorded (ledger.replay), applies its change, and writes back
what the Ledger says: each installment's paid, waived and status columns (judged at the business
date), the account's sums, status, days past due and bucket. The rules are ledger.py's alone;
the SQL of the read and the write is actors/servicing/repayment_sql.py's (one statement each).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from actors.contracts import servicing as m
from actors.contracts.errors import Conflict, NotFound
from actors.runtime.db import Conn
from actors.runtime.sql import Statement
from actors.servicing import accounts, agents
from actors.servicing import ledger as money
from actors.servicing import repayment_sql as q
from actors.servicing.actor import Ctx
from actors.servicing.ledger import ZERO, Ledger, Repayment, Terms

ACCOUNT_COLUMNS = (
    "loan_id, customer_id, agent_id, principal, interest, months, start_date, status, closed_on, "
    "outstanding_principal, paid_principal, paid_interest, waived_interest, days_past_due, bucket, version, "
    "cob_date"
)
INSTALLMENT_COLUMNS = (
    "number, due_date, interest, principal, paid_interest, paid_principal, waived_interest, status"
)
GET_ACCOUNT = Statement(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE loan_id = :loan_id")
INSTALLMENTS = Statement(
    f"SELECT {INSTALLMENT_COLUMNS} FROM installments WHERE loan_id = :loan_id ORDER BY number"
)


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
    """A locked account (the read's row), its Ledger replayed, and the repayments replayed (in
    seq order) with their allocations."""

    account: asyncpg.Record
    ledger: Ledger
    repayment_ids: list[UUID]
    allocations: list[list[money.Allocation]]

    @property
    def loan_id(self) -> UUID:
        value: UUID = self.account["loan_id"]
        return value

    @property
    def business_date(self) -> date:
        value: date = self.account["business_date"]
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


def _acting(row: asyncpg.Record) -> bool:
    return bool(row["agent_status"] == "active" and not row["agent_deleted"])


@asynccontextmanager
async def writing(
    ctx: Ctx, loan_id: UUID, *, reversing: UUID | None = None
) -> AsyncIterator[tuple[Conn, Book]]:
    """The account locked (FOR UPDATE: its writes take turns) and its Book, in a transaction the
    block writes in; with `reversing`, every repayment but that one replayed (the read's row has
    it as target_*). Who may act, as accounts.readable says: an agent must be approved (their
    standing rides in the read; one not known as acting is asked of the users actor, outside the
    transaction, as agents.approved_agent does), and an account missing is opened from the loans
    actor (also outside), then read again."""
    statement = q.READ if reversing is None else q.READ_WITH_TARGET
    values: dict[str, Any] = {"loan_id": loan_id, "agent_id": None}
    if ctx.user.role == "agent":
        values["agent_id"] = ctx.user.id
    if reversing is not None:
        values["transaction_id"] = reversing
    agent_known, opened = ctx.user.role != "agent", False
    while True:
        async with ctx.pool.acquire() as con, con.transaction():
            row = await statement.fetchrow(con, **values)
            if row is not None and row["fresh"] is False:  # see repayment_sql.READ
                row = await statement.fetchrow(con, **values)  # under the lock: as new as it
            assert row is not None  # business_date has its one row
            agent_known = agent_known or _acting(row)
            if agent_known and row["loan_id"] is not None:
                if ctx.user.role == "customer" and row["customer_id"] != ctx.user.id:
                    raise NotFound("no such loan")
                yield con, _book(row, reversing)
                return
        if not agent_known:
            await agents.approved_agent(ctx)  # 403 unless the users actor says approved
            agent_known = True
        elif not opened:
            await accounts.open_from_loans(ctx, loan_id)
            opened = True
        else:  # deleted again in between: nothing a caller could do about it
            raise NotFound("no such loan")


def _book(row: asyncpg.Record, leaving_out: UUID | None) -> Book:
    """The Ledger replayed from the read's row; 409 if the repayments but `leaving_out` no
    longer fit the schedule (only a reversal leaves one out)."""
    terms = Terms(
        principal=row["principal"],
        annual_rate=row["interest"],
        start_date=row["start_date"],
        installments=tuple(
            map(money.Installment, row["numbers"], row["due_dates"], row["interests"], row["principals"])
        ),
    )
    ids: list[UUID] = row["repayment_ids"] or []
    kept = [i for i, id_ in enumerate(ids) if id_ != leaving_out]
    try:
        ledger, allocations = money.replay(
            terms, (Repayment(row["amounts"][i], row["paid_ons"][i]) for i in kept)
        )
    except (money.Overpayment, money.AccountClosed):
        raise Conflict("the other repayments would not fit the schedule without this one") from None
    return Book(row, ledger, [ids[i] for i in kept], allocations)


def books_row(book: Book, business_date: date, version: int) -> q.BooksRow:
    """The Ledger's state as the write stores it, judged at `business_date`, the account at `version`."""
    ledger = book.ledger
    days = ledger.days_past_due(business_date)
    return q.BooksRow(
        loan_id=book.loan_id,
        number=[inst.number for inst in ledger.terms.installments],
        paid_interest=ledger.paid_interest,
        paid_principal=ledger.paid_principal,
        waived_interest=ledger.waived_interest,
        installment_status=[
            ledger.status_of(i, business_date) for i in range(len(ledger.terms.installments))
        ],
        account_status="CLOSED" if ledger.closed else "ACTIVE",
        closed_on=ledger.closed_on,
        outstanding_principal=ledger.outstanding_principal,
        total_paid_principal=sum(ledger.paid_principal, ZERO),
        total_paid_interest=sum(ledger.paid_interest, ZERO),
        total_waived_interest=sum(ledger.waived_interest, ZERO),
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
