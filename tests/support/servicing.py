"""Servicing calls for tests: an approved loan and its account, repayments and reversals, the
statement and payoff, direct reads of the servicing schema, and a system of one's own whose
business date a test moves by a real close of business.

Calls go over NATS with the caller's token (the servicing routes of the edge are separate work);
each answers a `Reply` whatever its status, so a test asserts refusals as plainly as successes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import DeliverPolicy

from actors.bus.client import OK, exchange
from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from ops.embedded import EmbeddedNats
from tests.support.cob import business_date as cob_business_date
from tests.support.cob import run_to_done
from tests.support.isolated import Isolated, isolated_system
from tests.support.loans import create, decide
from tests.support.people import Cast, Person
from tests.support.polling import eventually


@dataclass
class Reply:
    """A servicing answer: status 200 and its data, or an error's status, code and details."""

    status: int
    body: Any

    @property
    def data(self) -> Any:
        assert self.status == 200, self
        return self.body

    @property
    def code(self) -> str | None:
        return self.body.get("code") if self.status != 200 else None

    @property
    def details(self) -> Any:
        return self.body.get("details") if self.status != 200 else None


async def call(
    nc: Client, subject: str, who: Person, body: dict[str, Any] | None = None, key: str | None = None
) -> Reply:
    """`subject` asked as `who`; `key` goes in the Idempotency-Key header."""
    headers = {"Idempotency-Key": key} if key is not None else None
    outcome, _, data = await exchange(
        nc, subject, json.dumps(body or {}).encode(), timeout=10.0, token=who.token, headers=headers
    )
    if outcome == OK:
        return Reply(200, json.loads(data))
    assert outcome.isdigit(), f"{subject}: {outcome}"
    return Reply(int(outcome), json.loads(data))


async def repay(
    nc: Client,
    who: Person,
    loan_id: str,
    amount: str,
    paid_on: date | None = None,
    key: str | None = None,
    reference: str | None = None,
) -> Reply:
    body: dict[str, Any] = {"loan_id": loan_id, "amount": amount}
    if paid_on is not None:
        body["paid_on"] = paid_on.isoformat()
    if reference is not None:
        body["reference"] = reference
    return await call(nc, "servicing.record_repayment", who, body, key)


async def reverse(
    nc: Client,
    who: Person,
    loan_id: str,
    transaction_id: str,
    reason: str = "bounced",
    key: str | None = None,
) -> Reply:
    body = {"loan_id": loan_id, "transaction_id": transaction_id, "reason": reason}
    return await call(nc, "servicing.reverse_repayment", who, body, key)


async def statement(nc: Client, who: Person, loan_id: str) -> Reply:
    return await call(nc, "servicing.statement", who, {"loan_id": loan_id})


async def payoff(nc: Client, who: Person, loan_id: str, on: date | None = None) -> Reply:
    body: dict[str, Any] = {"loan_id": loan_id}
    if on is not None:
        body["on"] = on.isoformat()
    return await call(nc, "servicing.payoff", who, body)


async def repayments(nc: Client, who: Person, loan_id: str, page_size: int = 100) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await call(nc, "servicing.list_repayments", who, {"loan_id": loan_id, "page_size": page_size})
    ).data["data"]
    return rows


async def approved_loan(
    client: httpx.AsyncClient, people: Cast, principal: str = "50000.00", months: int = 12
) -> dict[str, Any]:
    """A loan of `people.customer`, requested by `people.agent` and approved by `people.admin`;
    with its schedule (rows with due dates) under "rows"."""
    loan = await create(client, people.agent, people.customer, principal, months)
    response = await decide(client, people.admin, loan["id"], "APPROVED")
    assert response.status_code == 200, response.text
    loan: dict[str, Any] = response.json()["data"]
    schedule = await client.get(f"/api/loan/{loan['id']}/schedule", headers=people.admin.headers)
    assert schedule.status_code == 200, schedule.text
    loan["rows"] = schedule.json()["data"]["rows"]
    return loan


async def open_account(
    client: httpx.AsyncClient, settings: Settings, people: Cast, principal: str = "50000.00", months: int = 12
) -> dict[str, Any]:
    """`approved_loan`, once servicing has opened its account from the approval event."""
    loan = await approved_loan(client, people, principal, months)
    await ServicingTable(settings).wait_for_account(loan["id"])
    return loan


class ServicingTable:
    """Straight reads (and the odd deletion) of the servicing schema, as the servicing role."""

    def __init__(self, settings: Settings) -> None:
        self.dsn = role_dsn(settings, "servicing")

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        con = await asyncpg.connect(self.dsn)
        try:
            return await con.fetch(sql, *args)
        finally:
            await con.close()

    async def account(self, loan_id: str) -> asyncpg.Record | None:
        rows = await self.fetch("SELECT * FROM servicing.accounts WHERE loan_id = $1", uuid.UUID(loan_id))
        return rows[0] if rows else None

    async def installments(self, loan_id: str) -> list[asyncpg.Record]:
        sql = "SELECT * FROM servicing.installments WHERE loan_id = $1 ORDER BY number"
        return await self.fetch(sql, uuid.UUID(loan_id))

    async def transactions(self, loan_id: str) -> list[asyncpg.Record]:
        sql = """SELECT id, amount, paid_on, allocation::text AS allocation, reversed
                 FROM servicing.transactions WHERE loan_id = $1 ORDER BY seq"""
        return await self.fetch(sql, uuid.UUID(loan_id))

    async def wait_for_account(self, loan_id: str, timeout: float = 10.0) -> asyncpg.Record:
        async def opened() -> asyncpg.Record | None:
            return await self.account(loan_id)

        found: asyncpg.Record = await eventually(
            opened, timeout=timeout, what=f"servicing did not open the account of {loan_id}"
        )
        return found

    async def forget_account(self, loan_id: str) -> None:
        """Delete an account and its rows, as if its approval event had never landed."""
        await self.fetch("DELETE FROM servicing.accounts WHERE loan_id = $1", uuid.UUID(loan_id))


def money(value: Any) -> Decimal:
    return Decimal(str(value))


async def assert_books_balance(settings: Settings, loan_id: str) -> None:
    """design.md §11's invariants, read from the schema: Σ allocations = Σ repayments not reversed;
    each installment's paid columns = its allocations, never more than it owes; outstanding
    principal = principal − Σ principal allocated; the account's sums = its installments'."""
    table = ServicingTable(settings)
    account = await table.account(loan_id)
    assert account is not None
    installments = await table.installments(loan_id)
    live = [t for t in await table.transactions(loan_id) if not t["reversed"]]
    allocated: dict[int, list[Decimal]] = {i["number"]: [Decimal(0), Decimal(0)] for i in installments}
    for t in live:
        parts = json.loads(t["allocation"])
        assert sum(Decimal(a["interest"]) + Decimal(a["principal"]) for a in parts) == t["amount"], t
        for a in parts:
            allocated[a["installment"]][0] += Decimal(a["interest"])
            allocated[a["installment"]][1] += Decimal(a["principal"])
    for i in installments:
        assert [i["paid_interest"], i["paid_principal"]] == allocated[i["number"]], i
        assert (
            i["paid_interest"] + i["waived_interest"] <= i["interest"]
            and i["paid_principal"] <= i["principal"]
        )
    paid_principal = sum((i["paid_principal"] for i in installments), Decimal(0))
    assert account["paid_principal"] == paid_principal
    assert account["paid_interest"] == sum((i["paid_interest"] for i in installments), Decimal(0))
    assert account["outstanding_principal"] == account["principal"] - paid_principal


async def events_of(nc: Client, settings: Settings, loan_id: str, count: int) -> list[dict[str, Any]]:
    """The first `count` servicing events about this loan in the events stream, in order (fails
    after a few seconds with fewer); each the envelope as JSON."""
    sub = await nc.jetstream().subscribe(
        f"{settings.events_prefix}.servicing.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    found: list[dict[str, Any]] = []
    try:

        async def enough() -> bool:
            while len(found) < count:
                try:
                    msg = await sub.next_msg(timeout=0.2)
                except NatsTimeout:
                    return False
                event = json.loads(msg.data)
                if event["aggregate_id"] == loan_id:
                    found.append(event)
            return True

        await eventually(enough, timeout=10.0, what=f"fewer than {count} events of {loan_id}")
    finally:
        await sub.unsubscribe()
    return found


@dataclass
class OwnSystem:
    """An isolated system on a NATS server of its own, and a connection to that server."""

    system: Isolated
    nc: Client

    @property
    def client(self) -> httpx.AsyncClient:
        return self.system.client

    @property
    def settings(self) -> Settings:
        return self.system.settings


@asynccontextmanager
async def own_system(server_urls: tuple[str, str], tmp: Path, **overrides: Any) -> AsyncIterator[OwnSystem]:
    """`isolated_system` on its own NATS server: request subjects carry no prefix, so on the run's
    server its workers would share the queue groups of the session's workers, and a request
    could be answered by the other system."""
    _, admin_url = server_urls
    nats = EmbeddedNats(tmp / f"nats-{uuid.uuid4().hex[:8]}")
    nats_url = nats.start()
    try:
        async with isolated_system((nats_url, admin_url), tmp, **overrides) as system:
            nc = await connect(system.settings, "tests")
            try:
                yield OwnSystem(system, nc)
            finally:
                await nc.drain()
    finally:
        nats.stop()


async def close_business(system: OwnSystem, who: Person, on: date) -> None:
    """A close of business to `on` (servicing.run_cob as `who`, an admin) waited for until DONE:
    the business date is `on` and every active account judged at it. Fails if the date is not
    after the business date (such a run does nothing, and the test would prove nothing)."""
    assert who.token is not None
    before = await cob_business_date(system.settings)
    assert before < on, f"the business date is {before} already; a run to {on} would do nothing"
    await run_to_done(system.nc, who.token, on)
    assert await cob_business_date(system.settings) == on
