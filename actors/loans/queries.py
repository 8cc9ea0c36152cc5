"""SQL of the loans schema (search_path is `loans`)."""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

from actors.runtime import idempotency

LOAN_COLUMNS = (
    "id, customer_id, customer_email, customer_name, agent_id, agent_email, principal, interest, "
    "months, emi, amount, status, start_date, end_date, version, created_at, modified_at"
)

# A change's history row ($1-$6) and its event's outbox row ($7-$10, actors.runtime.events.OutboxRow).
_HISTORY_AND_EVENT = """history AS (
    INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb)),
event AS (
    INSERT INTO outbox (id, subject, payload, headers) VALUES ($7, $8, $9, $10::jsonb))"""


@cache
def record_change(keyed: bool) -> str:
    """One statement for what follows a decision or an edit, in its transaction: the history row,
    the event and, `keyed`, the answer stored under the request's key ($11-$15,
    actors.runtime.idempotency.store_args). It returns true if it stored the answer (or had none to store):
    a keyed request that gets nothing back was answered before, and replays that answer."""
    if keyed:
        return f"WITH {_HISTORY_AND_EVENT}\n{idempotency.store('idempotency', 11)}"
    return f"WITH {_HISTORY_AND_EVENT}\nSELECT true"


@cache
def create_loan(keyed: bool) -> str:
    """A new loan in one statement, without a transaction of its own: the loan ($1-$12: the
    columns of `m.Loan` up to amount, then the time it is created and modified at), its history
    row ($13: the fields), its event (the outbox row, $14-$17) and, `keyed`, the answer stored
    under the request's key ($18-$22). The loan is written only if the answer is stored: a key
    answered before makes the statement write nothing and count 0, and the caller replays that
    answer. The columns are cast: in INSERT … SELECT a parameter does not take its column's type.
    """
    answer = f"answer AS ({idempotency.store('idempotency', 18)}),\n" if keyed else ""
    only_if_stored = "WHERE EXISTS (SELECT FROM answer)" if keyed else ""
    return f"""WITH {answer}loan AS (
    INSERT INTO loans (id, customer_id, customer_email, customer_name, agent_id, agent_email,
                       principal, interest, months, emi, amount, status, created_at, modified_at)
    SELECT $1::uuid, $2::uuid, $3::text, $4::text, $5::uuid, $6::text,
           $7::numeric, $8::numeric, $9::integer, $10::numeric, $11::numeric, 'NEW',
           $12::timestamptz, $12::timestamptz
    {only_if_stored}
    RETURNING id, version, agent_id, modified_at),
history AS (
    INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
    SELECT id, version, 'created', agent_id, modified_at, $13::jsonb FROM loan),
event AS (
    INSERT INTO outbox (id, subject, payload, headers)
    SELECT $14::uuid, $15::text, $16::bytea, $17::jsonb FROM loan)
SELECT count(*) FROM loan"""


# The status condition makes the first decision win: a second one updates nothing. A change's
# time ($4 here, $7 in edit_loan) is the worker's clock, as a new loan's and every event's are.
decide_loan = f"""
UPDATE loans SET status = $2, start_date = $3,
                 -- from the row's months as they are when the lock is taken (an edit may have
                 -- just changed them); date + interval clamps to the month's last day
                 end_date = ($3::date + make_interval(months => months))::date,
                 version = version + 1, modified_at = $4
WHERE id = $1 AND status = 'NEW'
RETURNING {LOAN_COLUMNS}"""

loan_status = "SELECT status FROM loans WHERE id = $1"

loan_for_update = f"SELECT {LOAN_COLUMNS} FROM loans WHERE id = $1 FOR UPDATE"

edit_loan = f"""
UPDATE loans SET principal = $2, months = $3, interest = $4, emi = $5, amount = $6, status = 'NEW',
                 start_date = NULL, end_date = NULL, version = version + 1, modified_at = $7
WHERE id = $1
RETURNING {LOAN_COLUMNS}"""

get_loan = f"SELECT {LOAN_COLUMNS} FROM loans WHERE id = $1"

history = """
SELECT version, change, changed_by, changed_at, fields::text AS fields, count(*) OVER () AS total
FROM loan_history WHERE loan_id = $1
ORDER BY version
LIMIT $2 OFFSET $3"""

FILTERS = ("status", "customer_id", "agent_id")


@cache
def list_loans(filters: tuple[str, ...]) -> tuple[str, str]:
    """(page, count) queries: newest change first, narrowed by the filters given.

    One text per combination of filters, so each gets its own prepared plan on the index that fits
    it. The total is a separate count: a window count over every matching row would make the
    planner read them all (a sequential scan and a sort) just to return twenty.
    """
    where = " AND ".join(f"{name} = ${i}" for i, name in enumerate(filters, start=1)) or "true"
    n = len(filters)
    page = f"""
SELECT {LOAN_COLUMNS} FROM loans
WHERE {where}
ORDER BY modified_at DESC, id DESC
LIMIT ${n + 1} OFFSET ${n + 2}"""
    return page, f"SELECT count(*) FROM loans WHERE {where}"


def customer_loans(customer_id: UUID, status: str | None) -> tuple[str, tuple[Any, ...]]:
    """The page query of a customer's own loans, newest first, and its arguments before
    LIMIT/OFFSET. The total is counted once beside the page (an InitPlan): without a status, an
    index-only count of the customer's index entries. A window count would fetch every loan of
    the customer to return twenty (at 200 loans a customer, three times the Postgres CPU), and
    one text for both cases (`$2 IS NULL OR status = $2`) is planned anew on every call."""
    if status is None:
        return _CUSTOMER_LOANS, (customer_id,)
    return _CUSTOMER_LOANS_BY_STATUS, (customer_id, status)


_CUSTOMER_LOANS = f"""
SELECT {LOAN_COLUMNS}, (SELECT count(*) FROM loans WHERE customer_id = $1) AS total
FROM loans WHERE customer_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2 OFFSET $3"""

_CUSTOMER_LOANS_BY_STATUS = f"""
SELECT {LOAN_COLUMNS}, (SELECT count(*) FROM loans WHERE customer_id = $1 AND status = $2) AS total
FROM loans WHERE customer_id = $1 AND status = $2
ORDER BY created_at DESC, id DESC
LIMIT $3 OFFSET $4"""
