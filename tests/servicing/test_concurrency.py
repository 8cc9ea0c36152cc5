"""Writes racing on one account take turns on its row lock: each sees the one before it, and the
books end exactly as the repayments not reversed, allocated one after another in recorded order.
A repayment racing a close of business takes turns with its batch on the same lock: either way
the account ends judged as its money implies at the final business date."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.books_model import Books, bucket
from tests.support.cob import business_date, run_to_done
from tests.support.people import Cast, cast
from tests.support.polling import eventually
from tests.support.servicing import (
    OwnSystem,
    ServicingTable,
    assert_books_balance,
    open_account,
    own_system,
    repay,
    reverse,
)

pytestmark = pytest.mark.anyio
D = Decimal
T = TypeVar("T")


def _in_order(loan: dict[str, Any], amounts: list[Decimal]) -> list[list[list[Any]]]:
    """Each amount's allocation when applied one after another: installments in due order,
    interest first, then principal, the rest flowing on (none of these reaches the payoff)."""
    owed = [[D(r["interest"]), D(r["principal"])] for r in loan["rows"]]
    result = []
    for amount in amounts:
        left, parts = amount, []
        for k, row in enumerate(owed, start=1):
            interest = min(left, row[0])
            left -= interest
            principal = min(left, row[1])
            left -= principal
            row[0] -= interest
            row[1] -= principal
            if interest or principal:
                parts.append([k, str(interest), str(principal)])
            if not left:
                break
        result.append(parts)
    return result


async def _stored(settings: Settings, loan_id: str) -> tuple[list[Decimal], list[list[list[Any]]]]:
    """The amounts of the repayments not reversed, in recorded order, and their allocations."""
    live = [t for t in await ServicingTable(settings).transactions(loan_id) if not t["reversed"]]
    allocations = [
        [[a["installment"], a["interest"], a["principal"]] for a in json.loads(t["allocation"])] for t in live
    ]
    return [t["amount"] for t in live], allocations


async def test_concurrent_repayments_with_different_keys_are_all_allocated_in_turn(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """Eight at once: eight transactions, none allocated against a state another had already changed."""
    loan = await open_account(client, settings, people, "50000.00", 12)
    amounts = ["1500.00", "2750.25", "333.33", "4000.00", "10.00", "5200.10", "999.99", "1.01"]
    answers = await asyncio.gather(
        *(repay(nc, people.agent, loan["id"], a, key=uuid.uuid4().hex) for a in amounts)
    )
    assert [a.status for a in answers] == [200] * len(amounts)
    recorded, allocations = await _stored(settings, loan["id"])
    assert sorted(recorded) == sorted(D(a) for a in amounts)
    assert allocations == _in_order(loan, recorded)
    await assert_books_balance(settings, loan["id"])
    account = await ServicingTable(settings).account(loan["id"])
    assert account is not None and account["version"] == 1 + len(amounts)


async def test_a_reversal_racing_a_repayment_leaves_the_books_as_if_in_turn(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """A reversal of the first and a new repayment at once, five rounds: both succeed every time
    and the remaining repayments are allocated as if the reversed ones had never been."""
    loan = await open_account(client, settings, people, "50000.00", 12)
    first = (await repay(nc, people.agent, loan["id"], "2000.00")).data
    assert (await repay(nc, people.agent, loan["id"], "1234.56")).status == 200
    for n in range(5):
        reversal, paid = await asyncio.gather(
            reverse(nc, people.admin, loan["id"], first["id"], key=uuid.uuid4().hex),
            repay(nc, people.agent, loan["id"], f"{700 + n}.00", key=uuid.uuid4().hex),
        )
        assert (reversal.status, paid.status) == (200, 200), (reversal, paid)
        first = paid.data  # the next round reverses this one while another comes in
        recorded, allocations = await _stored(settings, loan["id"])
        assert allocations == _in_order(loan, recorded)
        await assert_books_balance(settings, loan["id"])
    recorded, _ = await _stored(settings, loan["id"])
    assert recorded == [D("1234.56"), D("704.00")]


# --- a repayment and a close of business on the same account ---------------------------------


class RowLock:
    """The test holding an account's row lock (as the superuser), so that the requests sent next
    queue behind it in the order they are sent; released, they take the lock in that order."""

    def __init__(self, own: OwnSystem, loan_id: str) -> None:
        self.own, self.loan_id = own, loan_id

    async def __aenter__(self) -> RowLock:
        self.con = await asyncpg.connect(self.own.system.admin_url)
        self.tx = self.con.transaction()
        await self.tx.start()
        await self.con.execute(
            "SELECT 1 FROM servicing.accounts WHERE loan_id = $1 FOR UPDATE", uuid.UUID(self.loan_id)
        )
        return self

    async def waiting(self, count: int) -> None:
        """Until `count` sessions of this database wait for a lock."""
        sql = """SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'"""

        async def enough() -> bool:
            await self.con.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
            return bool(await self.con.fetchval(sql) >= count)

        await eventually(enough, timeout=10.0, interval=0.01, what=f"{count} sessions waiting for a lock")

    async def __aexit__(self, *exc: object) -> None:
        await self.tx.rollback()
        await self.con.close()


async def _after(delay: float, call: Awaitable[T]) -> T:
    await asyncio.sleep(delay)
    return await call


async def _assert_judged_as_the_money_says(
    own: OwnSystem, loan: dict[str, Any], model: Books, b: date
) -> None:
    """Money as the model, and delinquency (account and installments) as it implies at b."""
    table = ServicingTable(own.settings)
    account = await table.account(loan["id"])
    assert account is not None
    days = model.days_past_due(b)
    assert (account["days_past_due"], account["bucket"]) == (days, bucket(days)), b
    rows = await table.installments(loan["id"])
    assert [(r["paid_interest"], r["paid_principal"]) for r in rows] == [
        (x.paid_interest, x.paid_principal) for x in model.lines
    ]
    assert [r["status"] for r in rows] == [model.status(x, b) for x in model.lines], b
    await assert_books_balance(own.settings, loan["id"])


@pytest.fixture
async def own(server_urls: tuple[str, str], tmp_path: Path) -> AsyncIterator[OwnSystem]:
    async with own_system(server_urls, tmp_path) as system:
        yield system


async def test_a_repayment_racing_a_close_of_business_ends_as_its_money_says_at_the_final_date(
    own: OwnSystem,
) -> None:
    """Eight rounds, each a close of business past the next due date and a repayment (clearing the
    arrears, or half of them) at once: the close of business first (forced: the repayment then
    records on the new date and judges again), the repayment first (forced: recorded on the old
    date, then judged by the batch), or at random small delays; every time the stored delinquency
    is what the money implies at the final business date."""
    crew = await cast(own.client, own.settings)
    loan = await open_account(own.client, own.settings, crew, "50000.00", 12)
    dues = [date.fromisoformat(r["due_date"]) for r in loan["rows"]]
    live: list[tuple[Decimal, date]] = []
    # (who goes first, 1 = pay all the arrears at b, 2 = half of them)
    plan = [("cob", 1), ("repay", 1), ("cob", 2), ("repay", 2)] + [("random", 1), ("random", 2)] * 2
    orders = []
    assert crew.admin.token is not None
    for n, (first, share) in enumerate(plan):
        a, b = await business_date(own.settings), dues[n] + timedelta(days=3)
        model = Books.replayed(loan, live)
        arrears = sum(
            (x.unpaid_interest + x.principal - x.paid_principal for x in model.lines if x.due < b), D(0)
        )
        amount = (arrears / share).quantize(D("0.01"))
        cob = run_to_done(own.nc, crew.admin.token, b)
        pay = repay(own.nc, crew.agent, loan["id"], str(amount), key=uuid.uuid4().hex)
        if first == "random":
            delays = [random.uniform(0, 0.03), random.uniform(0, 0.03)]
            _, paid = await asyncio.gather(_after(delays[0], cob), _after(delays[1], pay))
        else:  # sent one after the other while the test holds the row: they take it in that order
            async with RowLock(own, loan["id"]) as lock:
                if first == "cob":
                    cob_task = asyncio.ensure_future(cob)
                    await lock.waiting(1)  # the batch, at its account lock
                    pay_task = asyncio.ensure_future(pay)
                else:
                    pay_task = asyncio.ensure_future(pay)
                    await lock.waiting(1)  # the repayment, at its account lock
                    cob_task = asyncio.ensure_future(cob)
                await lock.waiting(2)
            _, paid = await asyncio.gather(cob_task, pay_task)
        assert paid.status == 200, paid
        paid_on = date.fromisoformat(paid.data["paid_on"])
        orders.append("cob first" if paid_on == b else "repayment first")
        if first != "random":  # the forced order is the one that happened
            assert paid_on == (b if first == "cob" else a)
        live.append((amount, paid_on))
        assert await business_date(own.settings) == b
        await _assert_judged_as_the_money_says(own, loan, Books.replayed(loan, live), b)
    assert {"cob first", "repayment first"} <= set(orders)


async def test_a_repayment_between_two_batches_of_a_run_is_judged_at_the_runs_date(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """Batches of one account: the run has judged this account at b (OVERDUE, 5 days past due)
    while another batch waits, and 1.00 is paid then; once the run is DONE at b, the account
    must still be what its money implies at b, not at the business date the run had not moved
    yet (the repayment judged at the old date would call it current until the next run)."""
    async with own_system(server_urls, tmp_path, cob_batch_size=1) as own:
        crew = await cast(own.client, own.settings)
        loans = [await open_account(own.client, own.settings, crew, "50000.00", 12) for _ in range(2)]
        loan, other = sorted(loans, key=lambda x: uuid.UUID(x["id"]))  # batch 1 is `loan`'s
        b = date.fromisoformat(loan["rows"][0]["due_date"]) + timedelta(days=5)
        assert crew.admin.token is not None
        async with RowLock(own, other["id"]) as lock:
            run = asyncio.ensure_future(run_to_done(own.nc, crew.admin.token, b))
            await lock.waiting(1)  # batch 2, at the other account's lock
            batch = await ServicingTable(own.settings).fetch(
                "SELECT done_at FROM servicing.cob_batches WHERE business_date = $1 AND first_loan = $2",
                b,
                uuid.UUID(loan["id"]),
            )
            assert batch and batch[0]["done_at"] is not None  # one worker: batch 1 was done first
            judged = await ServicingTable(own.settings).account(loan["id"])
            assert judged is not None and (judged["days_past_due"], judged["bucket"]) == (5, "1-30")
            paid = await repay(own.nc, crew.agent, loan["id"], "1.00", key=uuid.uuid4().hex)
            assert paid.status == 200, paid
        await run
        assert await business_date(own.settings) == b
        model = Books.replayed(loan, [(D("1.00"), date.fromisoformat(paid.data["paid_on"]))])
        await _assert_judged_as_the_money_says(own, loan, model, b)
