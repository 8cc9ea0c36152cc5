"""`servicing.loan.delinquency_changed` from writes: a repayment that clears the arrears moves the
account to `current` at once and says so; a reversal that brings them back says the opposite; a
repayment that leaves the bucket where it was says nothing of it. In a system of this module's
own, whose business date a real close of business moves past the first due date."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.support.cob import servicing_events
from tests.support.people import Cast, cast
from tests.support.servicing import (
    OwnSystem,
    close_business,
    open_account,
    own_system,
    repay,
    reverse,
    statement,
)

pytestmark = pytest.mark.anyio
D = Decimal


@pytest.fixture(scope="module")
async def system(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OwnSystem]:
    async with own_system(server_urls, tmp_path_factory.mktemp("delinquency")) as own:
        yield own


@pytest.fixture(scope="module")
async def crew(system: OwnSystem) -> Cast:
    return await cast(system.client, system.settings)


async def test_clearing_arrears_and_reversing_the_repayment_change_the_bucket_both_ways(
    system: OwnSystem, crew: Cast
) -> None:
    """COB 5 days past the first due date: current → 1-30; 1.00 paid: no bucket event; the rest of
    installment 1 paid: 1-30 → current, 0 days; that repayment reversed: current → 1-30, 5 days;
    each event the account's next version."""
    loan = await open_account(system.client, system.settings, crew, "30000.00", 3)
    due = date.fromisoformat(loan["rows"][0]["due_date"])
    await close_business(system, crew.admin, due + timedelta(days=5))
    assert (await repay(system.nc, crew.agent, loan["id"], "1.00", key=uuid.uuid4().hex)).status == 200
    rest = str(D(loan["rows"][0]["payment"]) - D("1.00"))
    cleared = await repay(system.nc, crew.agent, loan["id"], rest, key=uuid.uuid4().hex)
    assert cleared.status == 200, cleared
    s = (await statement(system.nc, crew.admin, loan["id"])).data
    assert (s["days_past_due"], s["bucket"]) == (0, "current")
    reply = await reverse(system.nc, crew.admin, loan["id"], cleared.data["id"], key=uuid.uuid4().hex)
    assert reply.status == 200, reply
    s = (await statement(system.nc, crew.admin, loan["id"])).data
    assert (s["days_past_due"], s["bucket"]) == (5, "1-30")

    events = [e for e in await servicing_events(system.nc, system.settings) if str(e.loan_id) == loan["id"]]
    moves = [
        (e.type, e.data.get("bucket_from"), e.data.get("bucket_to"), e.data.get("days_past_due"))
        for e in events
    ]
    assert moves == [
        ("servicing.installment.overdue", None, None, 5),
        ("servicing.loan.delinquency_changed", "current", "1-30", 5),
        ("servicing.repayment.received", None, None, None),
        ("servicing.repayment.received", None, None, None),
        ("servicing.loan.delinquency_changed", "1-30", "current", 0),
        ("servicing.repayment.reversed", None, None, None),
        ("servicing.loan.delinquency_changed", "current", "1-30", 5),
    ]
    assert [e.version for e in events] == list(range(2, 2 + len(events)))
    assert (events[1].data["by"], events[4].data["by"], events[6].data["by"]) == (
        None,
        crew.agent.id,
        crew.admin.id,
    )
    assert {e.data["business_date"] for e in events} == {(due + timedelta(days=5)).isoformat()}
