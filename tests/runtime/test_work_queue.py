"""The work-queue facility: items queued through the outbox are done once each, spread over the
pullers of one durable, acked after commit, delivered again when a puller dies with one in hand,
dead-lettered after max_deliver, and a stop lets the item in hand finish."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType

from actors.bus.connection import connect
from actors.contracts.base import Message
from actors.contracts.config import Settings
from actors.runtime.db import Conn, create_pool
from actors.runtime.events import ensure_streams
from actors.runtime.outbox import OutboxRelay
from actors.runtime.work_queue import (
    WorkQueue,
    WorkSubscription,
    enqueue,
    ensure_work_stream,
    work_subject,
)
from tests.support.databases import delete_streams
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
TOPIC = "servicing.test"


class Item(Message):
    n: int


@dataclass
class Env:
    settings: Settings
    pool: asyncpg.Pool
    nc: Client
    js: JetStreamContext
    table: str  # servicing.<table>: one row per item done (n primary key: twice would fail)

    def queue(self, handler: Any, durable: str = "wq-test") -> WorkQueue[None]:
        return WorkQueue(
            WorkSubscription(durable, TOPIC, Item, handler), self.settings, self.js, self.pool, None
        )

    async def done(self) -> list[tuple[int, str]]:
        rows = await self.pool.fetch(f"SELECT n, worker FROM {self.table} ORDER BY n")
        return [(r["n"], r["worker"]) for r in rows]

    async def enqueue(self, *ns: int) -> None:
        async with self.pool.acquire() as con, con.transaction():
            for n in ns:
                await enqueue(con, self.settings, TOPIC, Item(n=n))


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[Env]:
    """A prefix (so a stream) of its own, a short ack wait, two tries; a table of the servicing schema."""
    own = msgspec.structs.replace(
        settings, events_prefix=f"w{uuid.uuid4().hex[:8]}.events", event_ack_wait=1.0, event_max_deliver=2
    )
    pool = await create_pool(own, "servicing")
    nc = await connect(own, "test-work-queue")
    js = nc.jetstream()
    await ensure_streams(js, own)
    await ensure_work_stream(js, own)
    table = f"wq_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"CREATE TABLE {table} (n integer PRIMARY KEY, worker text NOT NULL)")
    try:
        yield Env(own, pool, nc, js, table)
    finally:
        await pool.execute(f"DROP TABLE {table}")
        await pool.close()
        await nc.drain()
        await delete_streams(own)


def recorder(env: Env, worker: str, pause: float = 0.0) -> Any:
    async def handler(item: Item, con: Conn, state: None, settings: Settings) -> None:
        await con.execute(f"INSERT INTO {env.table} (n, worker) VALUES ($1, $2)", item.n, worker)
        await asyncio.sleep(pause)  # inside the transaction: the item is in hand meanwhile

    return handler


async def test_the_stream_is_a_file_work_queue_with_a_duplicate_window(env: Env) -> None:
    """The work stream holds <work_prefix>.>, removes acked items, stores on file, drops duplicates."""
    info = await env.js.stream_info(env.settings.work_stream)
    assert info.config.subjects == [f"{env.settings.work_prefix}.>"]
    assert info.config.retention == RetentionPolicy.WORK_QUEUE
    assert info.config.storage == StorageType.FILE
    assert info.config.duplicate_window and info.config.duplicate_window > 0
    assert info.config.num_replicas == env.settings.events_replicas


async def test_items_queued_through_the_outbox_are_each_done_once_spread_over_two_pullers(env: Env) -> None:
    """20 items relayed from the outbox: each done exactly once, both pullers doing some, none left."""
    relay = OutboxRelay(env.settings, "servicing", env.pool, env.js)
    queues = [env.queue(recorder(env, "a", 0.05)), env.queue(recorder(env, "b", 0.05))]
    for q in queues:
        await q.start()
    await relay.start()
    try:
        await env.enqueue(*range(20))
        await eventually(lambda: sum(q.done for q in queues) == 20, timeout=20, what="20 items done")
    finally:
        for q in queues:
            await q.stop()
        await relay.stop()
    done = await env.done()
    assert [n for n, _ in done] == list(range(20))
    assert {w for _, w in done} == {"a", "b"}

    async def emptied() -> bool:  # the server removes an item once its ack has reached it
        return (await env.js.stream_info(env.settings.work_stream)).state.messages == 0

    await eventually(emptied, timeout=5, what="acked items were not removed from the work queue")


async def test_an_item_published_twice_with_one_message_id_is_done_once(env: Env) -> None:
    """A repeated publish (the relay after a crash) is a duplicate the stream drops."""
    subject = work_subject(env.settings, TOPIC)
    headers = {"Nats-Msg-Id": str(uuid.uuid4())}
    for _ in range(2):
        await env.js.publish(subject, msgspec.json.encode(Item(n=7)), headers=headers)
    queue = env.queue(recorder(env, "a"))
    await queue.start()
    try:
        await eventually(lambda: queue.done == 1, what="the item done")
        await asyncio.sleep(1.5)  # past the ack wait: nothing more comes
    finally:
        await queue.stop()
    assert await env.done() == [(7, "a")]


async def test_an_item_held_by_a_dead_puller_comes_back_after_the_ack_wait(env: Env) -> None:
    """A delivery never acked (its worker died) is delivered to another puller after ack_wait."""
    survivor = env.queue(recorder(env, "survivor"))
    await env.js.add_consumer(env.settings.work_stream, config=survivor.config())
    durable = await env.js.consumer_info(env.settings.work_stream, "wq-test")
    assert durable.config.ack_wait == env.settings.event_ack_wait
    assert durable.config.max_deliver == env.settings.event_max_deliver
    dead = await env.js.pull_subscribe(
        work_subject(env.settings, TOPIC), durable="wq-test", stream=env.settings.work_stream
    )
    await env.js.publish(work_subject(env.settings, TOPIC), msgspec.json.encode(Item(n=3)))
    [held] = await dead.fetch(batch=1, timeout=5)  # in hand, and never acked: a SIGKILLed worker
    assert msgspec.json.decode(held.data, type=Item).n == 3
    await survivor.start()
    try:
        await eventually(lambda: survivor.done == 1, timeout=10, what="the item delivered again")
    finally:
        await survivor.stop()
        await dead.unsubscribe()
    assert await env.done() == [(3, "survivor")]


async def test_a_failing_item_is_rolled_back_and_dead_lettered_after_max_deliver(env: Env) -> None:
    """Each try's effect rolls back; after max_deliver (2) tries the item is in the DLQ stream."""
    tries = 0

    async def failing(item: Item, con: Conn, state: None, settings: Settings) -> None:
        nonlocal tries
        tries += 1
        await con.execute(f"INSERT INTO {env.table} (n, worker) VALUES ($1, 'x')", item.n)
        raise RuntimeError("the batch's SQL failed")

    queue = env.queue(failing)
    await queue.start()
    try:
        await env.enqueue(5)
        relay = OutboxRelay(env.settings, "servicing", env.pool, env.js)
        await relay.flush()

        async def dead_lettered() -> bool:
            info = await env.js.stream_info(env.settings.dlq_stream)
            return bool(info.state.messages == 1)

        await eventually(dead_lettered, timeout=20, what="the item dead-lettered")
    finally:
        await queue.stop()
    assert tries == 2
    assert await env.done() == []
    info = await env.js.stream_info(env.settings.dlq_stream)
    letter = await env.js.get_msg(env.settings.dlq_stream, info.state.last_seq)
    assert letter.subject == f"dlq.{env.settings.events_prefix}.work.{TOPIC}"
    assert msgspec.json.decode(letter.data or b"", type=Item).n == 5
    assert (letter.headers or {})["Loans-Dead-Letter-Subject"] == work_subject(env.settings, TOPIC)


async def test_a_stop_lets_the_item_in_hand_commit_and_ack(env: Env) -> None:
    """Stopping a puller mid-item waits for it: committed once, acked, not delivered again."""
    slow = env.queue(recorder(env, "slow", pause=0.8))
    await slow.start()
    await env.enqueue(9)
    await OutboxRelay(env.settings, "servicing", env.pool, env.js).flush()
    await eventually(lambda: slow._current is not None, timeout=5, what="the item in hand")
    await slow.stop()
    assert slow.done == 1
    after = env.queue(recorder(env, "after"))
    await after.start()
    await asyncio.sleep(2.0)  # past the ack wait: an unacked item would have come back
    await after.stop()
    assert await env.done() == [(9, "slow")]
    assert after.done == 0
