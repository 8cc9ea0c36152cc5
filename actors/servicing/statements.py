"""What an account stands at: its statement and its payoff on a date. Reads only: both come
from the columns the last write (or COB) left, never from a replay."""

from __future__ import annotations

from actors.contracts import servicing as m
from actors.contracts.errors import BadRequest
from actors.contracts.roles import ANY_USER
from actors.servicing import accounts, books
from actors.servicing.actor import Ctx, actor
from actors.servicing.dates import business_date


@actor.handle("servicing.statement", m.AccountId, roles=ANY_USER)
async def statement(req: m.AccountId, ctx: Ctx) -> m.Statement:
    """The account: its sums, delinquency, next due, and every installment with what it has had."""
    await accounts.readable(ctx, req.loan_id)
    async with ctx.pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        account = await books.GET_ACCOUNT.fetchrow(con, loan_id=req.loan_id)
        rows = await books.INSTALLMENTS.fetch(con, loan_id=req.loan_id)
        today = await business_date(con)
    assert account is not None  # readable() saw it; accounts are never deleted
    lines = [
        m.InstallmentLine(
            number=r["number"],
            due_date=r["due_date"],
            payment=r["interest"] + r["principal"],
            interest=r["interest"],
            principal=r["principal"],
            paid_interest=r["paid_interest"],
            paid_principal=r["paid_principal"],
            status=r["status"],
        )
        for r in rows
    ]
    next_due = None
    if account["status"] == "ACTIVE":
        unpaid = next((r for r in rows if r["status"] != "PAID"), None)
        if unpaid is not None:
            owed = (
                unpaid["interest"]
                + unpaid["principal"]
                - unpaid["paid_interest"]
                - unpaid["paid_principal"]
                - unpaid["waived_interest"]
            )
            next_due = m.NextDue(date=unpaid["due_date"], amount=owed)
    return m.Statement(
        loan_id=req.loan_id,
        status=account["status"],
        business_date=today,
        principal=account["principal"],
        outstanding_principal=account["outstanding_principal"],
        paid_principal=account["paid_principal"],
        paid_interest=account["paid_interest"],
        waived_interest=account["waived_interest"],
        days_past_due=account["days_past_due"],
        bucket=account["bucket"],
        next_due=next_due,
        closed_on=account["closed_on"],
        installments=lines,
    )


@actor.handle("servicing.payoff", m.PayoffQuery, roles=ANY_USER)
async def payoff(req: m.PayoffQuery, ctx: Ctx) -> m.PayoffQuote:
    """What closes the account on a date (default the business date; not before it)."""
    await accounts.readable(ctx, req.loan_id)
    async with ctx.pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        account = await books.GET_ACCOUNT.fetchrow(con, loan_id=req.loan_id)
        rows = await books.INSTALLMENTS.fetch(con, loan_id=req.loan_id)
        today = await business_date(con)
    assert account is not None
    on = req.on or today
    if on < today:
        raise BadRequest(f"on is before the business date {today}", details={"field": "on"})
    quote = books.stored_ledger(account, rows).payoff(on)
    return m.PayoffQuote(
        on=on, outstanding_principal=quote.outstanding_principal, interest=quote.interest, total=quote.total
    )
