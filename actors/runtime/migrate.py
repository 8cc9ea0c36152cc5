"""Apply db/<schema>/NNNN_name.sql in order, once each, under an advisory lock.

Run as a role that may create roles (the URL's user). For each actor it makes sure the actor's
own role exists and owns the actor's schema, then applies pending files *as that role*, so every
table belongs to it and the other actor's role has no right to any of it. Each role's password
(LOANS_<ACTOR>_DB_PASSWORD, `Settings.db_password_for`) is set at every run: changing the variable
and running `loans migrate` again is how it is rotated.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import asyncpg

from actors.contracts.config import Settings
from actors.runtime.db import statement_timeout

log = logging.getLogger("actors.runtime.migrate")

_LOCK_KEY = 0x4C4F414E  # "LOAN": one lock per database, so concurrent `loans migrate` runs queue up
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(directory: Path) -> list[tuple[int, Path]]:
    files = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are named NNNN_name.sql")
        files.append((int(match.group(1)), path))
    return files


def schemas(settings: Settings) -> list[str]:
    """Every schema with a folder of migrations (db/<schema>/): one per actor."""
    root = Path(settings.migrations_dir)
    return sorted(d.name for d in root.iterdir() if d.is_dir() and migration_files(d))


async def migrate(settings: Settings, actors: list[str] | None = None) -> list[str]:
    """Bring every actor's schema (or those named) up to date; returns the files applied."""
    applied: list[str] = []
    for actor in schemas(settings) if actors is None else actors:
        con = await asyncpg.connect(settings.database_url_for(actor))
        try:
            await con.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
            try:
                applied += await _migrate_schema(con, settings, actor)
            finally:
                await con.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        finally:
            await con.close()
    return applied


async def _migrate_schema(con: asyncpg.Connection, settings: Settings, actor: str) -> list[str]:
    role = settings.role_for(actor)
    await _ensure_role(con, role, settings.db_password_for(actor))
    # Every session the role logs in gets it (a pool sets it too): no statement runs for ever.
    # Migrations run under SET ROLE in this session, which a role's default does not reach.
    await con.execute(f"ALTER ROLE {role} SET statement_timeout = {int(statement_timeout(settings))}")
    await con.execute(f"CREATE SCHEMA IF NOT EXISTS {actor} AUTHORIZATION {role}")
    await con.execute(f"ALTER SCHEMA {actor} OWNER TO {role}")
    await con.execute(f"SET ROLE {role}")
    try:
        await con.execute(
            f"""CREATE TABLE IF NOT EXISTS {actor}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await con.fetch(f"SELECT version FROM {actor}.schema_migrations")}
        applied = []
        for version, path in migration_files(Path(settings.migrations_dir) / actor):
            if version in done:
                continue
            async with con.transaction():
                await con.execute(f"SET LOCAL search_path TO {actor}")
                await con.execute(path.read_text())
                await con.execute(
                    f"INSERT INTO {actor}.schema_migrations (version, name) VALUES ($1, $2)",
                    version,
                    path.name,
                )
            log.info("applied %s/%s", actor, path.name)
            applied.append(f"{actor}/{path.name}")
        return applied
    finally:
        await con.execute("RESET ROLE")


async def _ensure_role(con: asyncpg.Connection, role: str, password: str | None) -> None:
    exists = await con.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if not exists:
        try:
            await con.execute(f"CREATE ROLE {role} LOGIN")
        except asyncpg.DuplicateObjectError:
            pass  # another database of the same cluster made it meanwhile
    if password is not None:
        # identifiers can't be bound as parameters; the password is quoted by Postgres itself
        quoted = await con.fetchval("SELECT quote_literal($1)", password)
        await con.execute(f"ALTER ROLE {role} PASSWORD {quoted}")
