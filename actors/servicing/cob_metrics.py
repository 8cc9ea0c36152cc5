"""What the servicing workers report about the close of business on /metrics (design.md §14).

Read from the schema at each scrape, so every servicing worker reports the same figures: a
dashboard or alert takes `max` over them. The latest run's batches show its progress; the
business date's distance from the UTC date shows a COB that has not run.
"""

from __future__ import annotations

import asyncpg

from actors.servicing.actor import actor

# The latest run (the one running, else the last one finished).
_LATEST = """SELECT batches, batches_done, accounts, status = 'RUNNING' AS running
             FROM cob_runs ORDER BY (status = 'RUNNING') DESC, business_date DESC LIMIT 1"""


@actor.gauge(
    "loans_servicing_cob_batches",
    "Batches of the latest close-of-business run: all of them (state=total) and those done",
    ("state",),
)
async def cob_batches(pool: asyncpg.Pool) -> dict[tuple[str, ...], float]:
    row = await pool.fetchrow(_LATEST)
    total, done = (row["batches"], row["batches_done"]) if row else (0, 0)
    return {("total",): total, ("done",): done}


@actor.gauge("loans_servicing_cob_running", "1 while a close-of-business run is under way")
async def cob_running(pool: asyncpg.Pool) -> dict[tuple[str, ...], float]:
    running = await pool.fetchval("SELECT count(*) FROM cob_runs WHERE status = 'RUNNING'")
    return {(): 1.0 if running else 0.0}


@actor.gauge(
    "loans_servicing_business_date_lag_days",
    "Days the business date is behind the UTC date (more than 1: a close of business is overdue)",
)
async def business_date_lag(pool: asyncpg.Pool) -> dict[tuple[str, ...], float]:
    lag = await pool.fetchval("SELECT (now() AT TIME ZONE 'UTC')::date - business_date FROM business_date")
    return {(): float(lag or 0)}
