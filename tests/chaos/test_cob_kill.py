"""A servicing worker SIGKILLed during a close of business of 20,000 accounts, run by three real
`loans worker servicing` processes: its batch in hand comes back to the others, and every account
is judged exactly once (cob_date set, each event once)."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.bus.client import request
from actors.bus.connection import connect
from actors.contracts.config import load_settings
from actors.contracts.errors import DeadlineExceeded
from actors.contracts.users import CreateAdmin
from actors.runtime.migrate import migrate
from actors.users.bootstrap import create_admin
from actors.users.service import key_path
from actors.users.signing import load_or_create
from ops.embedded import EmbeddedNats
from ops.registry import ACTORS
from tests.support.cob import (
    Account,
    bucket_of,
    business_date,
    cob,
    dpd_at,
    insert_accounts,
    servicing_connection,
    servicing_events,
    unpaid,
)
from tests.support.databases import create_database, drop_database, with_database
from tests.support.harness import System, report
from tests.support.polling import eventually

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]
ACCOUNTS = 20_000
T = datetime.now(UTC).date() + timedelta(days=5)


async def test_sigkill_of_a_servicing_worker_during_cob_judges_every_account_once(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """3 workers, one SIGKILLed mid-run: the run ends DONE, each account judged once, events once."""
    nats_server = EmbeddedNats(tmp_path / "nats")
    nats_url = nats_server.start()
    run = uuid.uuid4().hex[:8]
    database = f"loans_cob_{run}"
    settings = load_settings(
        {},
        nats_url=nats_url,
        database_url=with_database(server_urls[1], database),
        db_role_prefix=f"lk{run}_",
        data_dir=str(tmp_path / "data"),
        bcrypt_cost=4,
        event_ack_wait=2.0,  # the killed worker's batch comes back soon
        outbox_poll_seconds=0.5,
        allow_future_business_date=True,
        cob_auto=False,
        cob_batch_size=200,
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    sys = System(settings, with_database(server_urls[1], database), nats_server, logs)
    await create_database(server_urls[1], database)
    try:
        await migrate(settings)
        load_or_create(key_path(settings))
        sys.start_worker("users-1", "users")
        for i in (1, 2, 3):
            sys.start_worker(f"servicing-{i}", "servicing")
        accounts = [Account(start=T - timedelta(days=i % 400)) for i in range(ACCOUNTS)]
        await insert_accounts(settings, accounts)
        nc = await connect(settings, "tests-cob-kill")
        try:
            await create_admin(
                settings,
                CreateAdmin(
                    email=f"a{run}@example.com", password="correct-horse-9", first_name="Ada", last_name="Min"
                ),
            )
            login = msgspec.json.encode({"email": f"a{run}@example.com", "password": "correct-horse-9"})
            reply = await eventually(
                lambda: request(nc, "users.login", login, timeout=2), timeout=30, ignoring=(Exception,)
            )
            token = msgspec.json.decode(reply)["access_token"]
            await eventually(
                lambda: request(nc, "servicing.business_date", b"{}", timeout=2, token=token),
                timeout=30,
                ignoring=(Exception,),
                what="the servicing workers answer",
            )
            started = time.monotonic()
            assert (await cob(nc, token, "servicing.run_cob", T))["status"] == "RUNNING"

            async def some_done() -> dict[str, Any] | None:
                status = await cob(nc, token, "servicing.cob_status", T)
                return status if int(status["batches_done"]) >= 5 else None

            at_kill = await eventually(some_done, timeout=60, interval=0.05, what="five batches done")
            victim = sys.processes["servicing-1"]
            victim.send_signal(signal.SIGSTOP)  # frozen with its batch in hand (its transaction open)...
            await asyncio.sleep(0.3)
            victim.send_signal(signal.SIGKILL)  # ...then gone: only the ack wait brings the batch back

            async def done() -> dict[str, Any] | None:
                status = await cob(nc, token, "servicing.cob_status", T)
                return status if status["status"] == "DONE" else None

            # a status request the frozen worker took before it was killed never gets its answer
            final = await eventually(
                done, timeout=300, interval=0.2, what="the run done", ignoring=(DeadlineExceeded,)
            )
            wall = time.monotonic() - started
            assert victim.wait(5) == -signal.SIGKILL
            events = await servicing_events(nc, settings, settle=2.0)
        finally:
            await nc.drain()
        con = await servicing_connection(settings)
        try:
            judged = await con.fetchval("SELECT count(*) FROM accounts WHERE cob_date = $1", T)
            by_worker = Counter(r["done_by"] for r in await con.fetch("SELECT done_by FROM cob_batches"))
            undone = await con.fetchval("SELECT count(*) FROM cob_batches WHERE done_at IS NULL")
            left = await con.fetchval("SELECT count(*) FROM outbox")
            versions = {
                r["loan_id"]: r["version"] for r in await con.fetch("SELECT loan_id, version FROM accounts")
            }
        finally:
            await con.close()
        moved = await business_date(settings)
    finally:
        sys.stop_all()
        await drop_database(server_urls[1], database, [settings.role_for(a) for a in ACTORS])
        nats_server.stop()
    overdue = sum(1 for a in accounts for _, due in unpaid(a) if due < T)
    moving = sum(1 for a in accounts if bucket_of(dpd_at(a, T)) != "current")
    kinds = Counter(e.type for e in events)
    report(
        "SIGKILL one of three servicing workers during COB",
        accounts=ACCOUNTS,
        batches=final["batches"],
        batches_done_at_kill=at_kill["batches_done"],
        batches_by_worker=dict(by_worker),
        events=len(events),
        wall_seconds=round(wall, 1),
    )
    assert at_kill["status"] == "RUNNING"
    assert final["batches_done"] == final["batches"] == ACCOUNTS // 200 and undone == 0
    assert judged == ACCOUNTS and moved == T and left == 0
    assert len(by_worker) >= 2  # the work was spread
    assert kinds["servicing.installment.overdue"] == overdue
    assert kinds["servicing.loan.delinquency_changed"] == moving
    assert len({(e.type, e.loan_id, e.data["installment"]) for e in events}) == len(events)  # each once
    per_account = Counter(e.loan_id for e in events)
    assert all(versions[a.loan_id] == 1 + per_account[a.loan_id] for a in accounts)
