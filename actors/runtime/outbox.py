"""The outbox relay: publishes committed events to JetStream, in order, each exactly once.

Every worker runs one. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several relays share
the work without sending a row twice; one statement claims a batch and deletes it, in a
transaction that commits only once JetStream has acknowledged the batch (published at once, in
order, its acks awaited together): a row in the outbox is an event not yet sent, and the stream
keeps the sent ones. That commit does not wait for the disk (see _BEGIN). If NATS is down the
transaction rolls back and the rows wait.
`Nats-Msg-Id` = event id makes a publish repeated after a crash (published, but the delete not
committed) a duplicate the stream drops. LISTEN/NOTIFY wakes the relay at once; a poll is the
safety net for a missed notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import msgspec
from nats.js import JetStreamContext
from nats.js.api import PubAck

from actors.contracts.config import Settings
from actors.runtime.background import BackgroundLoop, Backoff
from actors.runtime.db import Conn, role_dsn
from otel import spans
from otel.setup import enabled as tracing

log = logging.getLogger("actors.runtime.outbox")
BATCH = 200
ACK_TIMEOUT = 5.0  # seconds for JetStream to acknowledge a batch
RETRY = Backoff(initial=0.1, cap=5.0)  # while NATS or Postgres is away
_decode_headers = msgspec.json.Decoder(dict[str, str]).decode
# The claim's delete commits without waiting for its WAL to reach the disk: one fsync less per
# batch (measured on this machine: 0.33-0.40 ms of the backend's CPU a commit against 0.24). It is
# safe because a delete lost to a Postgres crash only sends those rows again: the stream drops a
# repeated Nats-Msg-Id within its duplicate window, and each consumer's inbox skips an event it
# has applied. asyncpg's `transaction()` has no such option, and a SET LOCAL after its BEGIN
# would be one round trip more, so BEGIN and COMMIT are sent here.
_BEGIN = "BEGIN; SET LOCAL synchronous_commit = off"


class OutboxRelay:
    def __init__(self, settings: Settings, actor: str, pool: asyncpg.Pool, js: JetStreamContext) -> None:
        self.settings = settings
        self.schema = actor
        self.pool = pool
        self.js = js
        self.published = 0
        self.duplicates = 0  # publishes the stream had already (a repeat after a crash): should stay 0
        self._wake = asyncio.Event()  # set by the outbox's NOTIFY
        self._listener: asyncpg.Connection | None = None
        self._loop = BackgroundLoop(
            f"{self.schema}-outbox-relay",
            self._relay_pending,
            backoff=RETRY,
            period=settings.outbox_poll_seconds,  # the safety net for a missed notification
            wake=self._wake,
            logger=log,
        )

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Publish what is pending (best effort), then stop."""
        await self._loop.stop()
        try:
            await asyncio.wait_for(self.flush(), timeout=5)
        except Exception:  # NATS or Postgres gone: the rows stay and the next relay sends them
            log.warning("outbox of %s not flushed at stop", self.schema, exc_info=True)
        if self._listener is not None:
            await self._listener.close()

    async def _send(self, subject: str, payload: bytes, headers: dict[str, str]) -> asyncio.Future[PubAck]:
        return await self.js.publish_async(subject, payload, headers=headers)

    async def _listen(self) -> None:
        if self._listener is None or self._listener.is_closed():
            self._listener = await asyncpg.connect(role_dsn(self.settings, self.schema))
            await self._listener.add_listener(f"{self.schema}_outbox", lambda *_: self._wake.set())

    async def _relay_pending(self) -> None:
        """One turn of the loop: listen (again, after an outage), then publish what is pending."""
        await self._listen()
        await self.flush()

    async def flush(self) -> int:
        """Publish every row pending when called; returns how many this call published."""
        total = 0
        while True:
            async with self.pool.acquire() as con:
                await con.execute(_BEGIN)
                try:
                    sent = await self._claim_and_publish(con)
                except BaseException:
                    # The error raised is the claim's; if the rollback fails too (the database
                    # gone, or cancelled), the pool's release rolls back or drops the connection.
                    with contextlib.suppress(Exception):
                        await con.execute("ROLLBACK")
                    raise
                await con.execute("COMMIT")
            total += sent
            self.published += sent
            if sent < BATCH:
                # Nothing more was visible when the batch was claimed: another turn would be one
                # more transaction returning nothing (a write's cost, every time). A row committed
                # since then has sent its NOTIFY, which wakes the loop again at once.
                return total

    async def _claim_and_publish(self, con: Conn) -> int:
        """Claim and delete a batch (in the caller's transaction), publish it, await its acks."""
        # Claimed and deleted in one statement: the delete commits only with the acks below (any
        # failure rolls it back and the rows go again).
        rows = await con.fetch(
            f"""DELETE FROM {self.schema}.outbox WHERE seq IN (
                    SELECT seq FROM {self.schema}.outbox
                    ORDER BY seq LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
                RETURNING seq, id, subject, payload, headers::text AS headers"""
        )
        if not rows:
            return 0
        rows.sort(key=lambda row: row["seq"])  # RETURNING promises no order; events go in seq order
        acks = []
        for row in rows:
            headers = {**_decode_headers(row["headers"]), "Nats-Msg-Id": str(row["id"])}
            # Traced only when the row carries the context of the request that wrote it: the
            # publish then shows in that request's trace, a child of its create span.
            if tracing() and "traceparent" in headers:
                with spans.event_sent(row["subject"], str(row["id"]), headers):
                    acks.append(await self._send(row["subject"], row["payload"], headers))
            else:
                acks.append(await self._send(row["subject"], row["payload"], headers))
        # Sent in order on one connection, so stored in order; the acks are awaited together.
        # Any failure rolls the claim back: the rows go again (Nats-Msg-Id).
        for ack in await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT):
            self.duplicates += bool(ack.duplicate)
        return len(rows)
