"""Payoff: its figure on dates inside a period and on a due date (worked out here from design.md
§11's formula), and the two ways an account closes: paying the payoff, paying the last installment.

Closing on a later date needs a business date after today: those tests run in a system of their
own whose date is moved by a real close of business (`close_business`), in the file's order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.people import Cast, cast
from tests.support.servicing import (
    OwnSystem,
    close_business,
    open_account,
    own_system,
    payoff,
    repay,
    statement,
)

pytestmark = pytest.mark.anyio
D = Decimal
P = D("50000.00")
RATE = D("8.45")


def _accrued(principal: Decimal, start: date, end: date, on: date) -> Decimal:
    """principal × r × days elapsed ÷ days in the period, unrounded (r = annual % / 12 / 100)."""
    with localcontext() as ctx:
        ctx.prec = 50
        return principal * RATE / 1200 * (on - start).days / (end - start).days


def _cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def _dates(loan: dict[str, Any]) -> tuple[date, list[date]]:
    return date.fromisoformat(loan["start_date"]), [date.fromisoformat(r["due_date"]) for r in loan["rows"]]


def _interest(loan: dict[str, Any], k: int) -> Decimal:
    return D(loan["rows"][k - 1]["interest"])


async def test_payoff_inside_the_first_period_and_on_its_due_date(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """On the start date: the principal; 10 days in: plus 10 days of interest pro rata; on the
    first due date: plus that installment's interest (nothing of period 2 has accrued); 5 days
    into period 2: both."""
    loan = await open_account(client, settings, people, str(P), 12)
    start, due = _dates(loan)
    assert (await payoff(nc, people.customer, loan["id"])).data == {
        "on": start.isoformat(),
        "outstanding_principal": "50000.00",
        "interest": "0.00",
        "total": "50000.00",
    }
    on = start + timedelta(days=10)
    total = _cents(P + _accrued(P, start, due[0], on))
    quote = (await payoff(nc, people.agent, loan["id"], on)).data
    assert (D(quote["total"]), D(quote["interest"]), quote["on"]) == (total, total - P, on.isoformat())
    quote = (await payoff(nc, people.admin, loan["id"], due[0])).data
    assert D(quote["total"]) == P + _interest(loan, 1)
    on = due[0] + timedelta(days=5)
    quote = (await payoff(nc, people.admin, loan["id"], on)).data
    assert D(quote["total"]) == _cents(P + _interest(loan, 1) + _accrued(P, due[0], due[1], on))


async def test_interest_already_paid_towards_the_period_is_taken_off_the_accrued(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """200.00 paid today (all to installment 1's interest): 20 days on, the accrued interest less
    200.00, with the principal untouched."""
    loan = await open_account(client, settings, people, str(P), 12)
    start, due = _dates(loan)
    assert (await repay(nc, people.agent, loan["id"], "200.00")).status == 200
    on = start + timedelta(days=20)
    accrued = max(_accrued(P, start, due[0], on) - D("200.00"), D(0))
    assert D((await payoff(nc, people.admin, loan["id"], on)).data["total"]) == _cents(P + accrued)


async def test_a_payoff_date_before_the_business_date_is_400(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast
) -> None:
    """`on` not before the business date."""
    loan = await open_account(client, settings, people, "20000.00", 3)
    start, _ = _dates(loan)
    reply = await payoff(nc, people.admin, loan["id"], start - timedelta(days=1))
    assert (reply.status, reply.details) == (400, {"field": "on"})


@pytest.fixture(scope="module")
async def system(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OwnSystem]:
    """A system of this module's own: its business date is moved by the tests."""
    async with own_system(server_urls, tmp_path_factory.mktemp("payoff")) as own:
        yield own


@pytest.fixture(scope="module")
async def crew(system: OwnSystem) -> Cast:
    return await cast(system.client, system.settings)


async def test_paying_the_payoff_mid_period_closes_the_account_and_waives_later_interest(
    system: OwnSystem, crew: Cast
) -> None:
    """12 days in, the payoff paid: CLOSED on that date; paid interest = those 12 days' interest,
    the rest of every installment's interest waived, and the statement says so."""
    loan = await open_account(system.client, system.settings, crew, str(P), 12)
    start, due = _dates(loan)
    on = start + timedelta(days=12)
    await close_business(system, crew.admin, on)
    total = _cents(P + _accrued(P, start, due[0], on))
    assert D((await payoff(system.nc, crew.customer, loan["id"])).data["total"]) == total
    paid = await repay(system.nc, crew.agent, loan["id"], str(total))
    assert paid.data["paid_on"] == on.isoformat()
    s = (await statement(system.nc, crew.customer, loan["id"])).data
    all_interest = sum((_interest(loan, k) for k in range(1, 13)), D(0))
    assert (s["status"], s["closed_on"], s["business_date"]) == ("CLOSED", on.isoformat(), on.isoformat())
    assert (D(s["paid_principal"]), D(s["paid_interest"])) == (P, total - P)
    assert D(s["waived_interest"]) == all_interest - (total - P)
    assert (s["outstanding_principal"], s["next_due"]) == ("0.00", None)
    quote = (await payoff(system.nc, crew.customer, loan["id"])).data
    assert quote["total"] == "0.00"


async def test_paying_each_installment_on_its_due_date_closes_with_the_last(
    system: OwnSystem, crew: Cast
) -> None:
    """Three EMIs, each paid on its due date (recorded after a close of business to the last one,
    which found the first two overdue): the third closes the account, nothing waived."""
    loan = await open_account(system.client, system.settings, crew, "30000.00", 3)
    _, due = _dates(loan)
    await close_business(system, crew.admin, due[2])
    s = (await statement(system.nc, crew.admin, loan["id"])).data
    assert [x["status"] for x in s["installments"]] == ["OVERDUE", "OVERDUE", "DUE"]
    for k, day in enumerate(due, start=1):
        s = (await statement(system.nc, crew.admin, loan["id"])).data
        assert s["status"] == "ACTIVE" and s["next_due"]["date"] == day.isoformat()
        reply = await repay(system.nc, crew.admin, loan["id"], loan["rows"][k - 1]["payment"], paid_on=day)
        assert reply.status == 200, reply
    s = (await statement(system.nc, crew.customer, loan["id"])).data
    interest = sum((_interest(loan, k) for k in range(1, 4)), D(0))
    assert (s["status"], s["closed_on"], s["waived_interest"]) == ("CLOSED", due[2].isoformat(), "0.00")
    assert (D(s["paid_interest"]), s["paid_principal"], s["outstanding_principal"]) == (
        interest,
        "30000.00",
        "0.00",
    )
    assert [x["status"] for x in s["installments"]] == ["PAID", "PAID", "PAID"]
    assert D(loan["amount"]) == interest + D("30000.00")  # what the schedule collects, all paid
