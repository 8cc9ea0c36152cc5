"""`loans.import_batch`: loans of the Django monolith and their history, written once each
(design.md §13).

A loan's id is uuid5 of its legacy id. Its terms follow the rules here (EMI and amount from the
principal, the monolith's rate and the months; end date from the start date), its history is the
monolith's, and one last row, `imported`, keeps the monolith's own figures where they differ.
The batch is one transaction: loans inserted with ON CONFLICT DO NOTHING, then the history and one
event only for the loans really inserted, so a batch sent again writes and emits nothing. The
event is the one the loan's status would have ended with (`loans.loan.approved` carries the dated
schedule: servicing opens the account from it), marked `imported` so nobody is notified again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

import msgspec

from actors.contracts import imports as im
from actors.contracts import loans as m
from actors.contracts.errors import BadRequest
from actors.loans import money, records
from actors.loans.handlers import Ctx, _schedule_rows, actor
from actors.loans.queries import HistoryRow
from actors.runtime.events import OutboxRow, outbox_row
from actors.runtime.sql import Statement

_CHANGE_EVENT = {
    "NEW": "loans.loan.created",
    "APPROVED": "loans.loan.approved",
    "REJECTED": "loans.loan.rejected",
}
_MAX_RATE = Decimal("999.99")  # NUMERIC(5, 2)
_encode = msgspec.json.Encoder().encode


class LoanRow(NamedTuple):
    id: uuid.UUID
    legacy_id: int
    customer_id: uuid.UUID
    customer_email: str
    customer_name: str
    agent_id: uuid.UUID
    agent_email: str
    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    status: str
    start_date: date | None
    end_date: date | None
    version: int
    created_at: datetime
    modified_at: datetime


_INSERT_LOANS = Statement(
    """
INSERT INTO loans (id, legacy_id, customer_id, customer_email, customer_name, agent_id, agent_email,
                   principal, interest, months, emi, amount, status, start_date, end_date, version,
                   created_at, modified_at)
SELECT * FROM unnest(:id::uuid[], :legacy_id::bigint[], :customer_id::uuid[], :customer_email::text[],
                     :customer_name::text[], :agent_id::uuid[], :agent_email::text[],
                     :principal::numeric[], :interest::numeric[], :months::integer[], :emi::numeric[],
                     :amount::numeric[], :status::text[], :start_date::date[], :end_date::date[],
                     :version::integer[], :created_at::timestamptz[], :modified_at::timestamptz[])
ORDER BY 1
ON CONFLICT DO NOTHING
RETURNING id""",
    LoanRow,
)
_INSERT_HISTORY = Statement(
    """
INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
SELECT * FROM unnest(:loan_id::uuid[], :version::integer[], :change::text[], :changed_by::uuid[],
                     :changed_at::timestamptz[], :fields::jsonb[])""",
    HistoryRow,
)
_INSERT_OUTBOX = Statement(
    """INSERT INTO outbox (id, subject, payload, headers)
SELECT * FROM unnest(:event_id::uuid[], :event_subject::text[], :event_payload::bytea[],
                     :event_headers::jsonb[])""",
    OutboxRow,
)
_STORED = Statement("SELECT id, legacy_id, principal FROM loans WHERE id = ANY(:ids::uuid[])")


class Prepared(NamedTuple):
    row: LoanRow
    history: list[HistoryRow]
    event: m.LoanChanged


def _problem(loan: im.ImportedLoan) -> str | None:
    """Why the loan rules refuse this loan, or None."""
    try:
        money.terms_for(loan.principal, loan.months)  # principal and months within the API's limits
    except money.OutOfRange as exc:
        return str(exc)
    if not Decimal(0) <= loan.interest <= _MAX_RATE or loan.interest != loan.interest.quantize(
        Decimal("0.01")
    ):
        return f"interest {loan.interest} is not a rate with two decimals"
    if loan.status == "APPROVED" and loan.start_date is None:
        return "an APPROVED loan without a start date"
    return None


def _state(values: im.ImportedChange | LoanRow) -> dict[str, str | int | None]:
    return {name: _as_json(getattr(values, name)) for name in records.TRACKED}


def _as_json(value: object) -> str | int | None:
    if value is None or isinstance(value, int):
        return value
    return str(value)


def _fields(before: dict[str, str | int | None], after: dict[str, str | int | None]) -> str:
    changed = {k: {"old": before.get(k), "new": v} for k, v in after.items() if before.get(k) != v}
    return _encode(changed).decode()


def _prepare(loan: im.ImportedLoan) -> Prepared:
    loan_id = im.legacy_loan_id(loan.legacy_id)
    rows = money.schedule(loan.principal, loan.interest, loan.months)
    emi = money.emi(loan.principal, loan.interest, loan.months)
    approved = loan.status == "APPROVED"
    start = loan.start_date if approved else None
    end = money.add_months(start, loan.months) if start is not None else None
    version = len(loan.history) + 1
    row = LoanRow(
        id=loan_id,
        legacy_id=loan.legacy_id,
        customer_id=loan.customer_id,
        customer_email=loan.customer_email,
        customer_name=loan.customer_name,
        agent_id=loan.agent_id,
        agent_email=loan.agent_email,
        principal=records.cents(loan.principal),
        interest=records.cents(loan.interest),
        months=loan.months,
        emi=emi,
        amount=sum((r.payment for r in rows), Decimal("0.00")),
        status=loan.status,
        start_date=start,
        end_date=end,
        version=version,
        created_at=loan.created_at,
        modified_at=loan.modified_at,
    )
    history: list[HistoryRow] = []
    before: dict[str, str | int | None] = {}
    for number, change in enumerate(loan.history, start=1):
        state = _state(change)
        fields = _fields(before, state)
        history.append(
            HistoryRow(loan_id, number, change.change, change.changed_by, change.changed_at, fields)
        )
        before = state
    ours = _state(row)
    theirs = {k: {"old": v, "new": ours.get(k)} for k, v in loan.monolith.items() if v != ours.get(k)}
    history.append(
        HistoryRow(loan_id, version, "imported", im.IMPORT_ACTOR, loan.modified_at, _encode(theirs).decode())
    )
    by = loan.history[-1].changed_by if loan.history else loan.agent_id
    schedule = _schedule_rows(rows, start) if approved else None
    event = m.LoanChanged(
        loan_id=loan_id,
        customer_id=row.customer_id,
        agent_id=row.agent_id,
        status=loan.status,
        principal=row.principal,
        interest=row.interest,
        months=row.months,
        emi=row.emi,
        amount=row.amount,
        start_date=start,
        end_date=end,
        by=by,
        schedule=schedule,
        imported=True,
    )
    return Prepared(row, history, event)


@actor.handle("loans.import_batch", im.ImportLoans, roles={"admin"})
async def import_loans(req: im.ImportLoans, ctx: Ctx) -> im.ImportReply:
    """Write a batch of the monolith's loans and their history once each, with one event per loan."""
    if len(req.loans) > im.MAX_BATCH:
        raise BadRequest(f"loans: at most {im.MAX_BATCH} a batch", details={"field": "loans"})
    refused: list[im.Refused] = []
    prepared: dict[uuid.UUID, Prepared] = {}
    for loan in req.loans:
        problem = _problem(loan)
        if problem is not None:
            refused.append(im.Refused(legacy_id=loan.legacy_id, reason=problem))
        else:
            ready = _prepare(loan)
            prepared[ready.row.id] = ready
    async with ctx.pool.acquire() as con, con.transaction():
        rows = [p.row for p in prepared.values()]
        written = {r["id"] for r in await con.fetch(_INSERT_LOANS.sql, *_INSERT_LOANS.columns_of(rows))}
        new = [prepared[loan_id] for loan_id in written]
        history = [h for p in new for h in p.history]
        await con.execute(_INSERT_HISTORY.sql, *_INSERT_HISTORY.columns_of(history))
        events = []
        for p in new:
            event_type = _CHANGE_EVENT[p.row.status]
            with outbox_row(
                ctx.settings, event_type, p.row.id, p.row.version, p.event, occurred_at=p.row.modified_at
            ) as event:
                events.append(event)
        await con.execute(_INSERT_OUTBOX.sql, *_INSERT_OUTBOX.columns_of(events))
        stored = await _STORED.fetch(con, ids=list(prepared))
    inserted = sorted(prepared[i].row.legacy_id for i in written)
    present = sorted(r["legacy_id"] for r in stored if r["id"] not in written)
    total = sum((r["principal"] for r in stored), Decimal("0.00"))
    return im.ImportReply(inserted=inserted, present=present, refused=refused, principal=total)
