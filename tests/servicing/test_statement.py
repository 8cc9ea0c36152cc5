"""The statement: installments' states and the account's delinquency as a write judges them at
the business date (a repayment that clears the arrears brings the account current at once).

The business date is moved by a real close of business (which judges the account first) in a
system of this module's own, in the file's order; the statement shows what the last write or
close of business judged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.support.people import Cast, cast
from tests.support.servicing import OwnSystem, close_business, open_account, own_system, repay, statement

pytestmark = pytest.mark.anyio
D = Decimal


@pytest.fixture(scope="module")
async def system(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OwnSystem]:
    async with own_system(server_urls, tmp_path_factory.mktemp("statement")) as own:
        yield own


@pytest.fixture(scope="module")
async def crew(system: OwnSystem) -> Cast:
    return await cast(system.client, system.settings)


def _bucket(days: int) -> str:
    """design.md §11's buckets."""
    for bound, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if days <= bound:
            return name
    return "90+"


async def test_a_repayment_judges_arrears_at_the_business_date_and_clearing_them_makes_it_current(
    system: OwnSystem, crew: Cast
) -> None:
    """5 days after the first due date (close of business: 5 days past due), 1.00 paid: installment
    1 still OVERDUE, 5 days past due; the rest of it paid: PAID, current, next due installment 2."""
    loan = await open_account(system.client, system.settings, crew, "30000.00", 3)
    due = [date.fromisoformat(r["due_date"]) for r in loan["rows"]]
    await close_business(system, crew.admin, due[0] + timedelta(days=5))
    s = (await statement(system.nc, crew.customer, loan["id"])).data
    assert (s["days_past_due"], s["bucket"], s["installments"][0]["status"]) == (5, "1-30", "OVERDUE")
    assert (await repay(system.nc, crew.agent, loan["id"], "1.00")).status == 200
    s = (await statement(system.nc, crew.customer, loan["id"])).data
    assert [x["status"] for x in s["installments"]] == ["OVERDUE", "DUE", "DUE"]
    assert (s["days_past_due"], s["bucket"]) == (5, "1-30")
    owed = D(loan["rows"][0]["payment"]) - D("1.00")
    assert s["next_due"] == {"date": due[0].isoformat(), "amount": str(owed)}
    assert (await repay(system.nc, crew.agent, loan["id"], str(owed))).status == 200
    s = (await statement(system.nc, crew.customer, loan["id"])).data
    assert [x["status"] for x in s["installments"]] == ["PAID", "DUE", "DUE"]
    assert (s["days_past_due"], s["bucket"]) == (0, "current")
    assert s["next_due"] == {"date": due[1].isoformat(), "amount": loan["rows"][1]["payment"]}


async def test_days_past_due_count_from_the_oldest_unpaid_installment(system: OwnSystem, crew: Cast) -> None:
    """25 days after the second due date (before the third), nothing paid: both OVERDUE, the days
    counted from the first due date, bucketed by §11's table; as the close of business judged it
    and as a repayment of 1.00 judges it again."""
    loan = await open_account(system.client, system.settings, crew, "30000.00", 3)
    due = [date.fromisoformat(r["due_date"]) for r in loan["rows"]]
    today = due[1] + timedelta(days=25)
    await close_business(system, crew.admin, today)
    days = (today - due[0]).days
    for _ in ("close of business", "a repayment"):
        s = (await statement(system.nc, crew.admin, loan["id"])).data
        assert (s["days_past_due"], s["bucket"], s["business_date"]) == (
            days,
            _bucket(days),
            today.isoformat(),
        )
        assert [x["status"] for x in s["installments"]] == ["OVERDUE", "OVERDUE", "DUE"]
        assert (await repay(system.nc, crew.agent, loan["id"], "1.00")).status == 200
    assert _bucket(days) == "31-60"  # 25 days past the second due date is past 30 since the first
