"""A loans worker killed (SIGKILL) or stopped (SIGTERM) under load: its twin carries on, the edge
retries what was lost, and nothing is made twice or lost."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.harness import (
    Load,
    cast,
    duplicate_writes,
    events_settled,
    loans_made,
    report,
    retried,
    system,
)

pytestmark = [pytest.mark.anyio, pytest.mark.chaos]


async def test_sigkill_of_one_of_two_loans_workers_fails_no_read_and_makes_no_write_twice(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    async with system(tmp_path, server_urls) as sys:
        async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
            await sys.wait_ready(http)
            people = await cast(http, sys.settings)
            before = await loans_made(sys, people.agent.id)
            load = Load(http, people)
            load.start()
            await asyncio.sleep(4)
            victim = sys.processes["loans-1"]
            # Frozen for a moment first, so that the kill is sure to catch requests in flight on
            # it (NATS goes on handing it its share): those are lost with it, and only the edge's
            # retry on the other worker (after the attempt's timeout) can answer them.
            victim.send_signal(signal.SIGSTOP)
            await asyncio.sleep(0.3)
            victim.send_signal(signal.SIGKILL)
            await asyncio.sleep(6)
            await load.stop()
            assert victim.wait(5) == -signal.SIGKILL
            assert sys.processes["loans-2"].poll() is None
            retries = await retried(http)
            events = await events_settled(sys)
            duplicates = await duplicate_writes(sys, people.agent.id)
            made = await loans_made(sys, people.agent.id) - before
        report(
            "SIGKILL one of two loans workers",
            sent=load.sent(),
            failed=load.failed(),
            failed_reads=load.failed("read"),
            failed_writes=load.failed("write"),
            retried=sum(retries.values()),
            retried_by=retries,
            writes_ok=load.succeeded_writes(),
            loans_made=made,
            duplicate_writes=duplicates,
            events_lost=events.lost,
            statuses=load.statuses(),
        )
        assert load.sent() > 200
        assert load.failed("read") == 0
        assert duplicates == 0
        assert made == load.succeeded_writes()  # every write made once, none made unseen
        assert load.failed() == 0  # keyed writes (the edge's keys too) are retried as safely as reads
        assert retries.get("timeout", 0) > 0  # the requests lost with the worker were asked again
        assert events.lost == 0 and events.unpublished == 0


async def test_sigterm_of_one_of_two_loans_workers_fails_no_request(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    async with system(tmp_path, server_urls) as sys:
        async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
            await sys.wait_ready(http)
            people = await cast(http, sys.settings)
            before = await loans_made(sys, people.agent.id)
            load = Load(http, people)
            load.start()
            await asyncio.sleep(4)
            stopped = sys.processes["loans-1"]
            stopped.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(stopped.wait, 15)
            await asyncio.sleep(3)
            await load.stop()
            retries = await retried(http)
            events = await events_settled(sys)
            duplicates = await duplicate_writes(sys, people.agent.id)
            made = await loans_made(sys, people.agent.id) - before
        report(
            "SIGTERM one of two loans workers",
            sent=load.sent(),
            failed=load.failed(),
            retried=sum(retries.values()),
            retried_by=retries,
            exit_code=code,
            loans_made=made,
            duplicate_writes=duplicates,
            events_lost=events.lost,
            statuses=load.statuses(),
        )
        assert code == 0
        assert load.sent() > 200
        assert load.failed() == 0
        assert duplicates == 0 and made == load.succeeded_writes()
        assert events.lost == 0 and events.unpublished == 0
