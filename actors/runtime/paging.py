"""One page of a list query and the total it matches, for statements that take `:limit` and
`:offset` and carry the total on each row (`count(*) OVER () AS total`, or a count beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from actors.runtime.sql import Statement


async def fetch_page(
    pool: asyncpg.Pool, query: Statement, values: Mapping[str, Any], *, page: int, page_size: int
) -> tuple[list[asyncpg.Record], int]:
    """`values` are the statement's arguments but `limit` and `offset`."""
    rows = await query.fetch(pool, **values, limit=page_size, offset=(page - 1) * page_size)
    if rows:
        return rows, int(rows[0]["total"])
    if page == 1:
        return rows, 0
    # A page past the end has no row to carry the total: ask for the first row only.
    first = await query.fetch(pool, **values, limit=1, offset=0)
    return rows, int(first[0]["total"]) if first else 0
