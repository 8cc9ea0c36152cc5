"""One page of a list query and the total it matches, for queries ending in `LIMIT $n OFFSET $n+1`
that carry `count(*) OVER () AS total` on each row."""

from __future__ import annotations

from typing import Any

import asyncpg


async def fetch_page(
    pool: asyncpg.Pool, query: str, *args: Any, page: int, page_size: int
) -> tuple[list[asyncpg.Record], int]:
    rows = await pool.fetch(query, *args, page_size, (page - 1) * page_size)
    if rows:
        return rows, int(rows[0]["total"])
    if page == 1:
        return rows, 0
    # A page past the end has no row to carry the total: ask for the first row only.
    first = await pool.fetch(query, *args, 1, 0)
    return rows, int(first[0]["total"]) if first else 0
