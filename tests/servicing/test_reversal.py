"""Reversing a repayment: the others allocated again in their order, a closed account reopened,
nothing deleted; the refusals."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.people import Cast
from tests.support.servicing import (
    ServicingTable,
    events_of,
    open_account,
    repay,
    repayments,
    reverse,
    statement,
)

pytestmark = pytest.mark.anyio
D = Decimal


def _row(loan: dict[str, Any], k: int) -> tuple[Decimal, Decimal, Decimal]:
    r = loan["rows"][k - 1]
    return D(r["payment"]), D(r["interest"]), D(r["principal"])


def _alloc(transaction: dict[str, Any]) -> list[tuple[int, Decimal, Decimal]]:
    return [(a["installment"], D(a["interest"]), D(a["principal"])) for a in transaction["allocation"]]


@pytest.fixture
async def loan(client: httpx.AsyncClient, settings: Settings, people: Cast) -> dict[str, Any]:
    return await open_account(client, settings, people, "50000.00", 12)


async def test_reversing_the_first_of_three_allocates_the_other_two_again(
    nc: Client, people: Cast, loan: dict[str, Any], settings: Settings
) -> None:
    """1,000 + 2,000 + 3,000, the 1,000 reversed: the 2,000 now pays installment 1's interest and
    principal from the start, the 3,000 the rest of 1 and into 2, as if the 1,000 never was."""
    first, second, third = [
        (await repay(nc, people.agent, loan["id"], amount)).data
        for amount in ("1000.00", "2000.00", "3000.00")
    ]
    before = (await statement(nc, people.customer, loan["id"])).data
    reply = await reverse(nc, people.admin, loan["id"], first["id"], "cheque bounced")
    assert (reply.data["id"], reply.data["reversed"], reply.data["reversal_reason"]) == (
        first["id"],
        True,
        "cheque bounced",
    )
    _, i1, p1 = _row(loan, 1)
    _, i2, _ = _row(loan, 2)
    listed = {t["id"]: t for t in await repayments(nc, people.customer, loan["id"])}
    assert len(listed) == 3 and listed[first["id"]]["reversed"]
    assert _alloc(listed[second["id"]]) == [(1, i1, D("2000.00") - i1)]
    left_of_1 = p1 - (D("2000.00") - i1)
    assert _alloc(listed[third["id"]]) == [(1, D("0.00"), left_of_1), (2, i2, D("3000.00") - left_of_1 - i2)]

    after = (await statement(nc, people.customer, loan["id"])).data
    assert D(after["paid_principal"]) + D(after["paid_interest"]) == D("5000.00")
    assert D(after["paid_principal"]) == D(before["paid_principal"]) - D("1000.00")  # all 1,000 was principal
    assert D(after["outstanding_principal"]) == D("50000.00") - D(after["paid_principal"])
    assert [x["status"] for x in after["installments"][:3]] == ["PAID", "PARTIALLY_PAID", "DUE"]
    event = (await events_of(nc, settings, loan["id"], 4))[3]
    assert (event["type"], event["version"]) == ("servicing.repayment.reversed", 5)
    assert (event["data"]["transaction_id"], event["data"]["reason"]) == (first["id"], "cheque bounced")
    table = ServicingTable(settings)
    stored = {str(t["id"]): json.loads(t["allocation"]) for t in await table.transactions(loan["id"])}
    assert stored[second["id"]] == listed[second["id"]]["allocation"]  # rewritten in the row


async def test_reversing_the_payoff_reopens_the_account_as_it_was(
    nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """A closed account whose closing repayment is reversed is ACTIVE again, exactly as before it."""
    assert (await repay(nc, people.admin, loan["id"], "4359.83")).status == 200
    before = (await statement(nc, people.customer, loan["id"])).data
    payoff = D("50000.00") - _row(loan, 1)[2]
    closing = (await repay(nc, people.admin, loan["id"], str(payoff))).data
    assert (await statement(nc, people.customer, loan["id"])).data["status"] == "CLOSED"
    assert (await reverse(nc, people.admin, loan["id"], closing["id"])).status == 200
    after = (await statement(nc, people.customer, loan["id"])).data
    assert after == before
    assert (await repay(nc, people.admin, loan["id"], "10.00")).status == 200  # open for payments again


async def test_a_reversal_is_refused_twice_for_unknown_or_foreign_ones_and_to_non_admins(
    client: httpx.AsyncClient, settings: Settings, nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """Already reversed → 409 conflict; unknown or another loan's transaction → 404; agent → 403."""
    paid = (await repay(nc, people.agent, loan["id"], "100.00")).data
    assert (await reverse(nc, people.agent, loan["id"], paid["id"])).status == 403
    assert (await reverse(nc, people.admin, loan["id"], paid["id"])).status == 200
    again = await reverse(nc, people.admin, loan["id"], paid["id"])
    assert (again.status, again.code) == (409, "conflict")
    assert (await reverse(nc, people.admin, loan["id"], str(uuid.uuid4()))).status == 404
    other = await open_account(client, settings, people, "20000.00", 3)
    foreign = (await repay(nc, people.agent, other["id"], "100.00")).data
    assert (await reverse(nc, people.admin, loan["id"], foreign["id"])).status == 404
    assert (await repayments(nc, people.admin, other["id"]))[0]["reversed"] is False


async def test_a_repeated_reversal_key_gets_the_first_answer(
    nc: Client, people: Cast, loan: dict[str, Any]
) -> None:
    """The same Idempotency-Key again: the first answer (200), not 409 'already reversed'."""
    paid = (await repay(nc, people.agent, loan["id"], "100.00")).data
    key = uuid.uuid4().hex
    first = await reverse(nc, people.admin, loan["id"], paid["id"], key=key)
    again = await reverse(nc, people.admin, loan["id"], paid["id"], key=key)
    assert (first.status, again.status) == (200, 200) and again.data == first.data
