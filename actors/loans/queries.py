"""SQL of the loans schema (search_path is `loans`).

Statements take named parameters (actors/runtime/sql.py); the writes that store several rows in
one statement take them as row types declared here beside them, built by records.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

from actors.runtime.events import OutboxRow
from actors.runtime.idempotency import STORE_ANSWER, StoredAnswer
from actors.runtime.sql import Statement

LOAN_COLUMNS = (
    "id, customer_id, customer_email, customer_name, agent_id, agent_email, principal, interest, "
    "months, emi, amount, status, start_date, end_date, version, created_at, modified_at"
)


class HistoryRow(NamedTuple):
    """A change's row in loan_history."""

    loan_id: UUID
    version: int
    change: str
    changed_by: UUID
    changed_at: datetime
    fields: str  # JSON: {"name": {"old": …, "new": …}} of each tracked field changed


class NewLoanRow(NamedTuple):
    """What a new loan's statement writes besides its event: the loan's columns up to amount (its
    status is NEW, its version 1), the time it is created and modified at, its history's fields."""

    id: UUID
    customer_id: UUID
    customer_email: str
    customer_name: str
    agent_id: UUID
    agent_email: str
    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    created_at: datetime
    fields: str


_HISTORY_AND_EVENT = """history AS (
    INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
    VALUES (:loan_id, :version, :change, :changed_by, :changed_at, :fields::jsonb)),
event AS (
    INSERT INTO outbox (id, subject, payload, headers)
    VALUES (:event_id, :event_subject, :event_payload, :event_headers::jsonb))"""


@cache
def record_change(keyed: bool) -> Statement:
    """One statement for what follows a decision or an edit, in its transaction: the history row,
    the event and, `keyed`, the answer stored under the request's key. It returns true if it
    stored the answer (or had none to store): a keyed request that gets nothing back was answered
    before, and replays that answer."""
    if keyed:
        return Statement(f"WITH {_HISTORY_AND_EVENT}\n{STORE_ANSWER}", HistoryRow, OutboxRow, StoredAnswer)
    return Statement(f"WITH {_HISTORY_AND_EVENT}\nSELECT true", HistoryRow, OutboxRow)


@cache
def create_loan(keyed: bool) -> Statement:
    """A new loan in one statement, without a transaction of its own: the loan and its history row
    (NewLoanRow), its event (OutboxRow) and, `keyed`, the answer stored under the request's key
    (StoredAnswer). The loan is written only if the answer is stored: a key answered before makes
    the statement write nothing and count 0, and the caller replays that answer. The columns are
    cast: in INSERT … SELECT a parameter does not take its column's type.
    """
    answer = f"answer AS ({STORE_ANSWER}),\n" if keyed else ""
    only_if_stored = "WHERE EXISTS (SELECT FROM answer)" if keyed else ""
    rows = (NewLoanRow, OutboxRow, StoredAnswer) if keyed else (NewLoanRow, OutboxRow)
    return Statement(
        f"""WITH {answer}loan AS (
    INSERT INTO loans (id, customer_id, customer_email, customer_name, agent_id, agent_email,
                       principal, interest, months, emi, amount, status, created_at, modified_at)
    SELECT :id::uuid, :customer_id::uuid, :customer_email::text, :customer_name::text,
           :agent_id::uuid, :agent_email::text, :principal::numeric, :interest::numeric,
           :months::integer, :emi::numeric, :amount::numeric, 'NEW',
           :created_at::timestamptz, :created_at::timestamptz
    {only_if_stored}
    RETURNING id, version, agent_id, modified_at),
history AS (
    INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
    SELECT id, version, 'created', agent_id, modified_at, :fields::jsonb FROM loan),
event AS (
    INSERT INTO outbox (id, subject, payload, headers)
    SELECT :event_id::uuid, :event_subject::text, :event_payload::bytea, :event_headers::jsonb FROM loan)
SELECT count(*) FROM loan""",
        *rows,
    )


# The status condition makes the first decision win: a second one updates nothing. A change's
# time (`at`) is the worker's clock, as a new loan's and every event's are.
decide_loan = Statement(f"""
UPDATE loans SET status = :status, start_date = :start_date,
                 -- from the row's months as they are when the lock is taken (an edit may have
                 -- just changed them); date + interval clamps to the month's last day
                 end_date = (:start_date::date + make_interval(months => months))::date,
                 version = version + 1, modified_at = :at
WHERE id = :id AND status = 'NEW'
RETURNING {LOAN_COLUMNS}""")

loan_status = Statement("SELECT status FROM loans WHERE id = :id")

loan_for_update = Statement(f"SELECT {LOAN_COLUMNS} FROM loans WHERE id = :id FOR UPDATE")

edit_loan = Statement(f"""
UPDATE loans SET principal = :principal, months = :months, interest = :interest, emi = :emi,
                 amount = :amount, status = 'NEW', start_date = NULL, end_date = NULL,
                 version = version + 1, modified_at = :at
WHERE id = :id
RETURNING {LOAN_COLUMNS}""")

get_loan = Statement(f"SELECT {LOAN_COLUMNS} FROM loans WHERE id = :id")

history = Statement("""
SELECT version, change, changed_by, changed_at, fields::text AS fields, count(*) OVER () AS total
FROM loan_history WHERE loan_id = :loan_id
ORDER BY version
LIMIT :limit OFFSET :offset""")

FILTERS = ("status", "customer_id", "agent_id")


@cache
def list_loans(filters: tuple[str, ...]) -> tuple[Statement, Statement]:
    """(page, count) queries: newest change first, narrowed by the filters given.

    One text per combination of filters, so each gets its own prepared plan on the index that fits
    it. The total is a separate count: a window count over every matching row would make the
    planner read them all (a sequential scan and a sort) just to return twenty.
    """
    where = " AND ".join(f"{name} = :{name}" for name in filters) or "true"
    page = f"""
SELECT {LOAN_COLUMNS} FROM loans
WHERE {where}
ORDER BY modified_at DESC, id DESC
LIMIT :limit OFFSET :offset"""
    return Statement(page), Statement(f"SELECT count(*) FROM loans WHERE {where}")


def customer_loans(customer_id: UUID, status: str | None) -> tuple[Statement, dict[str, Any]]:
    """The page query of a customer's own loans, newest first, and its arguments but `limit` and
    `offset`. The total is counted once beside the page (an InitPlan): without a status, an
    index-only count of the customer's index entries. A window count would fetch every loan of
    the customer to return twenty (at 200 loans a customer, three times the Postgres CPU), and
    one text for both cases (`:status IS NULL OR status = :status`) is planned anew on every call."""
    if status is None:
        return _CUSTOMER_LOANS, {"customer_id": customer_id}
    return _CUSTOMER_LOANS_BY_STATUS, {"customer_id": customer_id, "status": status}


_CUSTOMER_LOANS = Statement(f"""
SELECT {LOAN_COLUMNS}, (SELECT count(*) FROM loans WHERE customer_id = :customer_id) AS total
FROM loans WHERE customer_id = :customer_id
ORDER BY created_at DESC, id DESC
LIMIT :limit OFFSET :offset""")

_CUSTOMER_LOANS_BY_STATUS = Statement(f"""
SELECT {LOAN_COLUMNS},
       (SELECT count(*) FROM loans WHERE customer_id = :customer_id AND status = :status) AS total
FROM loans WHERE customer_id = :customer_id AND status = :status
ORDER BY created_at DESC, id DESC
LIMIT :limit OFFSET :offset""")
