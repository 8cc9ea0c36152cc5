"""Close-of-business test helpers: accounts put straight into a servicing schema, runs started
and watched over NATS, and the servicing events a run published.

Accounts are inserted as the servicing role (a documented test shortcut: opening accounts from
`loans.loan.approved` is tested with the accounts), with schedules computed here: installment k
due on start + k calendar months (clamped to the month's end), equal principal parts, a flat
interest per installment. Paid installments are paid in full, in due order.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.connection import connect
from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.isolated import Isolated, isolated_system
from tests.support.people import admin
from tests.support.polling import eventually

INTEREST = Decimal("100.00")  # every installment's interest, in these tests' schedules
PART = Decimal("1000.00")  # every installment's principal


def add_months(start: date, k: int) -> date:
    """start + k calendar months, clamped to the month's last day (design.md §11)."""
    month = start.month - 1 + k
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass
class Account:
    """An account as inserted: `paid` installments paid in full, `partial` paid into the next."""

    start: date
    months: int = 12
    paid: int = 0
    partial: Decimal = Decimal("0.00")
    closed: bool = False
    loan_id: uuid.UUID = field(default_factory=uuid.uuid4)
    customer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    agent_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def due_dates(self) -> list[date]:
        return [add_months(self.start, k) for k in range(1, self.months + 1)]

    @property
    def paid_principal(self) -> Decimal:
        if self.closed:
            return PART * self.months
        return PART * self.paid + max(self.partial - INTEREST, Decimal("0.00"))

    @property
    def paid_interest(self) -> Decimal:
        if self.closed:
            return INTEREST * self.months
        return INTEREST * self.paid + min(self.partial, INTEREST)

    def installment_paid(self, k: int) -> tuple[Decimal, Decimal]:
        """(paid interest, paid principal) of installment k (1-based)."""
        if self.closed or k <= self.paid:
            return INTEREST, PART
        if k == self.paid + 1:
            return min(self.partial, INTEREST), max(self.partial - INTEREST, Decimal("0.00"))
        return Decimal("0.00"), Decimal("0.00")


def bucket_of(dpd: int) -> str:
    """design.md §11: current (0), 1-30, 31-60, 61-90, 90+."""
    for top, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if dpd <= top:
            return name
    return "90+"


def unpaid(a: Account) -> list[tuple[int, date]]:
    return [(k, due) for k, due in enumerate(a.due_dates, 1) if a.installment_paid(k) != (INTEREST, PART)]


def dpd_at(a: Account, b: date) -> int:
    """b − the due date of the oldest installment not fully paid due before b; 0 if none."""
    late = [due for _, due in unpaid(a) if due < b]
    return (b - min(late)).days if late else 0


async def servicing_connection(settings: Settings) -> asyncpg.Connection:
    return await asyncpg.connect(
        role_dsn(settings, "servicing"), server_settings={"search_path": "servicing"}
    )


async def insert_accounts(settings: Settings, accounts: list[Account]) -> None:
    """Write the accounts and their installments (status as a repayment would have left them,
    judged at the start: nothing OVERDUE yet, so COB is what marks it)."""
    con = await servicing_connection(settings)
    try:
        async with con.transaction():
            await con.copy_records_to_table(
                "accounts",
                columns=[
                    "loan_id",
                    "customer_id",
                    "agent_id",
                    "principal",
                    "interest",
                    "months",
                    "start_date",
                    "status",
                    "closed_on",
                    "outstanding_principal",
                    "paid_principal",
                    "paid_interest",
                ],
                records=[
                    (
                        a.loan_id,
                        a.customer_id,
                        a.agent_id,
                        PART * a.months,
                        Decimal("12.00"),
                        a.months,
                        a.start,
                        "CLOSED" if a.closed else "ACTIVE",
                        a.start + timedelta(days=1) if a.closed else None,
                        PART * a.months - a.paid_principal,
                        a.paid_principal,
                        a.paid_interest,
                    )
                    for a in accounts
                ],
            )
            rows = []
            for a in accounts:
                for k, due in enumerate(a.due_dates, start=1):
                    interest, principal = a.installment_paid(k)
                    settled = interest == INTEREST and principal == PART
                    status = "PAID" if settled else ("PARTIALLY_PAID" if interest or principal else "DUE")
                    rows.append((a.loan_id, k, due, INTEREST, PART, interest, principal, status))
            await con.copy_records_to_table(
                "installments",
                columns=[
                    "loan_id",
                    "number",
                    "due_date",
                    "interest",
                    "principal",
                    "paid_interest",
                    "paid_principal",
                    "status",
                ],
                records=rows,
            )
    finally:
        await con.close()


async def business_date(settings: Settings) -> date:
    con = await servicing_connection(settings)
    try:
        value: date = await con.fetchval("SELECT business_date FROM business_date")
        return value
    finally:
        await con.close()


async def cob(nc: Client, token: str, subject: str, on: date) -> dict[str, Any]:
    """servicing.run_cob or servicing.cob_status to `on`: the reply as JSON."""
    body = msgspec.json.encode({"date": on.isoformat()})
    reply: dict[str, Any] = msgspec.json.decode(await request(nc, subject, body, timeout=10, token=token))
    return reply


async def run_to_done(nc: Client, token: str, on: date, timeout: float = 60) -> dict[str, Any]:
    """Start the run to `on` and wait until it is DONE; its last progress."""
    await cob(nc, token, "servicing.run_cob", on)

    async def done() -> dict[str, Any] | None:
        status = await cob(nc, token, "servicing.cob_status", on)
        return status if status["status"] == "DONE" else None

    finished = await eventually(done, timeout=timeout, interval=0.1, what=f"the close of business to {on}")
    assert finished is not None
    return finished


@dataclass(frozen=True)
class Event:
    type: str
    loan_id: uuid.UUID
    version: int
    data: dict[str, Any]


async def servicing_events(nc: Client, settings: Settings, settle: float = 1.0) -> list[Event]:
    """Every servicing event in the system's events stream, in stream order: read once the
    servicing outbox is empty (the relay deletes a row only after JetStream has acked it) and
    then until `settle` s pass with nothing new."""
    await outbox_drained(settings)
    js = nc.jetstream()
    sub = await js.pull_subscribe(f"{settings.events_prefix}.servicing.>", stream=settings.events_stream)
    found: list[Event] = []
    try:
        while True:
            try:
                batch = await sub.fetch(batch=1000, timeout=settle)
            except TimeoutError:
                return found
            for msg in batch:
                envelope = msgspec.json.decode(msg.data)
                found.append(
                    Event(
                        envelope["type"],
                        uuid.UUID(envelope["aggregate_id"]),
                        envelope["version"],
                        envelope["data"],
                    )
                )
                await msg.ack()
    finally:
        await sub.unsubscribe()


async def outbox_drained(settings: Settings, timeout: float = 15.0) -> None:
    """Wait until the servicing relay has published every event written so far; a fixed settle
    alone was not always long enough on a loaded CI machine."""
    con = await servicing_connection(settings)
    try:

        async def empty() -> bool:
            return await con.fetchval("SELECT count(*) FROM outbox") == 0

        await eventually(empty, timeout=timeout, what="the servicing outbox was not drained")
    finally:
        await con.close()


@dataclass
class CobSystem:
    iso: Isolated
    nc: Client
    token: str  # an admin's

    @property
    def settings(self) -> Settings:
        return self.iso.settings


@asynccontextmanager
async def cob_system(server_urls: tuple[str, str], tmp: Path, **overrides: Any) -> AsyncIterator[CobSystem]:
    """An isolated system (tests/support/isolated.py), a NATS connection to it and an admin."""
    async with isolated_system(server_urls, tmp, **overrides) as iso:
        boss = await admin(iso.client, iso.settings)
        assert boss.token is not None
        nc = await connect(iso.settings, "tests-cob")
        try:
            yield CobSystem(iso, nc, boss.token)
        finally:
            await nc.drain()
