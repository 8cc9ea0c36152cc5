"""Recording repayments: allocation in due order (interest first, the rest flowing on), the
payoff ceiling, paid_on and amount rules, closure, events, and Idempotency-Key.

The expected allocations are worked out here from the schedule's rows (loans.schedule) by
design.md §11's rule, not by servicing's ledger.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.people import Cast
from tests.support.servicing import (
    ServicingTable,
    call,
    events_of,
    open_account,
    repay,
    repayments,
    statement,
)

pytestmark = pytest.mark.anyio
D = Decimal


def _row(loan: dict[str, Any], k: int) -> tuple[Decimal, Decimal, Decimal]:
    """(payment, interest, principal) of installment k."""
    r = loan["rows"][k - 1]
    return D(r["payment"]), D(r["interest"]), D(r["principal"])


def _alloc(reply_data: dict[str, Any]) -> list[tuple[int, Decimal, Decimal]]:
    return [(a["installment"], D(a["interest"]), D(a["principal"])) for a in reply_data["allocation"]]


@pytest.fixture
async def loan(client: httpx.AsyncClient, settings: Settings, people: Cast) -> dict[str, Any]:
    """50,000.00 over 12 months at 8.45 %: EMI 4,359.83 (design.md §5), repaid from today."""
    opened = await open_account(client, settings, people, "50000.00", 12)
    assert (opened["interest"], opened["emi"]) == ("8.45", "4359.83")
    return opened


async def test_a_payment_below_the_first_interest_pays_interest_only(
    nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """100.00 against installment 1's 352.08 of interest: all of it to interest."""
    _, i1, _ = _row(loan, 1)
    assert i1 == D("352.08")  # 50,000 × 8.45 / 1200 = 352.083…
    reply = await repay(nc, people.agent, loan["id"], "100.00", reference="cash 1")
    assert _alloc(reply.data) == [(1, D("100.00"), D("0.00"))]
    assert (reply.data["reference"], reply.data["type"], reply.data["reversed"]) == (
        "cash 1",
        "repayment",
        False,
    )
    assert reply.data["paid_on"] == loan["start_date"] and reply.data["recorded_by"] == people.agent.id
    lines = (await statement(nc, people.customer, loan["id"])).data["installments"]
    assert [(x["status"], x["paid_interest"]) for x in lines[:2]] == [
        ("PARTIALLY_PAID", "100.00"),
        ("DUE", "0.00"),
    ]


async def test_allocation_table(nc: Client, people: Cast, loan: dict[str, Any]) -> None:
    """Three payments in a row: interest then principal of installment 1, an exact remainder, then
    one running across installments 2, 3 and into 4 (paying ahead is allowed)."""
    pay1, i1, p1 = _row(loan, 1)
    pay2, i2, p2 = _row(loan, 2)
    pay3, i3, p3 = _row(loan, 3)
    _, i4, p4 = _row(loan, 4)
    # 1,000.00: the interest, then 647.92 of principal
    first = await repay(nc, people.admin, loan["id"], "1000.00")
    assert _alloc(first.data) == [(1, i1, D("1000.00") - i1)]
    # exactly what installment 1 still owes
    rest = pay1 - D("1000.00")
    second = await repay(nc, people.admin, loan["id"], str(rest))
    assert _alloc(second.data) == [(1, D("0.00"), rest)]
    # installments 2 and 3 whole, then 4's interest and part of its principal
    amount = pay2 + pay3 + i4 + D("100.00")
    third = await repay(nc, people.admin, loan["id"], str(amount))
    assert _alloc(third.data) == [(2, i2, p2), (3, i3, p3), (4, i4, D("100.00"))]

    s = (await statement(nc, people.customer, loan["id"])).data
    assert [x["status"] for x in s["installments"][:5]] == ["PAID", "PAID", "PAID", "PARTIALLY_PAID", "DUE"]
    paid_principal = p1 + p2 + p3 + D("100.00")
    assert (D(s["paid_principal"]), D(s["paid_interest"])) == (paid_principal, i1 + i2 + i3 + i4)
    assert D(s["outstanding_principal"]) == D("50000.00") - paid_principal
    assert s["next_due"] == {"date": loan["rows"][3]["due_date"], "amount": str(p4 - D("100.00"))}
    assert (s["status"], s["days_past_due"], s["bucket"], s["waived_interest"]) == (
        "ACTIVE",
        0,
        "current",
        "0.00",
    )
    listed = await repayments(nc, people.customer, loan["id"])
    assert [t["id"] for t in listed] == [first.data["id"], second.data["id"], third.data["id"]]


async def test_more_than_the_payoff_is_refused_with_the_figure(
    nc: Client, people: Cast, loan: dict[str, Any], settings: Settings
) -> None:
    """On the start date the payoff is the principal left (no day of interest has accrued):
    a cent more is 409 overpayment naming it, and nothing is recorded."""
    reply = await repay(nc, people.agent, loan["id"], "50000.01")
    assert (reply.status, reply.code, reply.details) == (409, "overpayment", {"payoff": "50000.00"})
    _, _, p1 = _row(loan, 1)
    assert (await repay(nc, people.agent, loan["id"], "4359.83")).status == 200
    left = D("50000.00") - p1
    reply = await repay(nc, people.agent, loan["id"], str(left + D("0.01")))
    assert (reply.status, reply.code, reply.details) == (409, "overpayment", {"payoff": str(left)})
    assert len(await ServicingTable(settings).transactions(loan["id"])) == 1


async def test_paying_the_payoff_closes_the_account_and_a_closed_one_takes_nothing(
    nc: Client, people: Cast, loan: dict[str, Any], settings: Settings
) -> None:
    """50,000.00 on the start date closes it: every installment PAID, all interest waived,
    events repayment.received then loan.closed; any further repayment is 409 loan_closed."""
    reply = await repay(nc, people.admin, loan["id"], "50000.00")
    assert sum(a[2] for a in _alloc(reply.data)) == D("50000.00")
    s = (await statement(nc, people.customer, loan["id"])).data
    total_interest = sum((_row(loan, k)[1] for k in range(1, 13)), D(0))
    assert (s["status"], s["closed_on"], s["outstanding_principal"]) == ("CLOSED", loan["start_date"], "0.00")
    assert (D(s["waived_interest"]), s["paid_interest"], s["next_due"]) == (total_interest, "0.00", None)
    assert {x["status"] for x in s["installments"]} == {"PAID"}
    reply = await repay(nc, people.admin, loan["id"], "1.00")
    assert (reply.status, reply.code) == (409, "loan_closed")
    events = await events_of(nc, settings, loan["id"], 2)
    assert [(e["type"], e["version"]) for e in events] == [
        ("servicing.repayment.received", 2),
        ("servicing.loan.closed", 3),
    ]
    data = events[1]["data"]
    assert (data["status"], data["outstanding_principal"], data["closed_on"]) == (
        "CLOSED",
        "0.00",
        loan["start_date"],
    )
    assert (data["transaction_id"], data["amount"], data["by"]) == (
        events[0]["data"]["transaction_id"],
        "50000.00",
        people.admin.id,
    )
    account = await ServicingTable(settings).account(loan["id"])
    assert account is not None and account["version"] == 3


async def test_paid_on_is_the_business_date_by_default_and_never_after_it_or_before_the_start(
    nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """Tomorrow or the day before the start date → 400 paid_on; today, named or not, is fine."""
    today = datetime.now(UTC).date()
    for day in (today + timedelta(days=1), today - timedelta(days=1)):
        reply = await repay(nc, people.agent, loan["id"], "10.00", paid_on=day)
        assert (reply.status, reply.details) == (400, {"field": "paid_on"}), reply
    assert (await repay(nc, people.agent, loan["id"], "10.00", paid_on=today)).data[
        "paid_on"
    ] == today.isoformat()
    assert (await repay(nc, people.agent, loan["id"], "10.00")).data["paid_on"] == today.isoformat()


@pytest.mark.parametrize("amount", ["0", "0.00", "-5.00", "1.005", "0.001", "NaN", "Infinity", "1e12"])
async def test_an_amount_not_positive_with_two_decimals_is_400(
    nc: Client, people: Cast, loan: dict[str, Any], amount: str, settings: Settings
) -> None:
    """amount > 0 with at most two decimals, never rounded: anything else is 400 naming the field."""
    reply = await repay(nc, people.agent, loan["id"], amount)
    assert (reply.status, reply.code, reply.details) == (400, "validation_error", {"field": "amount"}), reply
    assert await ServicingTable(settings).transactions(loan["id"]) == []


async def test_whole_amounts_and_trailing_zeros_are_recorded_in_cents(
    nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """ "25" and "25.500" are 25.00 and 25.50 (no digit lost, so nothing was rounded)."""
    assert (await repay(nc, people.agent, loan["id"], "25")).data["amount"] == "25.00"
    assert (await repay(nc, people.agent, loan["id"], "25.500")).data["amount"] == "25.50"


async def test_a_reference_over_100_characters_is_400(nc: Client, people: Cast, loan: dict[str, Any]) -> None:
    """The reference is at most 100 characters."""
    reply = await repay(nc, people.agent, loan["id"], "10.00", reference="x" * 101)
    assert reply.status == 400


async def test_a_repeated_key_gets_the_first_answer_and_records_nothing_more(
    nc: Client, people: Cast, loan: dict[str, Any], settings: Settings
) -> None:
    """Same key, same body: the first transaction again (also concurrently); another body: 409."""
    key = uuid.uuid4().hex
    first = await repay(nc, people.agent, loan["id"], "700.00", key=key)
    again = await repay(nc, people.agent, loan["id"], "700.00", key=key)
    assert again.data == first.data
    other = await repay(nc, people.agent, loan["id"], "800.00", key=key)
    assert (other.status, other.code) == (409, "conflict")
    key = uuid.uuid4().hex
    answers = await asyncio.gather(*(repay(nc, people.agent, loan["id"], "50.00", key=key) for _ in range(6)))
    assert len({a.data["id"] for a in answers}) == 1
    table = ServicingTable(settings)
    assert [t["amount"] for t in await table.transactions(loan["id"])] == [D("700.00"), D("50.00")]
    account = await table.account(loan["id"])
    assert account is not None and (account["version"], account["paid_interest"]) == (3, D("352.08"))


async def test_a_customer_cannot_record_a_repayment(nc: Client, people: Cast, loan: dict[str, Any]) -> None:
    """Recording is staff's: a customer, even the borrower, is 403."""
    reply = await call(
        nc, "servicing.record_repayment", people.customer, {"loan_id": loan["id"], "amount": "1"}
    )
    assert reply.status == 403
