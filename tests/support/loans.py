"""Loan calls through the edge and direct counts as the loans role, shared by the loan tests."""

from __future__ import annotations

import calendar
import random
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.people import Person

LOANS = "/api/loan"


def random_principal(low: int = 10_000, high: int = 999_999) -> str:
    """A principal in [low, high] with random cents, as the string a client may send."""
    return f"{random.randint(low, high - 1)}.{random.randint(0, 99):02d}"


def months_later(start: date, n: int) -> date:
    """`start` plus `n` calendar months, clamped to the month's last day (written here, not imported)."""
    year, month = divmod(start.year * 12 + start.month - 1 + n, 12)
    return date(year, month + 1, min(start.day, calendar.monthrange(year, month + 1)[1]))


def expected_emi(principal: Decimal, rate: Decimal, months: int) -> Decimal:
    r = rate / 12 / 100
    growth = (1 + r) ** months
    return (principal * r * growth / (growth - 1)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def expected_amount(principal: Decimal, rate: Decimal, months: int) -> Decimal:
    """What the schedule collects (design §5): the EMI each month but the last, which pays what is
    left and its interest; each month's interest is balance × rate / 1200, half-up to cents."""
    emi, balance, paid = expected_emi(principal, rate, months), principal, Decimal(0)
    for month in range(1, months + 1):
        # balance × rate is exact, and a half cent of interest is a short quotient, so exact too
        interest = (balance * rate / 1200).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
        payment = emi if month < months else balance + interest
        balance -= payment - interest
        paid += payment
    return paid


async def create(
    client: httpx.AsyncClient,
    agent: Person,
    customer: Person,
    principal: str | int | None = None,
    months: int | None = None,
) -> dict[str, Any]:
    """A NEW loan requested by `agent` for `customer` (random terms unless given)."""
    body = {
        "customer_id": customer.id,
        "principal": principal if principal is not None else random_principal(),
        "months": months if months is not None else random.randint(1, 480),
    }
    response = await client.post(f"{LOANS}/customer-loan", json=body, headers=agent.headers)
    assert response.status_code == 201, response.text
    loan: dict[str, Any] = response.json()["data"]
    return loan


async def decide(client: httpx.AsyncClient, admin: Person, loan_id: str, status: str) -> httpx.Response:
    return await client.put(
        f"{LOANS}/approve-reject-loan/{loan_id}", json={"status": status}, headers=admin.headers
    )


async def edit(client: httpx.AsyncClient, who: Person, loan_id: str, **fields: Any) -> httpx.Response:
    return await client.put(f"{LOANS}/edit-loan/{loan_id}", json=fields, headers=who.headers)


async def history(client: httpx.AsyncClient, who: Person, loan_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{LOANS}/{loan_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """An error envelope with this status (and machine code, when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body


class LoansTable:
    """Row counts read straight from the loans schema, as the loans actor's own role."""

    def __init__(self, settings: Settings) -> None:
        self.dsn = role_dsn(settings, "loans")

    async def _value(self, sql: str, *args: Any) -> Any:
        con = await asyncpg.connect(self.dsn)
        try:
            return await con.fetchval(sql, *args)
        finally:
            await con.close()

    async def loans_of(self, *people: Person) -> int:
        """Loans whose customer or agent is one of `people`."""
        ids = [p.id for p in people]
        sql = "SELECT count(*) FROM loans.loans WHERE customer_id = ANY($1::uuid[]) OR agent_id = ANY($1)"
        return int(await self._value(sql, ids))

    async def history_rows(self, loan_id: str, change: str | None = None) -> int:
        sql = (
            "SELECT count(*) FROM loans.loan_history WHERE loan_id = $1 AND ($2::text IS NULL OR change = $2)"
        )
        return int(await self._value(sql, loan_id, change))

    async def history_versions(self, loan_id: str) -> list[int]:
        con = await asyncpg.connect(self.dsn)
        try:
            rows = await con.fetch(
                "SELECT version FROM loans.loan_history WHERE loan_id = $1 ORDER BY version", loan_id
            )
        finally:
            await con.close()
        return [r["version"] for r in rows]

    async def version(self, loan_id: str) -> int | None:
        value = await self._value("SELECT version FROM loans.loans WHERE id = $1", loan_id)
        return None if value is None else int(value)
