"""NATS or Postgres restarted under load: the system comes back by itself, no process restarted,
and no event is lost."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.support.harness import (
    Load,
    cast,
    dead_letters,
    duplicate_writes,
    events_settled,
    loans_made,
    report,
    retried,
    system,
)

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]
RECOVERY_BOUND = 10.0  # seconds after the server is back by which every request succeeds again


def recovery(load: Load, back_at: float) -> float:
    """Seconds from `back_at` to the last failed request (0 if none failed after it)."""
    last = max((o.at for o in load.outcomes if o.status not in (200, 201)), default=back_at)
    return round(max(0.0, last - back_at), 2)


async def test_nats_restarted_under_load_recovers_by_itself_and_loses_no_event(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    async with system(tmp_path, server_urls) as sys:
        async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
            await sys.wait_ready(http)
            people = await cast(http, sys.settings)
            pids = {name: p.pid for name, p in sys.processes.items()}
            before = await loans_made(sys, people.agent.id)
            load = Load(http, people)
            load.start()
            await asyncio.sleep(3)
            down_at = time.monotonic()
            await asyncio.to_thread(sys.restart_nats, 1.0)  # down for a second, then the same store
            back_at = time.monotonic()
            await asyncio.sleep(RECOVERY_BOUND + 1)
            await load.stop()
            retries = await retried(http)
            events = await events_settled(sys)
            duplicates = await duplicate_writes(sys, people.agent.id)
            made = await loans_made(sys, people.agent.id) - before
            dlq = await dead_letters(sys)
        during = [o for o in load.outcomes if down_at <= o.at]
        report(
            "NATS restarted (down 1 s)",
            sent=load.sent(),
            failed=load.failed(),
            failed_by_status={s: n for s, n in load.statuses().items() if s not in (200, 201)},
            retried=sum(retries.values()),
            retried_by=retries,
            down_s=round(back_at - down_at, 2),
            recovered_s_after_back=recovery(load, back_at),
            ok_after_back=sum(1 for o in during if o.at > back_at and o.status in (200, 201)),
            loans_made=made,
            duplicate_writes=duplicates,
            events_written=events.written,
            events_lost=events.lost,
            events_unpublished=events.unpublished,
            dead_letters=dlq,
        )
        assert all(p.poll() is None and p.pid == pids[name] for name, p in sys.processes.items())
        assert recovery(load, back_at) <= RECOVERY_BOUND
        assert sum(1 for o in load.outcomes if o.at > back_at + RECOVERY_BOUND) > 50  # and it serves
        assert duplicates == 0
        assert events.lost == 0 and events.unpublished == 0 and dlq == 0


async def test_postgres_restarted_under_load_is_503_meanwhile_and_recovers_without_restarts(
    tmp_path: Path,
) -> None:
    async with system(tmp_path, None, own_postgres=True) as sys:
        assert sys.postgres is not None
        async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
            await sys.wait_ready(http)
            people = await cast(http, sys.settings)
            pids = {name: p.pid for name, p in sys.processes.items()}
            before = await loans_made(sys, people.agent.id)
            load = Load(http, people)
            load.start()
            await asyncio.sleep(3)
            down_at = time.monotonic()
            await asyncio.to_thread(sys.postgres.stop)
            stopped_at = time.monotonic()
            await asyncio.sleep(3)
            starting_at = time.monotonic()
            await asyncio.to_thread(sys.postgres.start)  # the same port and data
            back_at = time.monotonic()
            await asyncio.sleep(RECOVERY_BOUND + 1)
            await load.stop()
            retries = await retried(http)
            events = await events_settled(sys)
            duplicates = await duplicate_writes(sys, people.agent.id)
            made = await loans_made(sys, people.agent.id) - before
            dlq = await dead_letters(sys)
        down = [o for o in load.outcomes if stopped_at <= o.at <= starting_at]
        report(
            "Postgres restarted (down 3 s)",
            sent=load.sent(),
            failed=load.failed(),
            failed_by_status={s: n for s, n in load.statuses().items() if s not in (200, 201)},
            while_down=len(down),
            while_down_503=sum(1 for o in down if o.status == 503),
            retried=sum(retries.values()),
            retried_by=retries,
            down_s=round(back_at - down_at, 2),
            recovered_s_after_back=recovery(load, back_at),
            loans_made=made,
            writes_ok=load.succeeded_writes(),
            duplicate_writes=duplicates,
            events_written=events.written,
            events_lost=events.lost,
            events_unpublished=events.unpublished,
            dead_letters=dlq,
        )
        assert all(p.poll() is None and p.pid == pids[name] for name, p in sys.processes.items())
        assert down and all(o.status == 503 for o in down)  # 503 meanwhile
        assert all(o.status in (200, 201, 503) for o in load.outcomes)  # never another, nor a hang
        assert recovery(load, back_at) <= RECOVERY_BOUND
        assert sum(1 for o in load.outcomes if o.at > back_at + RECOVERY_BOUND) > 50
        assert duplicates == 0
        assert events.lost == 0 and events.unpublished == 0 and dlq == 0
        # a 500 here was asyncpg's InternalClientError when the server ends a session mid-query
        # (MagicStack/asyncpg#1069): actors/db.DB_DOWN counts it as "database unavailable" now
        internal = sum(1 for o in load.outcomes if o.status == 500)
        assert internal == 0
