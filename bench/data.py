"""The bench's data: one seeded database, copied (CREATE DATABASE … TEMPLATE) for each architecture.

The seed is made the way an operator would: `loans migrate` (actors.runtime.migrate), then one
`INSERT … SELECT generate_series` per table, each as the role that owns the schema. Ids are
md5-derived UUIDs, so the bench knows every customer, agent and NEW loan without asking.
Every user shares one bcrypt hash (cost 12, computed once): a login costs what a real one does.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import bcrypt

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from actors.runtime.migrate import migrate
from bench.cpu import stat_fields

PASSWORD = "bench-password-1"
DOMAIN = "bench.example"
NEW_EVERY = (0, 12)  # loan i is NEW when i % 20 < 12: 60 % of the seed is waiting for a decision


def bench_uuid(kind: str, i: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-{kind}-{i}".encode()).hexdigest())


def customer_email(i: int) -> str:
    return f"customer{i}@{DOMAIN}"


def new_loan_ids(loans: int) -> list[uuid.UUID]:
    return [bench_uuid("loan", i) for i in range(loans) if i % 20 < NEW_EVERY[1]]


def approved_loan_ids(loans: int) -> list[uuid.UUID]:
    """The seed's APPROVED loans (LOANS_SQL: i % 20 from 12 to 16)."""
    return [bench_uuid("loan", i) for i in range(loans) if NEW_EVERY[1] <= i % 20 < 17]


@dataclass(frozen=True)
class Shape:
    loans: int = 100_000
    customers: int = 5_000
    agents: int = 20


def database_url(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


# The users schema: customers (active), approved agents, one admin. $1 hash, $2 customers, $3 agents.
USERS_SQL = f"""
INSERT INTO users (id, email, password_hash, first_name, last_name, role, status, created_at)
SELECT md5('bench-' || kind || '-' || i)::uuid, kind || i || '@{DOMAIN}', $1, initcap(kind), 'No' || i,
       kind, 'active', now() - i * interval '1 minute'
FROM (SELECT 'customer' AS kind, generate_series(0, $2 - 1) AS i
      UNION ALL SELECT 'agent', generate_series(0, $3 - 1)
      UNION ALL SELECT 'admin', 0) AS people"""

# The loans actor's read model of the same people (what the users.* events would have put there).
PARTIES_SQL = f"""
INSERT INTO parties (id, role, status, email, first_name, last_name, version)
SELECT md5('bench-' || kind || '-' || i)::uuid, kind, 'active', kind || i || '@{DOMAIN}',
       initcap(kind), 'No' || i, 1
FROM (SELECT 'customer' AS kind, generate_series(0, $1 - 1) AS i
      UNION ALL SELECT 'agent', generate_series(0, $2 - 1)
      UNION ALL SELECT 'admin', 0) AS people"""

# Loans $4 … $1 - 1 of the seed ($4 is 0 but when a bulk seed splits the range), $2 customers,
# $3 agents. Principal spans the three tiers; EMI as money.py computes it.
LOANS_SQL = f"""
INSERT INTO loans (id, customer_id, customer_email, customer_name, agent_id, agent_email,
                   principal, interest, months, emi, amount, status, start_date, end_date,
                   version, created_at, modified_at)
SELECT md5('bench-loan-' || i)::uuid,
       md5('bench-customer-' || (i % $2))::uuid, 'customer' || (i % $2) || '@{DOMAIN}',
       'Customer No' || (i % $2),
       md5('bench-agent-' || (i % $3))::uuid, 'agent' || (i % $3) || '@{DOMAIN}',
       p, rate, n, emi, emi * n, status,
       CASE WHEN status = 'APPROVED' THEN created::date END,
       CASE WHEN status = 'APPROVED' THEN (created + n * interval '1 month')::date END,
       CASE WHEN status = 'NEW' THEN 1 ELSE 2 END, created, created
FROM generate_series($4::int, $1 - 1) AS i,
LATERAL (SELECT (10000 + (i::bigint * 7919) % 4990000)::numeric(14, 2) AS p,
                12 * (1 + i % 10) AS n,
                CASE WHEN i % 20 < 12 THEN 'NEW' WHEN i % 20 < 17 THEN 'APPROVED' ELSE 'REJECTED' END
                    AS status,
                now() - i * interval '37 seconds' AS created) AS a,
LATERAL (SELECT CASE WHEN p < 1000000 THEN 8.45 WHEN p < 2500000 THEN 10.00 ELSE 12.00 END::numeric(5, 2)
                    AS rate) AS b,
LATERAL (SELECT round(p * (rate / 1200) * power(1 + rate / 1200, n)
                      / (power(1 + rate / 1200, n) - 1), 2) AS emi) AS c"""


async def seed(settings: Settings, shape: Shape, *, bulk: bool = False) -> dict[str, float]:
    """Migrate and fill the database of `settings.database_url`; returns timings (seconds).

    `bulk` (the scale and tracing measurements' databases): the loans go in through `_bulk_loans`,
    then VACUUM (ANALYZE), so that autovacuum has no reason to wake up during a measurement (a
    TEMPLATE copy, as the architectures' databases are, starts with no insert count to act on)."""
    took: dict[str, float] = {}
    t0 = time.monotonic()
    await migrate(settings)
    took["migrate"] = time.monotonic() - t0
    t0 = time.monotonic()
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12)).decode()
    took["bcrypt_once"] = time.monotonic() - t0
    t0 = time.monotonic()
    users = await asyncpg.connect(role_dsn(settings, "users"), server_settings={"search_path": "users"})
    try:
        await users.execute(USERS_SQL, hashed, shape.customers, shape.agents)
        await users.execute("VACUUM (ANALYZE) users" if bulk else "ANALYZE users")
    finally:
        await users.close()
    loans = await asyncpg.connect(role_dsn(settings, "loans"), server_settings={"search_path": "loans"})
    try:
        await loans.execute(PARTIES_SQL, shape.customers, shape.agents)
        if not bulk:
            await loans.execute(LOANS_SQL, shape.loans, shape.customers, shape.agents, 0)
            await loans.execute("ANALYZE parties")
            await loans.execute("ANALYZE loans")
            took["insert"] = time.monotonic() - t0
            return took
        took["insert_people"] = time.monotonic() - t0
        took.update(await _bulk_loans(settings, loans, shape))
        t0 = time.monotonic()
        await loans.execute("VACUUM (ANALYZE) parties, loans")
        took["vacuum"] = time.monotonic() - t0
        return took
    finally:
        await loans.close()


# The loans table's indexes that back no constraint (the primary key stays: loan_history refers to it).
SECONDARY_INDEXES_SQL = """
SELECT c.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
WHERE x.indrelid = 'loans'::regclass
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
ORDER BY c.relname"""
BULK_CONNECTIONS = 2  # the insert's halves and the index builds run on this many connections


async def _bulk_loans(settings: Settings, con: asyncpg.Connection, shape: Shape) -> dict[str, float]:
    """`LOANS_SQL` for a million rows in well under a minute: the secondary indexes are dropped, the
    rows inserted in halves on two connections, and the indexes built again from their own
    definitions (a sort each, instead of a million random insertions apiece). Same rows, same schema."""
    took: dict[str, float] = {}
    t0 = time.monotonic()
    indexes = [(str(r["name"]), str(r["definition"])) for r in await con.fetch(SECONDARY_INDEXES_SQL)]
    for name, _ in indexes:
        await con.execute(f'DROP INDEX "{name}"')
    dsn = role_dsn(settings, "loans")

    async def on_own_connection(statements: Sequence[tuple[str, Sequence[object]]]) -> None:
        own = await asyncpg.connect(
            dsn, server_settings={"search_path": "loans", "maintenance_work_mem": "256MB"}
        )
        try:
            for sql, args in statements:
                await own.execute(sql, *args)
        finally:
            await own.close()

    n = BULK_CONNECTIONS
    bounds = [shape.loans * k // n for k in range(n + 1)]
    halves = [[(LOANS_SQL, (bounds[k + 1], shape.customers, shape.agents, bounds[k]))] for k in range(n)]
    await asyncio.gather(*(on_own_connection(part) for part in halves))
    took["insert_loans"] = time.monotonic() - t0
    t0 = time.monotonic()
    builds = [[(definition, ()) for _, definition in indexes[k::n]] for k in range(n)]
    await asyncio.gather(*(on_own_connection(part) for part in builds if part))
    took["build_indexes"] = time.monotonic() - t0
    return took


async def create_database(server_url: str, name: str, template: str | None = None) -> None:
    con = await asyncpg.connect(server_url)
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}"')
        suffix = f' TEMPLATE "{template}"' if template else ""
        await con.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await con.close()


async def drop_databases(server_url: str, names: list[str], roles: list[str]) -> None:
    con = await asyncpg.connect(server_url)
    try:
        for name in names:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in roles:  # they owned only what was in those databases
            await con.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await con.close()


async def postmaster_pid(server_url: str) -> int | None:
    """The postmaster of a server on this machine (the parent of our own backend), if visible."""
    con = await asyncpg.connect(server_url)
    try:
        backend = int(await con.fetchval("SELECT pg_backend_pid()"))
    finally:
        await con.close()
    fields = stat_fields(backend)
    return int(fields[1]) if fields is not None else None
