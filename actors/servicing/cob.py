"""Close of business (design.md §11): a run to date b judges every active account's delinquency
at b, spread over every servicing worker, then moves the business date to b.

A run is started by an admin (`servicing.run_cob`) or by itself (when `cob_auto`, each worker
checks every `cob_auto_check_seconds` whether the UTC date has passed the business date): one
transaction locks the business date's row (one run at a time), writes the run, its batches (loan
id ranges) and one work item per batch into the outbox. Each batch is judged in one transaction
by whichever worker pulls its item (actors/runtime/work_queue.py); the last one moves the date.
Each account is judged once per date (its `cob_date`), so a redelivered item changes nothing.

Accounts opened during a run outside every batch's range wait for the next run.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from actors.contracts import servicing as m
from actors.contracts.config import Settings
from actors.contracts.errors import BadRequest, Conflict, NotFound
from actors.runtime import idempotency
from actors.runtime.db import Conn
from actors.runtime.work_queue import work_subject
from actors.servicing import cob_sql as q
from actors.servicing.actor import Ctx, ServicingState, actor
from actors.servicing.dates import business_date

log = logging.getLogger("actors.servicing.cob")
TOPIC = "servicing.cob"
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # `done_by` of the batches this process did


def _progress(row: asyncpg.Record) -> m.CloseOfBusiness:
    return m.CloseOfBusiness(
        date=row["date"],
        status=row["status"],
        batches=row["batches"],
        batches_done=row["batches_done"],
        accounts=row["accounts"],
    )


def today() -> date:
    return datetime.now(UTC).date()


async def start_run(con: Conn, settings: Settings, to: date, requested_by: Any) -> m.CloseOfBusiness:
    """Start the run to `to` (in the caller's transaction), or say how the one to `to` stands.

    A date not after the business date: DONE, nothing done. Another run in progress: 409."""
    current: date = await q.LOCK_DATE.fetchval(con)
    if to <= current:
        row = await q.RUN.fetchrow(con, date=to)
        return (
            _progress(row)
            if row
            else m.CloseOfBusiness(date=to, status="DONE", batches=0, batches_done=0, accounts=0)
        )
    if to > today() and not settings.allow_future_business_date:
        raise BadRequest("date: after today's date (UTC)", details={"field": "date"})
    running = await q.RUNNING.fetchrow(con)
    if running is not None:
        if running["date"] == to:
            return _progress(running)
        raise Conflict(
            f"a close of business to {running['date']} is running",
            code="cob_running",
            details={"date": str(running["date"])},
        )
    row = await q.START_RUN.fetchrow(
        con,
        date=to,
        batch_size=settings.cob_batch_size,
        requested_by=requested_by,
        work_subject=work_subject(settings, TOPIC),
    )
    assert row is not None
    log.info(
        "close of business to %s started: %d accounts in %d batches", to, row["accounts"], row["batches"]
    )
    return _progress(row)


@actor.handle("servicing.run_cob", m.RunCloseOfBusiness, roles={"admin"})
async def run_cob(req: m.RunCloseOfBusiness, ctx: Ctx) -> m.CloseOfBusiness:
    """Start a close of business to a date; one not after the business date is DONE, nothing done."""
    claim = idempotency.claim(ctx, req)
    await claim.replay_if_answered(ctx.pool)
    async with ctx.pool.acquire() as con, con.transaction():
        answer = await start_run(con, ctx.settings, req.date, ctx.user.id)
        await claim.store(con, answer)
    return answer


@actor.handle("servicing.cob_status", m.CloseOfBusinessDate, roles={"admin"})
async def cob_status(req: m.CloseOfBusinessDate, ctx: Ctx) -> m.CloseOfBusiness:
    """How the close of business to a date stands; none to that date → 404."""
    row = await q.RUN.fetchrow(ctx.pool, date=req.date)
    if row is None:
        raise NotFound(f"no close of business to {req.date}")
    return _progress(row)


@actor.on_work("servicing-cob", TOPIC, m.CloseOfBusinessWork)
async def close_batch(
    item: m.CloseOfBusinessWork, con: Conn, state: ServicingState, settings: Settings
) -> None:
    """Judge one batch's accounts at the run's date; the last batch moves the business date."""
    batch = await q.LOCK_BATCH.fetchrow(con, date=item.date, number=item.number)
    if batch is None:
        log.warning("close of business to %s has no batch %d; item dropped", item.date, item.number)
        return
    if batch["done"]:
        return  # delivered again after its commit (a worker that died before its ack)
    span = {"date": item.date, "first_loan": batch["first_loan"], "last_loan": batch["last_loan"]}
    await q.LOCK_ACCOUNTS.fetchval(con, **span)
    judged = await q.JUDGE.fetchrow(
        con, **span, reminder_days=settings.due_reminder_days, events_prefix=settings.events_prefix
    )
    assert judged is not None
    status = await q.FINISH_BATCH.fetchval(con, date=item.date, number=item.number, worker=WORKER)
    log.info(
        "close of business to %s: batch %d judged %d accounts, %d events",
        item.date,
        item.number,
        judged["accounts"],
        judged["events"],
    )
    if status == "DONE":
        log.info("close of business to %s done: the business date is moved", item.date)


def _auto_period(settings: Settings) -> float | None:
    return settings.cob_auto_check_seconds if settings.cob_auto else None


@actor.every("servicing-cob-auto", _auto_period)
async def close_business_by_itself(pool: asyncpg.Pool, settings: Settings, state: ServicingState) -> None:
    """Once the UTC date has passed the business date, start the run to it (as an admin would)."""
    to = today()
    if await business_date(pool) >= to:
        return
    try:
        async with pool.acquire() as con, con.transaction():
            await start_run(con, settings, to, None)
    except Conflict as exc:  # an admin's run to another date is in progress: next time
        log.info("automatic close of business to %s waits: %s", to, exc.message)
