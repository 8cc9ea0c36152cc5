"""The `servicing.*` subjects of repayments: record one, list them, reverse one.

Each write is one transaction on the locked account: the Ledger replayed, the change applied,
the books written back, the transaction row, the events and the stored answer (Idempotency-Key:
a repeat gets the first answer and changes nothing).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from actors.contracts import servicing as m
from actors.contracts.errors import BadRequest, Conflict, NotFound
from actors.contracts.roles import ANY_USER, STAFF
from actors.runtime import idempotency
from actors.runtime.db import Conn
from actors.runtime.events import emit
from actors.runtime.paging import fetch_page
from actors.runtime.sql import Statement
from actors.servicing import accounts, books
from actors.servicing import ledger as money
from actors.servicing.actor import Ctx, actor
from actors.servicing.dates import business_date

_decode_allocation = msgspec.json.Decoder(list[m.Allocation]).decode
TRANSACTION_COLUMNS = (
    "id, loan_id, type, amount, paid_on, reference, allocation::text AS allocation, recorded_by, "
    "recorded_at, reversed, reversal_reason"
)
_INSERT = Statement("""
INSERT INTO transactions (id, loan_id, amount, paid_on, reference, allocation, recorded_by, recorded_at)
VALUES (:id, :loan_id, :amount, :paid_on, :reference, :allocation::jsonb, :recorded_by, :recorded_at)""")
_PAGE = Statement(f"""
SELECT {TRANSACTION_COLUMNS}, count(*) OVER () AS total
FROM transactions WHERE loan_id = :loan_id
ORDER BY seq
LIMIT :limit OFFSET :offset""")
_ONE = Statement(f"SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE id = :id AND loan_id = :loan_id")
_REVERSE = Statement(f"""
UPDATE transactions SET reversed = true, reversal_reason = :reason, reversed_by = :by, reversed_at = now()
WHERE id = :id
RETURNING {TRANSACTION_COLUMNS}""")
# A reversal allocates the others again: only the rows whose allocation changed are written.
_REALLOCATE = Statement("""
UPDATE transactions AS t SET allocation = u.allocation::jsonb
FROM unnest(:id::uuid[], :allocation::text[]) AS u(id, allocation)
WHERE t.id = u.id AND t.allocation <> u.allocation::jsonb""")


def to_transaction(row: asyncpg.Record) -> m.Transaction:
    fields = {name: row[name] for name in m.Transaction.__struct_fields__ if name != "allocation"}
    return m.Transaction(**fields, allocation=_decode_allocation(row["allocation"]))


def _amount(value: Decimal) -> Decimal:
    """More than zero, with at most two decimals (never rounded: that would record another sum)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or sign or not any(digits):
        raise BadRequest("amount must be a number more than 0", details={"field": "amount"})
    extra = -exponent - 2
    if extra > 0 and any(digits[-extra:]):
        raise BadRequest("amount must have at most two decimal places", details={"field": "amount"})
    if value >= Decimal("1e12"):  # NUMERIC(14,2); far above any payoff, so an overpayment anyway
        raise BadRequest("amount is too large", details={"field": "amount"})
    return money.cents(value)


@actor.handle("servicing.record_repayment", m.RecordRepayment, roles=STAFF)
async def record_repayment(req: m.RecordRepayment, ctx: Ctx) -> m.Transaction:
    """An admin or approved agent records a repayment; it is allocated to the installments in due order."""
    amount = _amount(req.amount)
    claim = idempotency.claim(ctx, req)
    async with claim.replaying_refusals(ctx.pool):
        await claim.replay_if_answered(ctx.pool)  # a repeat changes nothing, whatever came since
        await accounts.readable(ctx, req.loan_id)
        async with ctx.pool.acquire() as con, con.transaction():
            book = await books.locked(con, req.loan_id)
            today = await business_date(con)
            paid_on = req.paid_on or today
            if paid_on > today:
                raise BadRequest(f"paid_on is after the business date {today}", details={"field": "paid_on"})
            if paid_on < book.account["start_date"]:
                raise BadRequest("paid_on is before the loan's start date", details={"field": "paid_on"})
            try:
                allocation = book.ledger.apply(money.Repayment(amount, paid_on))
            except money.AccountClosed:
                raise Conflict("the loan is paid off", code="loan_closed") from None
            except money.Overpayment as exc:
                total = str(exc.payoff.total)
                raise Conflict(
                    f"the amount is more than the payoff of {total} on {paid_on}",
                    code="overpayment",
                    details={"payoff": total},
                ) from None
            transaction = m.Transaction(
                id=uuid.uuid4(),
                loan_id=req.loan_id,
                type="repayment",
                amount=amount,
                paid_on=paid_on,
                reference=req.reference,
                allocation=[
                    m.Allocation(installment=a[0], interest=a[1], principal=a[2]) for a in allocation
                ],
                recorded_by=ctx.user.id,
                recorded_at=datetime.now(UTC),
                reversed=False,
                reversal_reason=None,
            )
            await _INSERT.execute(
                con,
                id=transaction.id,
                loan_id=transaction.loan_id,
                amount=amount,
                paid_on=paid_on,
                reference=req.reference,
                allocation=books.allocation_json(allocation),
                recorded_by=transaction.recorded_by,
                recorded_at=transaction.recorded_at,
            )
            await _write_back(
                con, ctx, book, book.judged_at(today), transaction, "servicing.repayment.received"
            )
            await claim.store(con, transaction)
    return transaction


async def _write_back(
    con: Conn,
    ctx: Ctx,
    book: books.Book,
    today: date,
    transaction: m.Transaction,
    event_type: str,
    reason: str | None = None,
) -> None:
    """The books and the events of a change: `event_type`, then loan.delinquency_changed if it
    moved the account to another bucket (arrears paid, or a reversal bringing them back), then
    loan.closed if it closed the account; each event a version of the account's own."""
    was_closed = book.account["status"] == "CLOSED"
    closes = book.ledger.closed and not was_closed
    version = book.version + 1
    data = books.changed(book, today, ctx.user.id, transaction, reason)
    await emit(con, ctx.settings, event_type, book.loan_id, version, data)
    days = book.ledger.days_past_due(today)
    if (bucket := money.bucket(days)) != book.account["bucket"]:
        version += 1
        moved = msgspec.structs.replace(
            data, bucket_from=book.account["bucket"], bucket_to=bucket, days_past_due=days
        )
        await emit(con, ctx.settings, "servicing.loan.delinquency_changed", book.loan_id, version, moved)
    if closes:
        version += 1
        await emit(con, ctx.settings, "servicing.loan.closed", book.loan_id, version, data)
    await books.save(con, book, today, version)


@actor.handle("servicing.list_repayments", m.ListRepayments, roles=ANY_USER)
async def list_repayments(req: m.ListRepayments, ctx: Ctx) -> m.TransactionPage:
    """A loan's repayments, oldest first, the reversed ones too."""
    await accounts.readable(ctx, req.loan_id)
    rows, total = await fetch_page(
        ctx.pool, _PAGE, {"loan_id": req.loan_id}, page=req.page, page_size=req.page_size
    )
    return m.TransactionPage(
        data=[to_transaction(r) for r in rows], count=total, page=req.page, page_size=req.page_size
    )


@actor.handle("servicing.reverse_repayment", m.ReverseRepayment, roles={"admin"})
async def reverse_repayment(req: m.ReverseRepayment, ctx: Ctx) -> m.Transaction:
    """An admin reverses a repayment: the others are allocated again as if it had never been."""
    claim = idempotency.claim(ctx, req)
    async with claim.replaying_refusals(ctx.pool):
        await claim.replay_if_answered(ctx.pool)
        await accounts.readable(ctx, req.loan_id)
        async with ctx.pool.acquire() as con, con.transaction():
            try:
                book = await books.locked(con, req.loan_id, leaving_out=req.transaction_id)
            except (money.Overpayment, money.AccountClosed):
                raise Conflict("the other repayments would not fit the schedule without this one") from None
            row = await _ONE.fetchrow(con, id=req.transaction_id, loan_id=req.loan_id)
            if row is None:
                raise NotFound("no such repayment on this loan")
            if row["reversed"]:
                raise Conflict("the repayment has been reversed already")
            reversed_row = await _REVERSE.fetchrow(
                con, id=req.transaction_id, reason=req.reason, by=ctx.user.id
            )
            assert reversed_row is not None  # the account lock keeps the row as read above
            transaction = to_transaction(reversed_row)
            await _REALLOCATE.execute(
                con,
                id=book.repayment_ids,
                allocation=[books.allocation_json(a) for a in book.allocations],
            )
            judged_at = book.judged_at(await business_date(con))
            await _write_back(
                con, ctx, book, judged_at, transaction, "servicing.repayment.reversed", req.reason
            )
            await claim.store(con, transaction)
    return transaction
