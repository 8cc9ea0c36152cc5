"""Databases and streams of their own for a run or a test, made and dropped on a real server."""

from __future__ import annotations

import asyncpg

from actors.contracts.config import Settings


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (its query string kept)."""
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{tail}" if tail else "")


async def create_database(admin_url: str, name: str) -> None:
    con = await asyncpg.connect(admin_url)
    try:
        await con.execute(f"CREATE DATABASE {name}")
    finally:
        await con.close()


async def drop_database(admin_url: str, name: str, roles: list[str]) -> None:
    """Drop the database (whoever is still connected) and the roles its migrations made."""
    con = await asyncpg.connect(admin_url)
    try:
        await con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        for role in roles:
            await con.execute(f"DROP ROLE IF EXISTS {role}")
    finally:
        await con.close()


async def delete_streams(settings: Settings) -> None:
    """Delete the run's events and dead-letter streams, which a shared NATS server would keep."""
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(settings.require_nats_url())
    try:
        for stream in (settings.events_stream, settings.dlq_stream, settings.work_stream):
            try:
                await nc.jetstream().delete_stream(stream)
            except NotFoundError:
                pass
    finally:
        await nc.drain()
