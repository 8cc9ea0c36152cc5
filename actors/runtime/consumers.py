"""Durable JetStream consumers that apply each event once, and dead-letter what keeps failing.

Every worker of an actor pulls from the same durable consumer, so JetStream gives each event to
one of them. The effect and the event id (in the actor's `inbox` table) commit in one
transaction: a redelivery finds the id and changes nothing. A failure is retried with back-off;
on the `max_deliver`-th failure the event goes to the dead-letter stream with the reason, and
`loans events replay` can send it back once the cause is fixed.

A fetched batch is applied in one transaction: one inbox INSERT for all its event ids, then the
handler with the fresh events in fetch order (events of one aggregate must apply in order), one
COMMIT (one WAL flush), then the acks (publishes that await no reply). If anything in the batch
raises (a poison event, a handler error, the database going away), it rolls back and its events
are applied one at a time as above, each in its own transaction: a bad event gets its own retries
and dead letter while the others still apply, and a database outage is waited out with the
delivery kept alive, never counted against `max_deliver`. An event that does not decode is
dead-lettered and left out of the batch.

A subscription's `handler` takes one event at a time; a `batch_handler` takes all the fresh events
of the batch in one call (a list of one when they go one at a time), so it can write them in one
statement rather than one per event: each statement is a round trip. With tracing on, each event
still gets its own span, opened before the handler runs (a batch handler's statements show under
the last one).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import Span

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope, decode_envelope
from actors.contracts.headers import CONSUMER_HEADER, REASON_HEADER, SUBJECT_HEADER
from actors.runtime.background import BackgroundLoop, Backoff
from actors.runtime.db import DB_DOWN, Conn
from otel import spans
from otel.setup import enabled as tracing

log = logging.getLogger("actors.runtime.consumers")
S = TypeVar("S")
EventHandler = Callable[[Envelope, Conn, S], Awaitable[None]]
BatchHandler = Callable[[list[Envelope], Conn, S], Awaitable[None]]
Delivery = tuple[Msg, Envelope]


@dataclass(frozen=True)
class EventSubscription(Generic[S]):
    """A durable consumer: the events it wants (a pattern such as "users.>") and what it does,
    either to one event at a time (`handler`) or to the fresh events of a batch (`batch_handler`)."""

    durable: str
    pattern: str
    handler: EventHandler[S] | None = None
    batch_handler: BatchHandler[S] | None = None

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise TypeError(f"{self.durable}: give exactly one of handler and batch_handler")


REDELIVERY = Backoff(initial=0.2, cap=10.0)  # the delay before a failed event is delivered again
RESUBSCRIBE = Backoff(initial=0.2, cap=5.0)  # while NATS is away, or the stream or consumer is


class Consumer(Generic[S]):
    def __init__(
        self,
        sub: EventSubscription[S],
        schema: str,
        settings: Settings,
        js: JetStreamContext,
        pool: asyncpg.Pool,
        state: S,
    ) -> None:
        self.sub, self.schema, self.settings, self.js, self.pool, self.state = (
            sub,
            schema,
            settings,
            js,
            pool,
            state,
        )
        self.applied = 0
        self._pull: JetStreamContext.PullSubscription | None = None
        self._loop = BackgroundLoop(
            f"consumer-{sub.durable}", self._fetch_and_apply, backoff=RESUBSCRIBE, logger=log
        )

    @property
    def filter(self) -> str:
        return f"{self.settings.events_prefix}.{self.sub.pattern}"

    def config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.sub.durable,
            # one filter subject: several (filter_subjects) need nats-server 2.10, and 2.9 is in use
            filter_subject=self.filter,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.settings.event_ack_wait,
            max_deliver=self.settings.event_max_deliver,
            max_ack_pending=1000,
        )

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()  # bounded: a stop must never hang a worker's shutdown
        await self._unsubscribe()

    async def _unsubscribe(self) -> None:
        # Else the connection's drain would wait for an abandoned fetch's queue to empty.
        if self._pull is not None:
            pull, self._pull = self._pull, None
            try:
                await pull.unsubscribe()
            except Exception:
                log.debug("unsubscribe of %s failed", self.sub.durable, exc_info=True)

    async def _fetch_and_apply(self) -> None:
        """One turn of the loop: subscribe (again, after a failure), fetch a batch, apply it."""
        try:
            if self._pull is None:
                # nats-py copies the subject into the consumer's filter_subject
                self._pull = await self.js.pull_subscribe(
                    self.filter,
                    durable=self.sub.durable,
                    stream=self.settings.events_stream,
                    config=self.config(),
                )
            try:
                messages = await self._pull.fetch(batch=50, timeout=1.0)
            except TimeoutError:  # nothing new (nats-py raises the builtin one here)...
                return  # ...or our own cancel, which its fetch can turn into a timeout: the loop sees that
            await self.handle(messages)
        except Exception:
            await self._unsubscribe()  # the next try subscribes afresh
            raise

    async def handle(self, messages: list[Msg]) -> None:
        """Apply a fetched batch in one transaction; if that fails, one event at a time."""
        batch: list[Delivery] = []
        for msg in messages:
            try:
                batch.append((msg, decode_envelope(msg.data)))
            except Exception as exc:  # nothing to retry: it will never decode
                await self.dead_letter(msg, f"undecodable event: {exc}")
        if len(batch) > 1:
            try:
                fresh = await self._effect(batch, traced=tracing())
            except Exception as exc:
                log.info(
                    "consumer %s: a batch of %d failed (%r); one at a time", self.sub.durable, len(batch), exc
                )
            else:
                self.applied += sum(fresh)
                for msg, _ in batch:
                    await msg.ack()  # a publish into the client's buffer: no round trip is awaited
                return
        for i, (msg, envelope) in enumerate(batch):
            await self._handle_one(msg, envelope, [later for later, _ in batch[i + 1 :]])

    async def _handle_one(self, msg: Msg, envelope: Envelope, held: list[Msg]) -> None:
        """Apply one delivery: ack on success (or if already applied), retry or dead-letter on
        failure. `held`: the deliveries of its batch still waiting their turn."""
        if not tracing():
            await self._apply(msg, envelope, None, held)
            return
        with self._span(msg, envelope) as span:
            await self._apply(msg, envelope, span, held)

    def _span(self, msg: Msg, envelope: Envelope) -> AbstractContextManager[Span]:
        return spans.event_processed(msg.subject, self.sub.durable, str(envelope.id), msg.headers)

    async def _effect(self, batch: list[Delivery], *, traced: bool = False) -> list[bool]:
        """Apply the events in order, with their inbox rows, in one transaction; for each, whether
        it was fresh (False: applied before). `traced`: a span per event, each open until the
        commit (a rollback ends them all in error)."""
        with ExitStack() as open_spans:
            event_spans: list[Span] = []
            async with self.pool.acquire() as con, con.transaction():
                fresh = await self._record(con, [envelope.id for _, envelope in batch])
                applying: list[Envelope] = []
                for (msg, envelope), new in zip(batch, fresh, strict=True):
                    if traced:
                        event_spans.append(open_spans.enter_context(self._span(msg, envelope)))
                    if new:
                        applying.append(envelope)
                        if self.sub.handler is not None:  # under its own span, the one just opened
                            await self.sub.handler(envelope, con, self.state)
                if self.sub.batch_handler is not None and applying:
                    await self.sub.batch_handler(applying, con, self.state)
            for span, new in zip(event_spans, fresh, strict=False):  # committed
                span.set_attribute("loans.event.applied", new)  # false: a redelivery, skipped
                span.set_attribute("loans.event.batch", len(batch))
        return fresh

    async def _record(self, con: Conn, ids: list[uuid.UUID]) -> list[bool]:
        """Insert the inbox rows; for each id, whether it is new (not if seen before, even in `ids`)."""
        rows = await con.fetch(
            f"""INSERT INTO {self.schema}.inbox (event_id, consumer) SELECT unnest($1::uuid[]), $2
                ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
            ids,
            self.sub.durable,
        )
        new = {row[0] for row in rows}
        fresh = []
        for event_id in ids:
            fresh.append(event_id in new)
            new.discard(event_id)
        return fresh

    async def _apply(self, msg: Msg, envelope: Envelope, span: Span | None, held: list[Msg]) -> None:
        # While the database is away: tries back off, but the keep-alives must come well within
        # the ack wait, or JetStream hands the deliveries to another worker and counts them.
        longest = min(5.0, self.settings.event_ack_wait / 3)
        waits = Backoff(initial=min(0.2, longest), cap=longest)
        try:
            for failures in itertools.count(1):
                try:
                    [fresh] = await self._effect([(msg, envelope)])
                    break
                except DB_DOWN as exc:
                    # Not the event's fault: wait here, keeping the delivery alive, rather than
                    # let a long database outage use up max_deliver and dead-letter good events.
                    # The rest of the batch waits too: kept alive, not handed to another worker.
                    log.warning("consumer %s: database unavailable (%r); waiting", self.sub.durable, exc)
                    for waiting in (msg, *held):
                        await waiting.in_progress()
                    await asyncio.sleep(waits.pause(failures))
        except Exception as exc:
            delivered = msg.metadata.num_delivered
            if span is not None:
                spans.failed(span, 500, exc, f"try {delivered} failed")
            if delivered >= self.settings.event_max_deliver:
                await self.dead_letter(msg, f"failed {delivered} times; last: {type(exc).__name__}: {exc}")
            else:
                log.warning(
                    "consumer %s: event %s failed (try %d): %r", self.sub.durable, envelope.id, delivered, exc
                )
                await msg.nak(delay=REDELIVERY.pause(delivered))
            return
        if span is not None:
            span.set_attribute("loans.event.applied", bool(fresh))  # false: a redelivery, skipped
        if fresh:
            self.applied += 1
        await msg.ack()

    async def dead_letter(self, msg: Msg, reason: str) -> None:
        log.error("consumer %s: dead-lettering %s: %s", self.sub.durable, msg.subject, reason)
        headers = {
            **(msg.headers or {}),
            REASON_HEADER: reason.replace("\r", " ").replace("\n", " ")[:1000],
            CONSUMER_HEADER: self.sub.durable,
            SUBJECT_HEADER: msg.subject,
        }
        headers.pop("Nats-Msg-Id", None)
        await self.js.publish(f"dlq.{msg.subject}", msg.data, headers=headers)
        await msg.term()


def consumers_for(
    subscriptions: list[EventSubscription[Any]],
    schema: str,
    settings: Settings,
    js: JetStreamContext,
    pool: asyncpg.Pool,
    state: Any,
) -> list[Consumer[Any]]:
    return [Consumer(s, schema, settings, js, pool, state) for s in subscriptions]
