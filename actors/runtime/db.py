"""Connections: each actor talks to Postgres as its own role, confined to its own schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from opentelemetry import trace

from actors.contracts.config import Settings
from otel import spans
from otel.setup import enabled as tracing

# The errors that mean "the database is not reachable right now", not "this request is wrong".
DB_DOWN: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    # a server that ends the session mid-query (a restart): MagicStack/asyncpg#1069
    asyncpg.InternalClientError,
)

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


M = TypeVar("M", bound=Callable[..., Awaitable[Any]])


def _traced(method: M) -> M:
    async def call(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        # Only inside traced work: the relay's polls and other background statements would
        # otherwise each start a trace of their own.
        if not tracing() or not trace.get_current_span().is_recording():
            return await method(self, query, *args, **kwargs)
        with spans.sql(query, getattr(getattr(self, "_params", None), "database", None)):
            return await method(self, query, *args, **kwargs)

    return cast(M, call)


class TracedConnection(asyncpg.Connection):
    """A connection that makes a span per statement when tracing is on (one flag test when off).

    Transactions show up too: `con.transaction()` sends BEGIN and COMMIT through `execute`.
    """

    execute = _traced(asyncpg.Connection.execute)
    executemany = _traced(asyncpg.Connection.executemany)
    fetch = _traced(asyncpg.Connection.fetch)
    fetchrow = _traced(asyncpg.Connection.fetchrow)
    fetchval = _traced(asyncpg.Connection.fetchval)
    fetchmany = _traced(asyncpg.Connection.fetchmany)


async def create_pool(settings: Settings, actor: str) -> asyncpg.Pool:
    """A pool for `actor`, logged in as its role, with its schema first on the search path."""
    dsn = role_dsn(settings, actor)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(settings.db_pool_min, settings.db_pool_max),
        max_size=settings.db_pool_max,
        reset=_no_reset,
        connection_class=TracedConnection,
        server_settings={
            "search_path": actor,
            "timezone": "UTC",
            "application_name": f"loans-{actor}",
            "statement_timeout": statement_timeout(settings),
        },
    )
    assert pool is not None
    return pool


def statement_timeout(settings: Settings) -> str:
    """Postgres' statement_timeout for an actor's role, in milliseconds (at least 1)."""
    return str(max(1, round(settings.db_statement_timeout * 1000)))


def role_dsn(settings: Settings, actor: str) -> str:
    """How `actor`'s own role logs in."""
    return dsn_as(settings.database_url_for(actor), settings.role_for(actor), settings.db_password_for(actor))
