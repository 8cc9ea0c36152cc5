"""`loans.import_batch` sent again while the first is still being written: a killed import's last
batch finishing after the resumed run sent it anew, or a second importer, land on two loans
workers at once. Each loan must be written once, with its history once and one event."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from nats.aio.client import Client

from actors.bus.client import request
from actors.contracts import imports as im
from actors.contracts.config import Settings
from actors.runtime.serving import ServingActor
from actors.runtime.worker import start_actor
from ops.registry import deployable
from tests.support.people import admin
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
# Legacy ids no monolith in these tests has (tests/imports/monolith numbers from 1).
FIRST = 7_000_000
ROUNDS, BATCH, SENDS = 4, 40, 3
_decode = msgspec.json.Decoder(im.ImportReply).decode


def _loan(legacy_id: int) -> im.ImportedLoan:
    """A NEW loan with a 'created' and an 'edited' row in its monolith history."""
    customer, agent = im.legacy_user_id(legacy_id), im.legacy_user_id(legacy_id + 1)
    at = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    principal, rate, months = Decimal("25000.00"), Decimal("12.00"), 24
    change = {
        "changed_by": agent,
        "principal": principal,
        "interest": rate,
        "months": months,
        "emi": Decimal("1176.84"),
        "amount": Decimal("28244.16"),
        "status": "NEW",
        "start_date": None,
        "end_date": None,
    }
    return im.ImportedLoan(
        legacy_id=legacy_id,
        customer_id=customer,
        customer_email=f"c{legacy_id}@monolith.example",
        customer_name="C Ustomer",
        agent_id=agent,
        agent_email=f"a{legacy_id}@monolith.example",
        principal=principal,
        interest=rate,
        months=months,
        status="NEW",
        start_date=None,
        created_at=at,
        modified_at=at.replace(hour=10),
        history=[
            im.ImportedChange(change="created", changed_at=at, **change),
            im.ImportedChange(change="edited", changed_at=at.replace(hour=10), **change),
        ],
    )


async def _loan_events(nc: Client, settings: Settings) -> int:
    info = await nc.jetstream().stream_info(
        settings.events_stream, subjects_filter=f"{settings.events_prefix}.loans.>"
    )
    return sum((info.state.subjects or {}).values())


async def test_the_same_batch_on_two_workers_at_once_writes_each_loan_and_its_history_once(
    settings: Settings, client: httpx.AsyncClient, loans_worker: ServingActor[Any], nc: Client
) -> None:
    token = str((await admin(client, settings)).token)
    legacy_ids = list(range(FIRST, FIRST + ROUNDS * BATCH))
    events_before = await _loan_events(nc, settings)
    async with AsyncExitStack() as stack:
        await start_actor(deployable("loans"), settings, stack)  # a second worker in the queue group
        for r in range(ROUNDS):
            body = msgspec.json.encode(im.ImportLoans(loans=[_loan(n) for n in legacy_ids[r::ROUNDS]]))
            replies = await asyncio.gather(
                *(request(nc, "loans.import_batch", body, timeout=30, token=token) for _ in range(SENDS))
            )
            inserted = [n for reply in map(_decode, replies) for n in reply.inserted]
            assert sorted(inserted) == legacy_ids[r::ROUNDS]  # each loan inserted by one send only
            for reply in map(_decode, replies):
                assert sorted(reply.inserted + reply.present) == legacy_ids[r::ROUNDS]
                assert reply.principal == Decimal("25000.00") * BATCH
    con = await asyncpg.connect(settings.database_url)
    try:
        history = await con.fetch(
            "SELECT l.legacy_id, array_agg(h.change ORDER BY h.version) AS changes"
            " FROM loans.loans l JOIN loans.loan_history h ON h.loan_id = l.id"
            " WHERE l.legacy_id = ANY($1::bigint[]) GROUP BY l.legacy_id",
            legacy_ids,
        )
    finally:
        await con.close()
    assert {r["legacy_id"]: r["changes"] for r in history} == {
        n: ["created", "edited", "imported"] for n in legacy_ids
    }

    async def one_event_a_loan() -> bool:
        return await _loan_events(nc, settings) - events_before == len(legacy_ids)

    await eventually(one_event_a_loan, timeout=15, what="not one event per imported loan")
    await asyncio.sleep(0.5)  # a second event written would be published by now
    assert await _loan_events(nc, settings) - events_before == len(legacy_ids)
