"""The servicing bench's own Postgres chores: a server with other settings (a what-if), a CHECKPOINT."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import asyncpg
import msgspec

from actors.contracts.config import Settings


def own_postgres(extra: dict[str, str], env: Settings, work: Path, stack: ExitStack) -> Settings:
    """An embedded Postgres with `loans up`'s settings and `extra`, given to stage as a server by URL."""
    from ops.embedded import DEV_SETTINGS, EmbeddedPostgres

    pg = EmbeddedPostgres(work, settings={**DEV_SETTINGS, **extra})
    url = pg.start()
    stack.callback(pg.stop)
    return msgspec.structs.replace(env, database_url=url)


async def checkpoint(server_url: str) -> None:
    """Each run starts with the seed's pages written out (the checkpointer's CPU is counted)."""
    con = await asyncpg.connect(server_url)
    try:
        await con.execute("CHECKPOINT")
    finally:
        await con.close()
