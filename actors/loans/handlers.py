"""The `loans.*` subjects: create, decide, edit, read, list, history and schedule of loans, and
the quote of a loan not made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec

from actors.contracts import loans as m
from actors.contracts.envelope import Envelope, data_as
from actors.contracts.errors import BadRequest, Conflict, Forbidden, NotFound
from actors.contracts.roles import ANY_USER, STAFF
from actors.contracts.users import UserChanged
from actors.loans import money, parties, records
from actors.loans import queries as q
from actors.runtime import idempotency
from actors.runtime.actor import Actor, Context
from actors.runtime.db import Conn
from actors.runtime.events import outbox_row as emitting
from actors.runtime.paging import fetch_page
from actors.runtime.sql import Statement


@dataclass(frozen=True)
class LoansState:
    """Nothing yet: everything the loans actor knows is in its schema."""


actor: Actor[LoansState] = Actor("loans", description="Loans: requests, decisions, history and schedules")
Ctx = Context[LoansState]
_decode_fields = msgspec.json.Decoder(dict[str, m.FieldChange]).decode


_LOAN_WIDTH = len(m.Loan.__struct_fields__)


def to_loan(row: asyncpg.Record | None) -> m.Loan:
    assert row is not None  # every caller's query returns the row it wrote
    # LOAN_COLUMNS lists the Loan fields in order: positional is the cheap way to build one
    return m.Loan(*tuple(row)[:_LOAN_WIDTH])


def _terms(principal: Decimal, months: int) -> money.Terms:
    try:
        return money.terms_for(principal, months)
    except money.OutOfRange as exc:
        raise BadRequest(str(exc), details={"field": "principal"}) from None


def _schedule_rows(rows: list[money.ScheduleRow], start: date | None) -> list[m.ScheduleRow]:
    """The schedule's rows as replies carry them; due dates only once there is a start date."""
    return [
        m.ScheduleRow(
            month=row.month,
            due_date=money.add_months(start, row.month) if start is not None else None,
            payment=row.payment,
            interest=row.interest,
            principal=row.principal,
            balance=row.balance,
        )
        for row in rows
    ]


async def _record(
    con: Conn, ctx: Ctx, change: str, before: m.Loan, after: m.Loan, claim: idempotency.Claim
) -> None:
    """The history row, the event and the answer (under the request's key) of a decision or an
    edit: one statement, in the caller's transaction. Raises Replay if the key was answered."""
    by = ctx.user.id
    history = records.history_row(change, before, after, by)
    schedule = None
    if change == "approved":  # servicing opens the account from the approval alone
        rows = money.schedule(after.principal, after.interest, after.months)
        schedule = _schedule_rows(rows, after.start_date)
    data = records.event_data(after, by, schedule)
    statement = q.record_change(claim.keyed)
    with emitting(ctx.settings, f"loans.loan.{change}", after.id, after.version, data) as event:
        stored = await con.fetchval(statement.sql, *statement.args_of(history, event, *claim.rows(after)))
    if not stored:  # a concurrent request with this key committed first: answer as it did
        await claim.replay_stored(con)


async def _readable_loan(ctx: Ctx, loan_id: uuid.UUID) -> m.Loan:
    """The loan if the caller may see it; to a customer someone else's loan does not exist."""
    if ctx.user.role == "agent":
        await parties.approved_agent(ctx)
    row = await q.get_loan.fetchrow(ctx.pool, id=loan_id)
    if row is None or (ctx.user.role == "customer" and row["customer_id"] != ctx.user.id):
        raise NotFound("no such loan")
    return to_loan(row)


async def _loan_page(
    ctx: Ctx, query: Statement, values: dict[str, Any], page: int, page_size: int
) -> m.LoanPage:
    rows, total = await fetch_page(ctx.pool, query, values, page=page, page_size=page_size)
    return m.LoanPage(data=[to_loan(r) for r in rows], count=total, page=page, page_size=page_size)


@actor.handle("loans.create", m.CreateLoan, roles={"agent"})
async def create_loan(req: m.CreateLoan, ctx: Ctx) -> m.Loan:
    """An approved agent requests a loan for an active customer; rate and EMI follow the tier table."""
    terms = _terms(req.principal, req.months)
    agent, customer = await parties.approved_agent_and(ctx, req.customer_id)
    parties.within_limit(agent, req.principal)
    if customer is None or customer.deleted or customer.role != "customer" or customer.status != "active":
        raise BadRequest("customer_id: no such customer", details={"field": "customer_id"})
    # Everything the new loan holds is known here, so it is written by one statement (loan,
    # history, event and stored answer) without a transaction of its own: one round trip, where
    # BEGIN, four INSERTs and COMMIT took six. Times are this worker's clock, as the event's
    # occurred_at always was.
    now = datetime.now(UTC)
    loan = records.new_loan(agent, customer, req.principal, req.months, terms, now)
    claim = idempotency.claim(ctx, req)
    data = records.event_data(loan, agent.id)
    statement = q.create_loan(claim.keyed)
    with emitting(ctx.settings, "loans.loan.created", loan.id, 1, data, occurred_at=now) as event:
        args = statement.args_of(records.new_loan_row(loan), event, *claim.rows(loan))
        written = await ctx.pool.fetchval(statement.sql, *args)
    if not written:  # the key was answered before (or concurrently, and that one committed)
        await claim.replay_stored(ctx.pool)
    return loan


@actor.handle("loans.decide", m.DecideLoan, roles={"admin"})
async def decide_loan(req: m.DecideLoan, ctx: Ctx) -> m.Loan:
    """Approve or reject a NEW loan; of concurrent decisions exactly one wins, the rest get 409."""
    approved = req.status == "APPROVED"
    now = datetime.now(UTC)
    start = now.date() if approved else None
    claim = idempotency.claim(ctx, req)
    async with claim.replaying_refusals(ctx.pool), ctx.pool.acquire() as con, con.transaction():
        row = await q.decide_loan.fetchrow(con, id=req.loan_id, status=req.status, start_date=start, at=now)
        if row is None:
            if await q.loan_status.fetchval(con, id=req.loan_id) is None:
                raise NotFound("no such loan")
            # replaying_refusals replays our own earlier attempt's answer if that is what decided it
            raise Conflict("the loan has already been decided", code="loan_already_decided")
        loan = to_loan(row)
        before = msgspec.structs.replace(loan, status="NEW", start_date=None, end_date=None)
        await _record(con, ctx, "approved" if approved else "rejected", before, loan, claim)
    return loan


@actor.handle("loans.edit", m.EditLoan, roles={"agent"})
async def edit_loan(req: m.EditLoan, ctx: Ctx) -> m.Loan:
    """The requesting agent changes principal and/or months; a REJECTED loan goes back to NEW."""
    if req.principal is None and req.months is None:
        raise BadRequest("give principal, months, or both", details={"field": "principal"})
    if req.principal is not None:
        _terms(req.principal, req.months or 1)  # refuse a bad principal before touching anything
    agent = await parties.approved_agent(ctx)
    claim = idempotency.claim(ctx, req)
    async with claim.replaying_refusals(ctx.pool), ctx.pool.acquire() as con, con.transaction():
        row = await q.loan_for_update.fetchrow(con, id=req.loan_id)
        if row is None:
            raise NotFound("no such loan")
        before = to_loan(row)
        if before.agent_id != agent.id:
            raise Forbidden("only the agent who requested this loan may edit it")
        if before.status == "APPROVED":
            raise Conflict("an approved loan cannot be edited", code="loan_not_editable")
        principal = req.principal if req.principal is not None else before.principal
        # The edited loan is requested anew (it goes back to NEW): its principal, given or kept,
        # must be within the agent's limit as it is now.
        parties.within_limit(agent, principal)
        months = req.months if req.months is not None else before.months
        terms = _terms(principal, months)
        row = await q.edit_loan.fetchrow(
            con,
            id=req.loan_id,
            principal=principal,
            months=months,
            interest=terms.interest,
            emi=terms.emi,
            amount=terms.amount,
            at=datetime.now(UTC),
        )
        loan = to_loan(row)
        await _record(con, ctx, "edited", before, loan, claim)
    return loan


@actor.handle("loans.list", m.ListLoans, roles=STAFF)
async def list_loans(req: m.ListLoans, ctx: Ctx) -> m.LoanPage:
    """Every loan, newest change first, narrowed by status, customer or agent."""
    if ctx.user.role == "agent":
        await parties.approved_agent(ctx)
    given = {name: value for name in q.FILTERS if (value := getattr(req, name)) is not None}
    page_query, count_query = q.list_loans(tuple(given))
    offset = (req.page - 1) * req.page_size
    rows = await page_query.fetch(ctx.pool, **given, limit=req.page_size, offset=offset)
    if req.page == 1 and len(rows) < req.page_size:
        total = len(rows)  # the whole list fits on this page: no need to count
    else:
        total = await count_query.fetchval(ctx.pool, **given)
    return m.LoanPage(data=[to_loan(r) for r in rows], count=total, page=req.page, page_size=req.page_size)


@actor.handle("loans.list_mine", m.ListMyLoans, roles={"customer"})
async def list_my_loans(req: m.ListMyLoans, ctx: Ctx) -> m.LoanPage:
    """The calling customer's own loans, newest first."""
    query, values = q.customer_loans(ctx.user.id, req.status)
    return await _loan_page(ctx, query, values, page=req.page, page_size=req.page_size)


@actor.handle("loans.get", m.LoanId, roles=ANY_USER)
async def get_loan(req: m.LoanId, ctx: Ctx) -> m.Loan:
    """One loan: staff see any, a customer only their own."""
    return await _readable_loan(ctx, req.loan_id)


@actor.handle("loans.history", m.LoanHistory, roles=STAFF)
async def loan_history(req: m.LoanHistory, ctx: Ctx) -> m.HistoryPage:
    """Every change of a loan, oldest first: who, when, what changed, the version it made."""
    await _readable_loan(ctx, req.loan_id)
    rows, total = await fetch_page(
        ctx.pool, q.history, {"loan_id": req.loan_id}, page=req.page, page_size=req.page_size
    )
    return m.HistoryPage(
        data=[
            m.HistoryRow(
                version=r["version"],
                change=r["change"],
                changed_by=r["changed_by"],
                changed_at=r["changed_at"],
                fields=_decode_fields(r["fields"]),
            )
            for r in rows
        ],
        count=total,
        page=req.page,
        page_size=req.page_size,
    )


@actor.handle("loans.schedule", m.LoanId, roles=ANY_USER)
async def loan_schedule(req: m.LoanId, ctx: Ctx) -> m.Schedule:
    """The amortization schedule; due dates appear once the loan is approved."""
    loan = await _readable_loan(ctx, req.loan_id)
    rows = money.schedule(loan.principal, loan.interest, loan.months)
    return m.Schedule(loan_id=loan.id, rows=_schedule_rows(rows, loan.start_date))


@actor.handle("loans.quote", m.QuoteLoan, roles=ANY_USER)
async def quote_loan(req: m.QuoteLoan, ctx: Ctx) -> m.Quote:
    """The terms and schedule a loan of this principal and months would have; nothing is saved."""
    try:
        terms, rows = money.quote(req.principal, req.months)
    except money.OutOfRange as exc:
        raise BadRequest(str(exc), details={"field": "principal"}) from None
    if ctx.user.role == "agent":
        await parties.approved_agent(ctx)  # as on every loan route: a rejected agent acts on none
    return m.Quote(
        principal=records.cents(req.principal),
        interest=terms.interest,
        months=req.months,
        emi=terms.emi,
        amount=terms.amount,
        rows=_schedule_rows(rows, None),
    )


for _event_type, _data_type in m.EVENTS.items():
    actor.publishes_event(_event_type, _data_type)


@actor.on_events("loans-parties", "users.>")
async def track_parties(events: list[Envelope], con: Conn, state: LoansState) -> None:
    """User events update the read model of customers and agents (newer versions only): a fetched
    batch in one statement a round (a party's versions oldest first), its rows locked in id order."""
    await parties.remember_all(con, [(parties.party_of(data_as(e, UserChanged)), e.version) for e in events])
