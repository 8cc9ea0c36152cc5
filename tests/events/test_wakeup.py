"""The outbox wakes its relays: a transaction that writes events notifies `<schema>_outbox` once,
at commit (db/<schema>/0004_outbox_notify.sql), and a rolled-back one never does."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("schema", ["users", "loans"])
async def test_an_outbox_insert_notifies_its_relays_at_commit_only(settings: Settings, schema: str) -> None:
    listener = await asyncpg.connect(role_dsn(settings, schema))
    writer = await asyncpg.connect(role_dsn(settings, schema))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(f"{schema}_outbox", lambda *args: heard.put_nowait(args[2]))
    # A subject of the run's stream that no consumer follows: the run's relays publish it harmlessly.
    subject = f"{settings.events_prefix}.tests.wakeup"
    insert = f"INSERT INTO {schema}.outbox (id, subject, payload) VALUES ($1, '{subject}', '\\x7b7d')"
    try:
        async with writer.transaction():
            await writer.execute(insert, uuid.uuid4())
            await writer.execute(insert, uuid.uuid4())
            await asyncio.sleep(0.2)
            assert heard.empty()  # nothing before the commit
        assert await asyncio.wait_for(heard.get(), 5) == f"{schema}_outbox"
        await asyncio.sleep(0.2)
        assert heard.empty()  # once per transaction, however many rows
        tx = writer.transaction()
        await tx.start()
        await writer.execute(insert, uuid.uuid4())
        await tx.rollback()
        await asyncio.sleep(0.3)
        assert heard.empty()
    finally:
        await writer.execute(f"DELETE FROM {schema}.outbox WHERE subject = $1", subject)
        await listener.close()
        await writer.close()
