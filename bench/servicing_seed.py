"""The servicing bench's data: N active 12-month accounts, their installments, people and agents.

Made as an operator would: `loans migrate`, then set-based `INSERT … SELECT generate_series`, each
as the role that owns the schema. The state is the one a daily close of business to the business
date D has just left: installments due before D are OVERDUE (and notified), those due by D + the
reminder days reminded, each account's days past due and bucket judged at D, `cob_date` = D. So a
COB to D + 1 does a day's work: every account judged again, the installments due on D marked
overdue, the buckets that cross a boundary moved, the reminders of D + 4 sent, all as events.

Accounts: 80 % opened in the last 30 days (no installment past due: current), 20 % opened 30–180
days ago and never paid (their arrears run from 1 to 150 days: every bucket). Schedules are
computed once per distinct principal (actors.loans.money, the loans actor's own rule) and joined in.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import date
from decimal import Decimal

import asyncpg

from actors.contracts.config import Settings
from actors.loans import money
from actors.runtime.db import role_dsn
from actors.runtime.migrate import migrate
from bench import data
from bench.data import Shape

MONTHS = 12
PRINCIPALS = tuple(
    Decimal(p) for p in ("50000", "120000", "250000.50", "480000", "900000", "1500000", "2600000", "4000000")
)
LOAN_PREFIX = "bench-svc-loan-"
HALVES = 2  # the inserts run on this many connections (one per core)

# $1 first, $2 end (exclusive), $3 business date, $4 customers, $5 agents, $6 principals, $7 rates
ACCOUNTS_SQL = f"""
INSERT INTO accounts (loan_id, customer_id, agent_id, principal, interest, months, start_date,
                      outstanding_principal, days_past_due, bucket, cob_date)
SELECT md5('{LOAN_PREFIX}' || i)::uuid, md5('bench-customer-' || (i % $4))::uuid,
       md5('bench-agent-' || (i % $5))::uuid, k.principal, k.rate, {MONTHS}, s.start_date, k.principal,
       d.dpd,
       CASE WHEN d.dpd = 0 THEN 'current' WHEN d.dpd <= 30 THEN '1-30' WHEN d.dpd <= 60 THEN '31-60'
            WHEN d.dpd <= 90 THEN '61-90' ELSE '90+' END,
       $3::date
FROM generate_series($1::int, $2::int - 1) AS i
JOIN unnest($6::numeric[], $7::numeric[]) WITH ORDINALITY AS k(principal, rate, n)
  ON k.n = i % cardinality($6::numeric[]) + 1,
LATERAL (SELECT $3::date - CASE WHEN i % 10 < 8 THEN (i * 7) % 30 ELSE 30 + (i * 13) % 150 END
                AS start_date) AS s,
LATERAL (SELECT GREATEST($3::date - (s.start_date + interval '1 month')::date, 0) AS dpd) AS d"""

# $1 first, $2 end, $3 business date, $4 reminder days, $5 loan principal, $6 number, $7 interest,
# $8 principal: one schedule row per (distinct principal, number).
INSTALLMENTS_SQL = f"""
INSERT INTO installments (loan_id, number, due_date, interest, principal, status, overdue_notified,
                          reminded)
SELECT a.loan_id, r.number, d.due, r.interest, r.principal,
       CASE WHEN d.due < $3::date THEN 'OVERDUE' ELSE 'DUE' END, d.due < $3::date,
       d.due <= $3::date + $4::int
FROM generate_series($1::int, $2::int - 1) AS i
JOIN accounts a ON a.loan_id = md5('{LOAN_PREFIX}' || i)::uuid
JOIN unnest($5::numeric[], $6::int[], $7::numeric[], $8::numeric[]) AS r(loan_principal, number,
     interest, principal) ON r.loan_principal = a.principal,
LATERAL (SELECT (a.start_date + r.number * interval '1 month')::date AS due) AS d"""

AGENTS_SQL = """
INSERT INTO agents (id, status, deleted, version)
SELECT md5('bench-agent-' || i)::uuid, 'active', false, 1 FROM generate_series(0, $1 - 1) AS i"""


def loan_id(i: int) -> str:
    return str(data.bench_uuid("svc-loan", i))


def schedules() -> tuple[list[Decimal], list[Decimal], list[list[object]]]:
    """(principals, their rates, the rows' columns: loan principal, number, interest, principal)."""
    rates = [money.interest_rate_for(p) for p in PRINCIPALS]
    columns: list[list[object]] = [[], [], [], []]
    for p, rate in zip(PRINCIPALS, rates, strict=True):
        for row in money.schedule(p, rate, MONTHS):
            for column, value in zip(columns, (p, row.month, row.interest, row.principal), strict=True):
                column.append(value)
    return list(PRINCIPALS), rates, columns


async def seed(
    settings: Settings,
    accounts: int,
    shape: Shape,
    on: date,
    *,
    fillfactor: int | None = None,
    loan_id_statistics: int | None = None,
) -> dict[str, float]:
    """Migrate and fill the database of `settings`; the business date is `on`. Returns timings.
    What-ifs: `fillfactor` of the accounts table (room on each page for COB's updates to be HOT);
    `loan_id_statistics`, the statistics target of accounts.loan_id (histogram bins: Postgres does not
    interpolate within a bin for uuid, so a batch's range is estimated at 1 row or at a whole bin)."""
    took: dict[str, float] = {}
    t0 = time.monotonic()
    await migrate(settings)
    took["migrate"] = time.monotonic() - t0
    t0 = time.monotonic()
    await _people(settings, shape)
    took["people"] = time.monotonic() - t0
    dsn = role_dsn(settings, "servicing")
    con = await asyncpg.connect(dsn, server_settings={"search_path": "servicing"})
    try:
        await con.execute("UPDATE business_date SET business_date = $1", on)
        if fillfactor is not None:
            await con.execute(f"ALTER TABLE accounts SET (fillfactor = {int(fillfactor)})")
        await con.execute(AGENTS_SQL, shape.agents)
        took.update(await _accounts(dsn, con, accounts, shape, on, settings.due_reminder_days))
        if loan_id_statistics is not None:
            await con.execute(
                f"ALTER TABLE accounts ALTER COLUMN loan_id SET STATISTICS {int(loan_id_statistics)}"
            )
        t0 = time.monotonic()
        # hint bits set and statistics made now, not during the measured COB
        await con.execute("VACUUM (ANALYZE) accounts, installments, agents")
        took["vacuum"] = time.monotonic() - t0
    finally:
        await con.close()
    return took


async def _people(settings: Settings, shape: Shape) -> None:
    """The users (an admin among them) and the loans actor's parties, as bench/data.py makes them."""
    hashed = "$2b$12$" + "x" * 53  # nobody logs in here: no bcrypt needed
    users = await asyncpg.connect(role_dsn(settings, "users"), server_settings={"search_path": "users"})
    try:
        await users.execute(data.USERS_SQL, hashed, shape.customers, shape.agents)
    finally:
        await users.close()
    loans = await asyncpg.connect(role_dsn(settings, "loans"), server_settings={"search_path": "loans"})
    try:
        await loans.execute(data.PARTIES_SQL, shape.customers, shape.agents)
    finally:
        await loans.close()


async def _accounts(
    dsn: str, con: asyncpg.Connection, n: int, shape: Shape, on: date, reminder_days: int
) -> dict[str, float]:
    """Accounts, then installments, each in halves on connections of their own; the installments'
    secondary index and foreign key are made after the rows (a sort and one join, not 12 N
    random index insertions and lookups)."""
    principals, rates, rows = schedules()
    took: dict[str, float] = {}
    bounds = [n * k // HALVES for k in range(HALVES + 1)]
    parts = list(itertools.pairwise(bounds))
    t0 = time.monotonic()
    await _each(
        dsn, [(ACCOUNTS_SQL, (a, b, on, shape.customers, shape.agents, principals, rates)) for a, b in parts]
    )
    took["accounts"] = time.monotonic() - t0
    index = await con.fetchval("SELECT pg_get_indexdef('installments_open_idx'::regclass)")
    fk = await con.fetchval(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'installments'::regclass AND contype = 'f'"
    )
    fk_def = await con.fetchval("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", fk)
    await con.execute(f'ALTER TABLE installments DROP CONSTRAINT "{fk}"')
    await con.execute("DROP INDEX installments_open_idx")
    t0 = time.monotonic()
    await _each(dsn, [(INSTALLMENTS_SQL, (a, b, on, reminder_days, *rows)) for a, b in parts])
    took["installments"] = time.monotonic() - t0
    t0 = time.monotonic()
    await _each(dsn, [(index, ()), (f'ALTER TABLE installments ADD CONSTRAINT "{fk}" {fk_def}', ())])
    took["index_and_key"] = time.monotonic() - t0
    return took


async def _each(dsn: str, statements: list[tuple[str, tuple[object, ...]]]) -> None:
    """Each statement on a connection of its own, all at once."""

    async def one(sql: str, args: tuple[object, ...]) -> None:
        own = await asyncpg.connect(
            dsn, server_settings={"search_path": "servicing", "maintenance_work_mem": "256MB"}
        )
        try:
            await own.execute(sql, *args)
        finally:
            await own.close()

    await asyncio.gather(*(one(sql, args) for sql, args in statements))
