"""The portfolio: its JSON figures are the sums of the accounts (computed here from how they were
made), every bucket listed; portfolio_accounts pages every account once, in loan id order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.bus.client import request
from actors.contracts.errors import Forbidden
from tests.support.cob import PART, Account, bucket_of, cob_system, dpd_at, insert_accounts, run_to_done
from tests.support.people import signup

pytestmark = pytest.mark.anyio
TODAY = datetime.now(UTC).date()
T = TODAY + timedelta(days=3)
BUCKETS = ["current", "1-30", "31-60", "61-90", "90+"]


def book() -> list[Account]:
    """Accounts in several buckets, some paid into, two closed."""
    accounts = []
    for i, days in enumerate((5, 40, 40, 75, 100, 140, 230, 400)):
        accounts.append(
            Account(start=T - timedelta(days=days), paid=i % 3, partial=Decimal("30.00") * (i % 2))
        )
    accounts += [Account(start=T - timedelta(days=300), closed=True) for _ in range(2)]
    return accounts


async def ask(s: Any, subject: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    reply: dict[str, Any] = msgspec.json.decode(
        await request(s.nc, subject, msgspec.json.encode(body), timeout=10, token=token)
    )
    return reply


async def test_portfolio_figures_are_the_sums_of_the_accounts(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """active, closed, outstanding, collected and each bucket's count and outstanding, to the cent."""
    accounts = book()
    async with cob_system(server_urls, tmp_path) as s:
        await insert_accounts(s.settings, accounts)
        await run_to_done(s.nc, s.token, T)
        got = await ask(s, "servicing.portfolio", {}, s.token)
    active = [a for a in accounts if not a.closed]
    outstanding = {a.loan_id: PART * a.months - a.paid_principal for a in accounts}
    expected_buckets = []
    for name in BUCKETS:
        members = [a for a in active if bucket_of(dpd_at(a, T)) == name]
        total = sum((outstanding[a.loan_id] for a in members), Decimal("0.00"))
        expected_buckets.append(
            {"bucket": name, "accounts": len(members), "outstanding_principal": f"{total:.2f}"}
        )
    assert len({b["accounts"] for b in expected_buckets}) > 1  # the book spreads over buckets
    assert got == {
        "business_date": T.isoformat(),
        "active": len(active),
        "closed": 2,
        "outstanding_principal": f"{sum(outstanding.values(), Decimal('0.00')):.2f}",
        "collected_principal": f"{sum((a.paid_principal for a in accounts), Decimal('0.00')):.2f}",
        "collected_interest": f"{sum((a.paid_interest for a in accounts), Decimal('0.00')):.2f}",
        "buckets": expected_buckets,
    }


async def test_portfolio_accounts_pages_every_account_once_in_loan_id_order(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """Keyset pages of 3: each account once, in order, with its figures; the last page has no next."""
    accounts = book()
    async with cob_system(server_urls, tmp_path) as s:
        await insert_accounts(s.settings, accounts)
        customer = await signup(s.iso.client)
        with pytest.raises(Forbidden):
            await ask(s, "servicing.portfolio_accounts", {}, customer.token or "")
        lines: list[dict[str, Any]] = []
        after: str | None = None
        pages = 0
        while True:
            page = await ask(s, "servicing.portfolio_accounts", {"after": after, "limit": 3}, s.token)
            lines += page["data"]
            pages += 1
            after = page["next"]
            if after is None:
                break
            assert len(page["data"]) == 3 and after == page["data"][-1]["loan_id"]
    assert pages == 4
    by_id = {a.loan_id: a for a in accounts}
    assert [uuid.UUID(line["loan_id"]) for line in lines] == sorted(by_id)
    for line in lines:
        a = by_id[uuid.UUID(line["loan_id"])]
        assert line["status"] == ("CLOSED" if a.closed else "ACTIVE")
        assert line["customer_id"] == str(a.customer_id) and line["agent_id"] == str(a.agent_id)
        assert line["principal"] == f"{PART * a.months:.2f}"
        assert line["outstanding_principal"] == f"{PART * a.months - a.paid_principal:.2f}"
        assert line["paid_interest"] == f"{a.paid_interest:.2f}"
