"""The `servicing.*` subjects of repayments: record one, list them, reverse one.

Each write is one transaction on the locked account: the Ledger replayed, the change applied,
the books written back, the transaction row, the events and the stored answer (Idempotency-Key:
a repeat gets the first answer and changes nothing). Four round trips: BEGIN, one read (the
account locked and all the write needs, books.writing), one write (repayment_sql.write), COMMIT.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from datetime import UTC, date, datetime
from decimal import Decimal

import asyncpg
import msgspec

from actors.contracts import servicing as m
from actors.contracts.errors import BadRequest, Conflict, NotFound
from actors.contracts.roles import ANY_USER, STAFF
from actors.runtime import idempotency
from actors.runtime.db import Conn
from actors.runtime.events import outbox_row as emitting
from actors.runtime.paging import fetch_page
from actors.runtime.sql import Statement
from actors.servicing import accounts, books
from actors.servicing import ledger as money
from actors.servicing import repayment_sql as q
from actors.servicing.actor import Ctx, actor

_decode_allocation = msgspec.json.Decoder(list[m.Allocation]).decode
TRANSACTION_COLUMNS = (
    "id, loan_id, type, amount, paid_on, reference, allocation::text AS allocation, recorded_by, "
    "recorded_at, reversed, reversal_reason"
)
_PAGE = Statement(f"""
SELECT {TRANSACTION_COLUMNS}, count(*) OVER () AS total
FROM transactions WHERE loan_id = :loan_id
ORDER BY seq
LIMIT :limit OFFSET :offset""")


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
    # No look for a stored answer first: the write's statement stores the answer or, when the key
    # was answered before, writes nothing (a repeat changes nothing, whatever came since), and a
    # repeat the account now refuses is answered from the stored answer by replaying_refusals.
    async with claim.replaying_refusals(ctx.pool), books.writing(ctx, req.loan_id) as (con, book):
        today = book.business_date
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
            allocation=[m.Allocation(installment=a[0], interest=a[1], principal=a[2]) for a in allocation],
            recorded_by=ctx.user.id,
            recorded_at=datetime.now(UTC),
            reversed=False,
            reversal_reason=None,
        )
        inserted = q.RepaymentRow(
            id=transaction.id,
            amount=amount,
            paid_on=paid_on,
            reference=req.reference,
            allocation=books.allocation_json(allocation),
            recorded_by=transaction.recorded_by,
            recorded_at=transaction.recorded_at,
        )
        await _write(con, ctx, claim, book, book.judged_at(today), transaction, inserted)
    return transaction


async def _write(
    con: Conn,
    ctx: Ctx,
    claim: idempotency.Claim,
    book: books.Book,
    today: date,
    transaction: m.Transaction,
    change: q.RepaymentRow | q.ReversalRow,
) -> None:
    """The change, the books, the events and the answer, in one statement (repayment_sql.write).
    The events: repayment.received or .reversed, then loan.delinquency_changed if the change
    moved the account to another bucket (arrears paid, or a reversal bringing them back), then
    loan.closed if it closed the account; each a version of the account's own. Raises Replay if
    the key was answered before (the statement wrote nothing)."""
    reversal = isinstance(change, q.ReversalRow)
    was_closed = book.account["status"] == "CLOSED"
    version = book.version + 1
    reason = change.reason if isinstance(change, q.ReversalRow) else None
    data = books.changed(book, today, ctx.user.id, transaction, reason)
    events: list[tuple[str, int, m.AccountChanged]] = [
        ("servicing.repayment.reversed" if reversal else "servicing.repayment.received", version, data)
    ]
    days = book.ledger.days_past_due(today)
    if (bucket := money.bucket(days)) != book.account["bucket"]:
        version += 1
        moved = msgspec.structs.replace(
            data, bucket_from=book.account["bucket"], bucket_to=bucket, days_past_due=days
        )
        events.append(("servicing.loan.delinquency_changed", version, moved))
    if book.ledger.closed and not was_closed:
        version += 1
        events.append(("servicing.loan.closed", version, data))
    statement = q.write(reversal, claim.keyed)
    # the events' PRODUCER spans are open around the statement that writes them (nested when
    # there are two or three: one statement writes them all)
    with ExitStack() as spans:
        rows = [
            spans.enter_context(emitting(ctx.settings, kind, book.loan_id, v, d)) for kind, v, d in events
        ]
        outbox = q.EventsRow(
            event_id=[r.event_id for r in rows],
            event_subject=[r.event_subject for r in rows],
            event_payload=[r.event_payload for r in rows],
            event_headers=[r.event_headers for r in rows],
        )
        args = statement.args_of(
            change, books.books_row(book, today, version), outbox, *claim.rows(transaction)
        )
        written = await con.fetchval(statement.sql, *args)
    if not written:  # the key was answered before (or concurrently, and that one committed)
        await claim.replay_stored(con)


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
    async with (
        claim.replaying_refusals(ctx.pool),
        books.writing(ctx, req.loan_id, reversing=req.transaction_id) as (con, book),
    ):
        row = book.account  # the read's row: the repayment as target_* (the account lock keeps it)
        if row["target_id"] is None:
            raise NotFound("no such repayment on this loan")
        if row["target_reversed"]:
            raise Conflict("the repayment has been reversed already")
        transaction = m.Transaction(
            id=row["target_id"],
            loan_id=req.loan_id,
            type="repayment",
            amount=row["target_amount"],
            paid_on=row["target_paid_on"],
            reference=row["target_reference"],
            allocation=_decode_allocation(row["target_allocation"]),
            recorded_by=row["target_recorded_by"],
            recorded_at=row["target_recorded_at"],
            reversed=True,
            reversal_reason=req.reason,
        )
        reversal = q.ReversalRow(
            transaction_id=req.transaction_id,
            reason=req.reason,
            reversed_by=ctx.user.id,
            reallocated_id=book.repayment_ids,
            reallocated_allocation=[books.allocation_json(a) for a in book.allocations],
        )
        await _write(con, ctx, claim, book, book.judged_at(book.business_date), transaction, reversal)
    return transaction
