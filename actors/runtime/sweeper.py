"""Every worker deletes its schema's expired idempotency answers, in small batches, now and then.

Without it the `idempotency` table grows by one row per write for ever (the edge keys every write).
Several workers of one actor may sweep at once: `FOR UPDATE SKIP LOCKED` gives each its own rows,
and a batch holds its locks only for its own short statement, so writes never wait on a sweep. A
failed sweep (Postgres down) is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
import random

import asyncpg

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
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self.schema}-idempotency-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                deleted = await sweep_idempotency(self.pool, self.schema)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("idempotency sweep of %s failed; next try in %.0f s", self.schema, self.every)
            else:
                if deleted:
                    log.info("deleted %d expired idempotency answers in %s", deleted, self.schema)
            # jittered, so the workers started together do not sweep together for ever
            await asyncio.sleep(self.every * random.uniform(0.75, 1.25))
