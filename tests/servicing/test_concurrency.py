"""Writes racing on one account take turns on its row lock: each sees the one before it, and the
books end exactly as the repayments not reversed, allocated one after another in recorded order."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.people import Cast
from tests.support.servicing import ServicingTable, assert_books_balance, open_account, repay, reverse

pytestmark = pytest.mark.anyio
D = Decimal


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
