"""SQL of a repayment write (record or reverse): one read and one write, in one transaction.

The read locks the account and reads everything the write needs in one statement; the write
stores the transaction change, the installments, the account, the events and the idempotent
answer in one statement (as loans.create does): BEGIN, read, write, COMMIT, where it took twelve.
The row types are the write's parameters, built by actors/servicing/books.py and repayments.py.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import NamedTuple
from uuid import UUID

from actors.runtime.idempotency import STORE_ANSWER, StoredAnswer
from actors.runtime.sql import Statement

# The account locked, and what a write needs beside it. `fresh` says whether the snapshot the
# statement reads the installments and repayments in is as new as the locked row: in READ
# COMMITTED, a lock waited for returns the row as the writer that held it committed it, but the
# statement's other reads keep the snapshot taken before the wait. Every write of installments
# or transactions (a repayment, a reversal, a COB batch) updates the account row in its
# transaction, so a locked row that is the snapshot's own version (the same xmin) means nothing
# the statement read is stale; otherwise the caller reads again under the lock it now holds.
# The agent's standing rides along (null for a caller who is not an agent, or not known here).
_READ = """WITH locked AS MATERIALIZED (
    SELECT loan_id, customer_id, agent_id, principal, interest, start_date, status, bucket,
           version, cob_date, xmin AS row_version
    FROM accounts WHERE loan_id = :loan_id FOR UPDATE)
SELECT d.business_date, g.status AS agent_status, g.deleted AS agent_deleted, a.*,
       a.row_version = (SELECT xmin FROM accounts WHERE loan_id = :loan_id) AS fresh,
       i.*, r.*{target_columns}
FROM business_date d
LEFT JOIN agents g ON g.id = :agent_id
LEFT JOIN locked a ON true
LEFT JOIN LATERAL (
    SELECT array_agg(number ORDER BY number) AS numbers, array_agg(due_date ORDER BY number) AS due_dates,
           array_agg(interest ORDER BY number) AS interests,
           array_agg(principal ORDER BY number) AS principals
    FROM installments WHERE loan_id = a.loan_id) i ON true
LEFT JOIN LATERAL (
    SELECT array_agg(id ORDER BY seq) AS repayment_ids, array_agg(amount ORDER BY seq) AS amounts,
           array_agg(paid_on ORDER BY seq) AS paid_ons
    FROM transactions WHERE loan_id = a.loan_id AND NOT reversed) r ON true{target_join}"""
READ = Statement(_READ.format(target_columns="", target_join=""))
# A reversal's read: the repayment reversed too (the account's lock keeps it as read).
READ_WITH_TARGET = Statement(
    _READ.format(
        target_columns=""",
       t.id AS target_id, t.amount AS target_amount, t.paid_on AS target_paid_on,
       t.reference AS target_reference, t.allocation::text AS target_allocation,
       t.recorded_by AS target_recorded_by, t.recorded_at AS target_recorded_at,
       t.reversed AS target_reversed""",
        target_join="""
LEFT JOIN transactions t ON t.id = :transaction_id AND t.loan_id = a.loan_id""",
    )
)


class BooksRow(NamedTuple):
    """The Ledger's state written back: every installment's columns (only the changed ones are
    written), the account's sums, status, delinquency and version."""

    loan_id: UUID
    number: list[int]
    paid_interest: list[Decimal]
    paid_principal: list[Decimal]
    waived_interest: list[Decimal]
    installment_status: list[str]
    account_status: str
    closed_on: date | None
    outstanding_principal: Decimal
    total_paid_principal: Decimal
    total_paid_interest: Decimal
    total_waived_interest: Decimal
    days_past_due: int
    bucket: str
    version: int


class EventsRow(NamedTuple):
    """The change's events (one to three), in the order they are to be published."""

    event_id: list[UUID]
    event_subject: list[str]
    event_payload: list[bytes]
    event_headers: list[str]  # JSON each


class RepaymentRow(NamedTuple):
    """The transaction a repayment inserts (its loan is BooksRow's)."""

    id: UUID
    amount: Decimal
    paid_on: date
    reference: str | None
    allocation: str  # JSON
    recorded_by: UUID
    recorded_at: datetime


class ReversalRow(NamedTuple):
    """The repayment a reversal marks, and the others' allocations written again."""

    transaction_id: UUID
    reason: str
    reversed_by: UUID
    reallocated_id: list[UUID]
    reallocated_allocation: list[str]  # JSON each


_INSERT_REPAYMENT = """change AS (
    INSERT INTO transactions (id, loan_id, amount, paid_on, reference, allocation, recorded_by, recorded_at)
    SELECT :id::uuid, :loan_id::uuid, :amount::numeric, :paid_on::date, :reference::text,
           :allocation::jsonb, :recorded_by::uuid, :recorded_at::timestamptz
    WHERE EXISTS (SELECT FROM answer)),"""
# Only the rows whose allocation changed are written again.
_REVERSE = """change AS (
    UPDATE transactions SET reversed = true, reversal_reason = :reason::text,
                            reversed_by = :reversed_by::uuid, reversed_at = now()
    WHERE id = :transaction_id::uuid AND EXISTS (SELECT FROM answer)),
reallocated AS (
    UPDATE transactions AS t SET allocation = u.allocation::jsonb
    FROM unnest(:reallocated_id::uuid[], :reallocated_allocation::text[]) AS u(id, allocation)
    WHERE t.id = u.id AND t.allocation <> u.allocation::jsonb AND EXISTS (SELECT FROM answer)),"""
# Only the installments whose columns change are written (a repayment touches one or two of 480).
_BOOKS_AND_EVENTS = """installments_saved AS (
    UPDATE installments AS i
    SET paid_interest = u.paid_interest, paid_principal = u.paid_principal,
        waived_interest = u.waived_interest, status = u.status
    FROM unnest(:number::integer[], :paid_interest::numeric[], :paid_principal::numeric[],
                :waived_interest::numeric[], :installment_status::text[])
         AS u(number, paid_interest, paid_principal, waived_interest, status)
    WHERE i.loan_id = :loan_id::uuid AND i.number = u.number
      AND (i.paid_interest, i.paid_principal, i.waived_interest, i.status)
          IS DISTINCT FROM (u.paid_interest, u.paid_principal, u.waived_interest, u.status)
      AND EXISTS (SELECT FROM answer)),
account_saved AS (
    UPDATE accounts
    SET status = :account_status::text, closed_on = :closed_on::date,
        outstanding_principal = :outstanding_principal::numeric,
        paid_principal = :total_paid_principal::numeric, paid_interest = :total_paid_interest::numeric,
        waived_interest = :total_waived_interest::numeric, days_past_due = :days_past_due::integer,
        bucket = :bucket::text, version = :version::integer, updated_at = now()
    WHERE loan_id = :loan_id::uuid AND EXISTS (SELECT FROM answer)),
events AS (
    INSERT INTO outbox (id, subject, payload, headers)
    SELECT e.id, e.subject, e.payload, e.headers::jsonb
    FROM unnest(:event_id::uuid[], :event_subject::text[], :event_payload::bytea[],
                :event_headers::text[]) WITH ORDINALITY AS e(id, subject, payload, headers, n)
    WHERE EXISTS (SELECT FROM answer)
    ORDER BY e.n)
SELECT EXISTS (SELECT FROM answer)"""


@cache
def write(reversal: bool, keyed: bool) -> Statement:
    """The write of a repayment (RepaymentRow) or a reversal (ReversalRow), then BooksRow,
    EventsRow and, `keyed`, StoredAnswer. Every change waits on the answer CTE: a key answered
    before (or by a concurrent request that committed first) stores nothing, so the statement
    writes nothing and returns false, and the caller replays that answer."""
    answer = f"answer AS ({STORE_ANSWER})" if keyed else "answer AS (SELECT true)"
    change, row = (_REVERSE, ReversalRow) if reversal else (_INSERT_REPAYMENT, RepaymentRow)
    rows = (row, BooksRow, EventsRow, StoredAnswer) if keyed else (row, BooksRow, EventsRow)
    return Statement(f"WITH {answer},\n{change}\n{_BOOKS_AND_EVENTS}", *rows)
