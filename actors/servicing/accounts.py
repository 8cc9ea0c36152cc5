"""Accounts: opened from `loans.loan.approved` (the event carries the schedule), or from the loans
actor's answers when a request names an approved loan whose event has not landed yet; and who
may see which.

Both ways insert the account with ON CONFLICT DO NOTHING: they may race, and they write the same
rows (both are the approved loan's terms and schedule), so whichever commits first wins and the
other is a no-op. An account's installments are written in the transaction that inserted it, and
only by it: one that found the account there writes none.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import asyncpg
import msgspec

from actors.bus.client import request
from actors.contracts import loans as lm
from actors.contracts.envelope import Envelope, data_as
from actors.contracts.errors import Conflict, NotFound
from actors.runtime.db import Conn
from actors.runtime.sql import Statement
from actors.servicing import agents
from actors.servicing.actor import Ctx, ServicingState, actor

log = logging.getLogger("actors.servicing.accounts")
_LOOKUP_TIMEOUT = 2.0
_decode_loan = msgspec.json.Decoder(lm.Loan).decode
_decode_schedule = msgspec.json.Decoder(lm.Schedule).decode


class AccountRow(NamedTuple):
    loan_id: UUID
    customer_id: UUID
    agent_id: UUID
    principal: Decimal
    interest: Decimal  # annual %
    months: int
    start_date: date | None


class InstallmentRow(NamedTuple):
    loan_id: UUID
    number: int
    due_date: date | None
    interest: Decimal
    principal: Decimal


# ORDER BY the key: two writers opening overlapping sets take the row locks in one order.
_OPEN_ACCOUNTS = Statement(
    """
INSERT INTO accounts (loan_id, customer_id, agent_id, principal, interest, months, start_date,
                      outstanding_principal)
SELECT a.*, a.principal
FROM unnest(:loan_id::uuid[], :customer_id::uuid[], :agent_id::uuid[], :principal::numeric[],
            :interest::numeric[], :months::integer[], :start_date::date[])
     AS a(loan_id, customer_id, agent_id, principal, interest, months, start_date)
ORDER BY a.loan_id
ON CONFLICT (loan_id) DO NOTHING
RETURNING loan_id""",
    AccountRow,
)
# No ON CONFLICT: written only for the accounts inserted just before, in the same transaction (an
# ON CONFLICT check per row cost 7 to 25 % of this insert, the largest statement of an approval).
_OPEN_INSTALLMENTS = Statement(
    """
INSERT INTO installments (loan_id, number, due_date, interest, principal)
SELECT * FROM unnest(:loan_id::uuid[], :number::integer[], :due_date::date[], :interest::numeric[],
                     :principal::numeric[])
ORDER BY 1, 2""",
    InstallmentRow,
)
ACCOUNT_EXISTS = Statement("SELECT customer_id FROM accounts WHERE loan_id = :loan_id")


def _rows_of(
    loan: lm.LoanChanged | lm.Loan, schedule: list[lm.ScheduleRow]
) -> tuple[AccountRow, list[InstallmentRow]]:
    loan_id = loan.loan_id if isinstance(loan, lm.LoanChanged) else loan.id
    account = AccountRow(
        loan_id, loan.customer_id, loan.agent_id, loan.principal, loan.interest, loan.months, loan.start_date
    )
    installments = [InstallmentRow(loan_id, r.month, r.due_date, r.interest, r.principal) for r in schedule]
    return account, installments


def _complete(loan: lm.LoanChanged | lm.Loan, schedule: list[lm.ScheduleRow] | None) -> bool:
    """An approved loan with a start date and a dated schedule of `months` rows."""
    return (
        loan.start_date is not None
        and schedule is not None
        and len(schedule) == loan.months
        and all(r.due_date is not None for r in schedule)
    )


async def _open(con: Conn, opened: list[tuple[AccountRow, list[InstallmentRow]]]) -> None:
    """Accounts and their installments, two statements whatever their number, in `con`'s
    transaction (a connection, not a pool: an account must never commit without its
    installments). The installments of an account that was there already (a redelivered event, the
    other side of a race, which waited for this one to commit) are there too, so only the accounts
    inserted now get theirs."""
    if not opened:
        return
    accounts = [account for account, _ in opened]
    inserted = await con.fetch(_OPEN_ACCOUNTS.sql, *_OPEN_ACCOUNTS.columns_of(accounts))
    new = {row["loan_id"] for row in inserted}
    installments: list[InstallmentRow] = []
    for account, rows in opened:
        if account.loan_id in new:
            new.discard(account.loan_id)  # a loan twice in one batch gets its rows once
            installments += rows
    if installments:
        await con.execute(_OPEN_INSTALLMENTS.sql, *_OPEN_INSTALLMENTS.columns_of(installments))


@actor.on_events("servicing-accounts", "loans.loan.approved")
async def open_accounts(events: list[Envelope], con: Conn, state: ServicingState) -> None:
    """Each approved loan gets its account and installments (a redelivery or a race with the
    request fallback changes nothing)."""
    opened = []
    for event in events:
        loan = data_as(event, lm.LoanChanged)
        if not _complete(loan, loan.schedule):
            # an approval from before events carried the schedule: the first request naming the
            # loan opens its account from loans.get and loans.schedule instead
            log.warning("loans.loan.approved of %s has no dated schedule: not opened", loan.loan_id)
            continue
        assert loan.schedule is not None  # _complete says so
        opened.append(_rows_of(loan, loan.schedule))
    await _open(con, opened)


async def _ask_loans(ctx: Ctx, subject: str, loan_id: UUID) -> bytes:
    """The loans actor's answer, asked with the caller's token: what it refuses (404 to a
    customer naming another's loan, 403 to an agent it does not know as approved) is refused."""
    body = msgspec.json.encode({"loan_id": loan_id})
    return await request(ctx.nc, subject, body, timeout=_LOOKUP_TIMEOUT, token=ctx.user.token)


async def open_from_loans(ctx: Ctx, loan_id: UUID) -> None:
    """Open the account of an approved loan whose event has not landed (or never will)."""
    loan = _decode_loan(await _ask_loans(ctx, "loans.get", loan_id))
    if loan.status != "APPROVED":
        raise Conflict("the loan is not approved: it has no account", code="loan_not_active")
    schedule = _decode_schedule(await _ask_loans(ctx, "loans.schedule", loan_id)).rows
    if not _complete(loan, schedule):
        raise Conflict("the loan's schedule is not dated yet", code="loan_not_active")
    async with ctx.pool.acquire() as con, con.transaction():
        await _open(con, [_rows_of(loan, schedule)])


async def readable(ctx: Ctx, loan_id: UUID) -> None:
    """Raise unless the caller may act on this loan's account, opening it if it is missing: an
    agent must be approved, a customer sees only their own (another's is 404, as if none)."""
    if ctx.user.role == "agent":
        await agents.approved_agent(ctx)
    row: asyncpg.Record | None = await ACCOUNT_EXISTS.fetchrow(ctx.pool, loan_id=loan_id)
    if row is None:
        await open_from_loans(ctx, loan_id)
        row = await ACCOUNT_EXISTS.fetchrow(ctx.pool, loan_id=loan_id)
        if row is None:  # deleted again in between: nothing a caller could do about it
            raise NotFound("no such loan")
    if ctx.user.role == "customer" and row["customer_id"] != ctx.user.id:
        raise NotFound("no such loan")
