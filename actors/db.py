"""Connections: each actor talks to Postgres as its own role, confined to its own schema."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from actors.config import Settings

# What handlers get from `pool.acquire()`: a proxy that behaves as a connection.
Conn = asyncpg.Connection | PoolConnectionProxy


def dsn_as(url: str, user: str, password: str | None) -> str:
    """The same server and database as `url`, logged in as another role."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit((parts.scheme, f"{auth}@{host}", parts.path, parts.query, parts.fragment))


async def _no_reset(connection: asyncpg.Connection) -> None:
    # Handlers leave no session state behind (no SET, no LISTEN, no temp tables; transactions are
    # closed by `async with`), so the default reset query would be one wasted round trip per request.
    return None


async def create_pool(settings: Settings, actor: str) -> asyncpg.Pool:
    """A pool for `actor`, logged in as its role, with its schema first on the search path."""
    dsn = role_dsn(settings, actor)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(settings.db_pool_min, settings.db_pool_max),
        max_size=settings.db_pool_max,
        reset=_no_reset,
        server_settings={"search_path": actor, "timezone": "UTC", "application_name": f"loans-{actor}"},
    )
    assert pool is not None
    return pool


def role_dsn(settings: Settings, actor: str) -> str:
    """How `actor`'s own role logs in."""
    return dsn_as(settings.database_url_for(actor), settings.role_for(actor), settings.db_role_password)
