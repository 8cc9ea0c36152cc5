"""Events under faults, on a system of its own (its own NATS, which the test stops and starts)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.js import JetStreamContext

from actors.bus.connection import connect
from actors.bus.tokens import Caller
from actors.contracts import loans as lm
from actors.contracts.config import Settings, load_settings
from actors.loans import handlers as loans_handlers
from actors.runtime.actor import Context
from actors.runtime.db import role_dsn
from actors.runtime.events import ensure_streams
from actors.runtime.migrate import migrate
from actors.runtime.outbox import OutboxRelay
from actors.runtime.serving import ServingActor
from actors.runtime.worker import start_actor
from ops.embedded import EmbeddedNats
from ops.registry import ACTORS, deployable
from tests.support.databases import create_database, drop_database, with_database
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio


@dataclass
class System:
    settings: Settings
    nats: EmbeddedNats
    loans: ServingActor[Any] | None


@asynccontextmanager
async def isolated(server_urls: tuple[str, str], tmp: Path, *, workers: bool) -> AsyncIterator[System]:
    """A fresh database and a NATS server of its own; the users and loans workers if asked."""
    nats_server = EmbeddedNats(tmp / "nats")
    nats_url = nats_server.start()
    run = uuid.uuid4().hex[:8]
    admin_url = server_urls[1]
    settings = load_settings(
        {},
        nats_url=nats_url,
        database_url=with_database(admin_url, f"loans_iso_{run}"),
        db_role_prefix=f"li{run}_",
        data_dir=str(tmp / "data"),
        bcrypt_cost=4,
    )
    await create_database(admin_url, f"loans_iso_{run}")
    system = System(settings, nats_server, None)
    try:
        await migrate(settings)
        async with AsyncExitStack() as stack:
            if workers:
                await start_actor(deployable("users"), settings, stack)
                system.loans = await start_actor(deployable("loans"), settings, stack)
            yield system
    finally:
        system.nats.stop()  # the one running now: a test may have restarted it
        await drop_database(admin_url, f"loans_iso_{run}", [settings.role_for(a) for a in ACTORS])


async def test_loans_made_while_nats_is_down_publish_every_event_once_when_it_is_back(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """200 loans created and decided with NATS stopped: after its restart every event is published
    exactly once and the users actor's activity converges."""
    async with isolated(server_urls, tmp_path, workers=True) as system:
        assert system.loans is not None
        settings, loans = system.settings, system.loans
        customer, agent, admin = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        lcon = await asyncpg.connect(role_dsn(settings, "loans"))
        ucon = await asyncpg.connect(role_dsn(settings, "users"))
        try:
            for who, role in ((customer, "customer"), (agent, "agent")):
                await lcon.execute(
                    "INSERT INTO loans.parties (id, role, status, email, first_name, last_name, version)"
                    " VALUES ($1, $2, 'active', $3, 'A', 'B', 1)",
                    who,
                    role,
                    f"{who}@example.com",
                )

            def ctx(user: uuid.UUID, role: str) -> Context[Any]:
                return Context(
                    state=loans.state,
                    pool=loans.pool,
                    nc=loans.nc,
                    settings=settings,
                    subject="test",
                    headers={},
                    caller=Caller(id=user, role=role, token_id="t", token="t"),
                )

            system.nats.stop()
            for i in range(200):
                loan = await loans_handlers.create_loan(
                    lm.CreateLoan(customer_id=customer, principal=Decimal("25000"), months=12),
                    ctx(agent, "agent"),
                )
                decision = "APPROVED" if i % 2 else "REJECTED"
                await loans_handlers.decide_loan(
                    lm.DecideLoan(loan_id=loan.id, status=decision), ctx(admin, "admin")
                )
            pending = await lcon.fetchval("SELECT count(*) FROM loans.outbox")
            assert pending == 400  # nothing could be published, nothing was lost

            system.nats = EmbeddedNats(
                tmp_path / "nats", port=int(settings.require_nats_url().rsplit(":", 1)[1])
            )
            system.nats.start()

            async def all_published() -> bool:
                left = await lcon.fetchval("SELECT count(*) FROM loans.outbox")
                return left == 0

            async def activity_converged() -> bool:
                rows = await ucon.fetchval("SELECT count(*) FROM users.activity")
                return rows == 800  # 400 events, each on the customer's and the agent's profile

            await eventually(
                all_published,
                timeout=30,
                interval=0.1,
                what="the outbox was not emptied after NATS came back",
            )
            await eventually(
                activity_converged,
                timeout=30,
                interval=0.1,
                what="the users actor's activity did not converge",
            )
            nc = await connect(settings, "test")
            try:
                info = await nc.jetstream().stream_info(settings.events_stream)
                assert info.state.messages == 400
            finally:
                await nc.drain()
            versions = await ucon.fetch(
                "SELECT type, version, count(*) AS n FROM users.activity GROUP BY 1, 2"
            )
            assert {(r["type"], r["version"]): r["n"] for r in versions} == {
                ("loan.created", 1): 400,
                ("loan.approved", 2): 200,
                ("loan.rejected", 2): 200,
            }
        finally:
            await lcon.close()
            await ucon.close()


@dataclass
class Outbox:
    settings: Settings
    con: asyncpg.Connection
    js: JetStreamContext
    subject: str


@asynccontextmanager
async def thousand_rows(server_urls: tuple[str, str], tmp_path: Path, name: str) -> AsyncIterator[Outbox]:
    """A system without workers, its streams made, and 1,000 rows in the loans outbox on the
    subject `<prefix>.tests.<name>`, each payload {"n": its place}."""
    async with isolated(server_urls, tmp_path, workers=False) as system:
        settings = system.settings
        con = await asyncpg.connect(role_dsn(settings, "loans"))
        nc = await connect(settings, "test")
        try:
            js = nc.jetstream()
            await ensure_streams(js, settings)
            subject = f"{settings.events_prefix}.tests.{name}"
            await con.executemany(
                "INSERT INTO loans.outbox (id, subject, payload) VALUES ($1, $2, $3)",
                [(uuid.uuid4(), subject, msgspec.json.encode({"n": n})) for n in range(1000)],
            )
            yield Outbox(settings, con, js, subject)
        finally:
            await nc.drain()
            await con.close()


async def test_two_relays_racing_over_a_thousand_rows_publish_each_once(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """SKIP LOCKED shares the rows: together they publish 1,000, no row twice, none left."""
    async with thousand_rows(server_urls, tmp_path, "race") as box:
        pool = await asyncpg.create_pool(role_dsn(box.settings, "loans"), min_size=2, max_size=4)
        try:
            relays = [OutboxRelay(box.settings, "loans", pool, box.js) for _ in range(2)]
            counts = await asyncio.gather(*(relay.flush() for relay in relays))
        finally:
            await pool.close()
        assert sum(counts) == 1000
        assert sum(relay.duplicates for relay in relays) == 0
        assert await box.con.fetchval("SELECT count(*) FROM loans.outbox") == 0
        info = await box.js.stream_info(box.settings.events_stream, subjects_filter=box.subject)
        assert info.state.messages == 1000


async def test_a_relay_publishes_rows_in_the_order_they_were_written(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """Over several batches (1,000 rows, 200 a claim), the stream holds the events in outbox order:
    the claim's RETURNING promises no order, so the relay sorts what it claimed."""
    async with thousand_rows(server_urls, tmp_path, "order") as box:
        # Rows updated out of order move about on their pages: make the physical order differ
        # from seq, as a busy table's does.
        await box.con.execute("UPDATE loans.outbox SET headers = '{}' WHERE seq % 3 = 0")
        pool = await asyncpg.create_pool(role_dsn(box.settings, "loans"), min_size=1, max_size=2)
        try:
            assert await OutboxRelay(box.settings, "loans", pool, box.js).flush() == 1000
        finally:
            await pool.close()
        sub = await box.js.subscribe(box.subject, ordered_consumer=True)
        seen = [msgspec.json.decode((await sub.next_msg(timeout=5)).data)["n"] for _ in range(1000)]
        await sub.unsubscribe()
        assert seen == list(range(1000))
