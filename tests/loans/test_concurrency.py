"""Concurrent writes on one loan through the edge: one decision wins, no edit is lost."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import date

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.loans import LOANS, LoansTable, create, decide, edit, history, months_later
from tests.support.people import Cast
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio


async def test_fifty_concurrent_decisions_one_wins(
    client: httpx.AsyncClient, people: Cast, table: LoansTable
) -> None:
    """50 concurrent decisions on one NEW loan: one 200, 49 × 409, one decision recorded."""
    loan = await create(client, people.agent, people.customer)
    statuses = [random.choice(("APPROVED", "REJECTED")) for _ in range(50)]
    statuses[:2] = ["APPROVED", "REJECTED"]
    random.shuffle(statuses)
    responses = await asyncio.gather(*(decide(client, people.admin, loan["id"], s) for s in statuses))

    assert Counter(r.status_code for r in responses) == {200: 1, 409: 49}, [r.text for r in responses]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"loan_already_decided"}
    (winner,) = (r.json()["data"] for r in responses if r.status_code == 200)
    assert winner["version"] == 2
    decided = await client.get(f"{LOANS}/{loan['id']}", headers=people.admin.headers)
    assert decided.json()["data"] == winner
    assert (
        await table.history_rows(loan["id"], "approved") + await table.history_rows(loan["id"], "rejected")
        == 1
    )
    assert await table.history_versions(loan["id"]) == [1, 2]
    rows = await history(client, people.admin, loan["id"])
    assert rows[-1]["change"] == winner["status"].lower()


async def test_concurrent_edits_lose_nothing(
    client: httpx.AsyncClient, people: Cast, table: LoansTable
) -> None:
    """20 concurrent edits all succeed: version 21, history versions 1..21 once each, chained."""
    loan = await create(client, people.agent, people.customer, months=1)
    months = random.sample(range(2, 481), 20)
    responses = await asyncio.gather(*(edit(client, people.agent, loan["id"], months=n) for n in months))

    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert sorted(r.json()["data"]["version"] for r in responses) == list(range(2, 22))
    final = (await client.get(f"{LOANS}/{loan['id']}", headers=people.agent.headers)).json()["data"]
    assert final["version"] == 21
    assert await table.history_versions(loan["id"]) == list(range(1, 22))

    rows = await history(client, people.agent, loan["id"])
    assert [r["version"] for r in rows] == list(range(1, 22))
    # each edit saw the state the previous one left: the months form one unbroken chain
    chain = [rows[0]["fields"]["months"]["new"]] + [r["fields"]["months"]["new"] for r in rows[1:]]
    assert [r["fields"]["months"]["old"] for r in rows[1:]] == chain[:-1]
    assert sorted(chain[1:]) == sorted(months) and chain[-1] == final["months"]


async def _waiting_on_locks(con: asyncpg.Connection) -> int:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = $1"
    return int(await con.fetchval(sql, "Lock"))


async def _until(con: asyncpg.Connection, waiting: int) -> None:
    async def queued() -> bool:
        return await _waiting_on_locks(con) >= waiting

    await eventually(
        queued, timeout=5.0, interval=0.01, what=f"{waiting} requests were not waiting on the loan's row lock"
    )


async def test_approval_queued_behind_an_edit_approves_the_edited_months(
    client: httpx.AsyncClient, people: Cast, settings: Settings
) -> None:
    """An approval that waits behind an edit of months sets end_date from the edited months."""
    loan = await create(client, people.agent, people.customer, months=12)
    months = random.randint(13, 480)
    holder = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        # Hold the row so both requests queue on it, the edit first: the same interleaving a busy
        # server produces by chance (in a plain storm of edit+approve pairs, a few in 100 hit it).
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM loans.loans WHERE id = $1 FOR UPDATE", loan["id"])
        edited = asyncio.ensure_future(edit(client, people.agent, loan["id"], months=months))
        await _until(holder, 1)
        decided = asyncio.ensure_future(decide(client, people.admin, loan["id"], "APPROVED"))
        await _until(holder, 2)
        await transaction.rollback()
        edit_reply, decide_reply = await edited, await decided
    finally:
        await holder.close()

    assert (edit_reply.status_code, decide_reply.status_code) == (200, 200), decide_reply.text
    approved = decide_reply.json()["data"]
    assert (approved["months"], approved["version"]) == (months, 3)
    start = date.fromisoformat(approved["start_date"])
    assert approved["end_date"] == months_later(start, months).isoformat(), approved
