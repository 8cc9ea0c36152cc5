"""Every worker deletes its schema's expired idempotency answers, in small batches, now and then.

Without it the `idempotency` table grows by one row per write for ever (the edge keys every write).
Several workers of one actor may sweep at once: `FOR UPDATE SKIP LOCKED` gives each its own rows,
and a batch holds its locks only for its own short statement, so writes never wait on a sweep. A
failed sweep (Postgres down) is logged and tried again about one interval later.
"""

from __future__ import annotations

import logging

import asyncpg

from actors.runtime.background import BackgroundLoop, Backoff

log = logging.getLogger("actors.runtime.sweeper")
BATCH = 1000


async def sweep_idempotency(pool: asyncpg.Pool, schema: str) -> int:
    """Delete every expired answer in `schema`; how many went."""
    deleted = 0
    while True:
        gone: int = await pool.fetchval(
            f"""WITH gone AS (
                    DELETE FROM {schema}.idempotency WHERE ctid IN (
                        SELECT ctid FROM {schema}.idempotency WHERE expires_at < now()
                        LIMIT {BATCH} FOR UPDATE SKIP LOCKED)
                    RETURNING 1)
                SELECT count(*) FROM gone"""
        )
        deleted += gone
        if gone < BATCH:
            return deleted


class Sweeper:
    def __init__(self, pool: asyncpg.Pool, schema: str, every: float) -> None:
        self.pool = pool
        self.schema = schema
        self.every = every
        self._loop = BackgroundLoop(
            f"{schema}-idempotency-sweeper",
            self._sweep,
            # A failed sweep (Postgres down) is tried again about one period later: nothing is urgent.
            backoff=Backoff(initial=every, cap=every, jitter=0.25),
            period=every,
            period_jitter=0.25,  # so the workers started together do not sweep together for ever
            logger=log,
        )

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _sweep(self) -> None:
        deleted = await sweep_idempotency(self.pool, self.schema)
        if deleted:
            log.info("deleted %d expired idempotency answers in %s", deleted, self.schema)
