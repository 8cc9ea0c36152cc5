"""Work queues: items of work spread over every worker of an actor, each done once.

An item is published on `<work_prefix>.<topic>` into the WorkQueue stream `settings.work_stream`
(retention work-queue: an item is deleted once acknowledged), always through the actor's outbox
(`enqueue`, in the transaction that decides the work), so what is decided is sure to be queued:
the relay publishes it with `Nats-Msg-Id` = its row id, and a publish repeated after a crash is
a duplicate the stream drops.

Every worker of the actor pulls from one durable consumer per topic, one item at a time, so the
items spread over the workers (more workers finish sooner). An item's handler runs in one
transaction; the item is acknowledged after the commit. While it runs, the delivery is kept
alive (`in_progress`) well within `event_ack_wait`; a worker that dies (SIGKILL) stops doing so,
and JetStream delivers the item again to another worker after `event_ack_wait`. A handler must
therefore be idempotent: an item may be delivered again after its commit (a worker killed
between the commit and the ack). A failure is retried with back-off; after `event_max_deliver`
tries the item goes to the dead-letter stream (`dlq.<events_prefix>.work.<topic>`, so `loans
events dlq` lists it and `loans events replay` sends it back) and is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from actors.contracts.config import Settings
from actors.contracts.headers import CONSUMER_HEADER, REASON_HEADER, SUBJECT_HEADER
from actors.runtime.background import BackgroundLoop, Backoff
from actors.runtime.db import Conn
from actors.runtime.events import DUPLICATE_WINDOW, INSERT_OUTBOX, OutboxRow

log = logging.getLogger("actors.runtime.work_queue")
S = TypeVar("S")
# (item, con, state, settings): the settings too, as a handler may write events (their prefix)
WorkHandler = Callable[[Any, Conn, S, Settings], Awaitable[None]]
REDELIVERY = Backoff(initial=0.5, cap=10.0)  # the delay before a failed item is delivered again
RESUBSCRIBE = Backoff(initial=0.2, cap=5.0)  # while NATS is away, or the stream or consumer is
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class WorkSubscription(Generic[S]):
    """A durable consumer of the items on `<work_prefix>.<topic>`, each a `item_type`."""

    durable: str
    topic: str  # e.g. "servicing.cob"
    item_type: type[Any]
    handler: WorkHandler[S]


def work_subject(settings: Settings, topic: str) -> str:
    return f"{settings.work_prefix}.{topic}"


def work_row(settings: Settings, topic: str, item: msgspec.Struct) -> OutboxRow:
    """The outbox row of a work item (the payload is the item's JSON, not an event envelope)."""
    return OutboxRow(uuid.uuid4(), work_subject(settings, topic), _encode(item), "{}")


async def enqueue(con: Conn, settings: Settings, topic: str, item: msgspec.Struct) -> None:
    """Queue an item, in the caller's transaction: the relay publishes it once that commits."""
    await con.execute(INSERT_OUTBOX.sql, *INSERT_OUTBOX.args_of(work_row(settings, topic, item)))


async def ensure_work_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the work-queue stream; safe when workers race."""
    config = StreamConfig(
        name=settings.work_stream,
        subjects=[f"{settings.work_prefix}.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=settings.events_replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:  # exists with another config (an older version of ours)
        await js.update_stream(config)


class WorkQueue(Generic[S]):
    """One worker's puller of one topic: fetch an item, do it in a transaction, ack after commit."""

    def __init__(
        self, sub: WorkSubscription[S], settings: Settings, js: JetStreamContext, pool: asyncpg.Pool, state: S
    ) -> None:
        self.sub, self.settings, self.js, self.pool, self.state = sub, settings, js, pool, state
        self.done = 0  # items this worker committed
        self._decode = msgspec.json.Decoder(sub.item_type).decode
        self._pull: JetStreamContext.PullSubscription | None = None
        self._current: asyncio.Task[None] | None = None
        self._stopping = False
        self._loop = BackgroundLoop(
            f"work-{sub.durable}", self._fetch_and_do, backoff=RESUBSCRIBE, logger=log
        )

    @property
    def subject(self) -> str:
        return work_subject(self.settings, self.sub.topic)

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.sub.durable,
            filter_subject=self.subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.event_ack_wait,
            max_deliver=self.settings.event_max_deliver,
            max_ack_pending=1000,
        )

    async def start(self) -> None:
        self._loop.start()

    async def stop(self, grace: float = 4.0) -> None:
        """Take no new item; let the one in hand finish (at most `grace` s, else it is cancelled,
        rolled back and handed back at once), then unsubscribe."""
        self._stopping = True
        current = self._current
        if current is not None and not current.done():
            done, _ = await asyncio.wait([current], timeout=grace)
            if not done:
                log.warning(
                    "work %s: the item in hand is not done after %.0f s; handing it back",
                    self.sub.durable,
                    grace,
                )
                current.cancel()  # its transaction rolls back and the item is nak'ed
                await asyncio.wait([current], timeout=1.0)
        await self._loop.stop()
        if self._pull is not None:
            pull, self._pull = self._pull, None
            with contextlib.suppress(Exception):
                await pull.unsubscribe()

    async def _fetch_and_do(self) -> None:
        """One turn of the loop: subscribe (again, after a failure), fetch one item, do it."""
        if self._stopping:
            await asyncio.sleep(1.0)  # stop() is on its way
            return
        try:
            if self._pull is None:
                self._pull = await self.js.pull_subscribe(
                    self.subject,
                    durable=self.sub.durable,
                    stream=self.settings.work_stream,
                    config=self.config(),
                )
            try:
                # One at a time: an item is a large piece of work, and the next one is better
                # left to a worker with nothing in hand.
                [msg] = await self._pull.fetch(batch=1, timeout=1.0)
            except TimeoutError:
                return
        except Exception:
            if self._pull is not None:
                with contextlib.suppress(Exception):
                    await self._pull.unsubscribe()
                self._pull = None
            raise
        self._current = asyncio.create_task(self.handle(msg), name=f"work-{self.sub.durable}-item")
        try:
            await asyncio.shield(self._current)  # a stop waits for the item rather than cancel it
        finally:
            self._current = None

    async def handle(self, msg: Msg) -> None:
        """Do one delivery: ack after commit; on failure, retry later or dead-letter."""
        try:
            item = self._decode(msg.data)
        except Exception as exc:  # nothing to retry: it will never decode
            await self.dead_letter(msg, f"undecodable work item: {exc}")
            return
        alive = asyncio.create_task(self._keep_alive(msg))
        try:
            async with self.pool.acquire() as con, con.transaction():
                await self.sub.handler(item, con, self.state, self.settings)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # rolled back: someone else may do it now
            raise
        except Exception as exc:
            delivered = msg.metadata.num_delivered
            if delivered >= self.settings.event_max_deliver:
                await self.dead_letter(msg, f"failed {delivered} times; last: {type(exc).__name__}: {exc}")
            else:
                log.warning("work %s: item failed (try %d): %r", self.sub.durable, delivered, exc)
                await msg.nak(delay=REDELIVERY.pause(delivered))
            return
        finally:
            alive.cancel()
        self.done += 1
        await msg.ack()

    async def _keep_alive(self, msg: Msg) -> None:
        """Tell JetStream the item is being worked on, well within its ack wait."""
        every = max(self.settings.event_ack_wait / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        log.error("work %s: dead-lettering an item of %s: %s", self.sub.durable, msg.subject, reason)
        headers = {
            **(msg.headers or {}),
            REASON_HEADER: reason.replace("\r", " ").replace("\n", " ")[:1000],
            CONSUMER_HEADER: self.sub.durable,
            SUBJECT_HEADER: msg.subject,
        }
        headers.pop("Nats-Msg-Id", None)
        await self.js.publish(
            f"dlq.{self.settings.events_prefix}.work.{self.sub.topic}", msg.data, headers=headers
        )
        await msg.term()


def work_queues_for(
    subscriptions: list[WorkSubscription[Any]],
    settings: Settings,
    js: JetStreamContext,
    pool: asyncpg.Pool,
    state: Any,
) -> list[WorkQueue[Any]]:
    return [WorkQueue(s, settings, js, pool, state) for s in subscriptions]
