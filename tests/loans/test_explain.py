"""The loan queries stay on indexes at 100,000 loans: no plan reads the whole loans table.

The loans are generated in a database of their own (other tests' lists stay small and exact), and
each query text the handlers send is planned as the loans role, both as a custom plan (the first
executions of a prepared statement) and as the generic plan Postgres may switch to afterwards.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from actors.contracts.config import Settings, load_settings
from actors.loans import queries as q
from actors.runtime.db import role_dsn
from actors.runtime.migrate import migrate
from ops.registry import ACTORS
from tests.support.databases import create_database, drop_database, with_database

pytestmark = pytest.mark.anyio

LOANS = 100_000
CUSTOMERS = 5_000
AGENTS = 50

# One statement: ids drawn from fixed pools, ~20% NEW / 60% APPROVED / 20% REJECTED, created over
# about a year in insertion order (as a live table grows), decided up to three days later.
GENERATE = f"""
INSERT INTO loans (id, customer_id, customer_email, customer_name, agent_id, agent_email, principal,
                   interest, months, emi, amount, status, start_date, end_date, version,
                   created_at, modified_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       md5('customer' || c)::uuid, 'c' || c || '@example.com', 'Customer ' || c,
       md5('agent' || a)::uuid, 'a' || a || '@example.com', p, 8.45, m, round(p / m, 2) + 1,
       (round(p / m, 2) + 1) * m, s,
       CASE WHEN s = 'APPROVED' THEN (t + d)::date END,
       CASE WHEN s = 'APPROVED' THEN ((t + d)::date + make_interval(months => m))::date END,
       CASE WHEN s = 'NEW' THEN 1 ELSE 2 END, t, t + d
FROM (
    SELECT i, floor(random() * {CUSTOMERS})::int AS c, floor(random() * {AGENTS})::int AS a,
           10000 + round((random() * 990000)::numeric, 2) AS p, 1 + floor(random() * 480)::int AS m,
           (ARRAY['NEW', 'APPROVED', 'APPROVED', 'APPROVED', 'REJECTED'])[1 + floor(random() * 5)::int] AS s,
           now() - make_interval(mins => 5 * ({LOANS} - i)) AS t
    FROM generate_series(1, {LOANS}) AS g(i)
) AS x
CROSS JOIN LATERAL (
    SELECT CASE WHEN s = 'NEW' THEN interval '0' ELSE random() * interval '3 days' END AS d
) AS y"""

HISTORY = """
INSERT INTO loan_history (loan_id, version, change, changed_by, changed_at, fields)
SELECT id, 1, 'created', agent_id, created_at, '{}'::jsonb FROM loans
UNION ALL
SELECT id, 2, lower(status), agent_id, modified_at, '{}'::jsonb FROM loans WHERE status <> 'NEW'"""


async def _load(con: asyncpg.Connection) -> None:
    """Bulk-load the way a restore does, to stay quick: the migration's indexes are dropped, the rows
    inserted without per-row foreign-key checks, then the very same index definitions rebuilt."""
    indexes = await con.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'loans' AND tablename = 'loans'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for index in indexes:
        await con.execute(f"DROP INDEX loans.{index['indexname']}")
    async with con.transaction():
        await con.execute("SET LOCAL session_replication_role = replica")  # skips the FK triggers
        await con.execute(GENERATE)
        await con.execute(HISTORY)
    for index in indexes:
        await con.execute(index["indexdef"])
    # VACUUM too, as autovacuum would have on a table this size: index-only scans need the visibility map
    await con.execute("VACUUM ANALYZE loans")
    await con.execute("VACUUM ANALYZE loan_history")
    assert {r["indexname"] for r in indexes} >= {"loans_modified_idx", "loans_customer_created_idx"}


@dataclass
class Sample:
    """Representative parameters: a customer with ~20 loans, an agent with ~2,000, one loan."""

    customer_id: uuid.UUID
    agent_id: uuid.UUID
    loan_id: uuid.UUID


@pytest.fixture(scope="module")
async def big(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Settings, Sample]]:
    """A fresh database migrated as usual, holding 100,000 loans and their history, analyzed."""
    nats_url, admin_url = server_urls
    run = uuid.uuid4().hex[:8]
    database = f"loans_explain_{run}"
    settings = load_settings(
        {},
        nats_url=nats_url,
        database_url=with_database(admin_url, database),
        db_role_prefix=f"lx{run}_",
        data_dir=str(tmp_path_factory.mktemp("explain")),
    )
    await create_database(admin_url, database)
    try:
        await migrate(settings)
        con = await asyncpg.connect(
            settings.database_url_for("loans"), server_settings={"search_path": "loans"}
        )
        try:
            await _load(con)
            row = await con.fetchrow("SELECT id, customer_id, agent_id FROM loans ORDER BY random() LIMIT 1")
        finally:
            await con.close()
        assert row is not None
        yield settings, Sample(row["customer_id"], row["agent_id"], row["id"])
    finally:
        await drop_database(admin_url, database, [settings.role_for(a) for a in ACTORS])


def _texts(filters: tuple[str, ...]) -> tuple[str, ...]:
    """The statements a list with these filters sends: its page, and its count when that is apart."""
    return tuple(statement.sql for statement in q.list_loans(filters))


def _list_cases(sample: Sample) -> list[tuple[str, str, list[object]]]:
    """(name, query text, parameters) of every list the handlers can send, first page of 20."""
    values: dict[str, object] = {
        "status": "NEW",
        "customer_id": sample.customer_id,
        "agent_id": sample.agent_id,
    }
    cases = []
    for n in range(len(q.FILTERS) + 1):
        for given in itertools.combinations(q.FILTERS, n):
            name = "list_loans(" + ", ".join(given) + ")"
            args = [values[f] for f in given]
            page, *count = _texts(given)
            cases.append((name, page, [*args, 20, 0]))
            cases += [(f"{name} count", sql, args) for sql in count]
    for status in ("APPROVED", "REJECTED"):
        page, *count = _texts(("status",))
        cases.append((f"list_loans(status={status})", page, [status, 20, 0]))
        cases += [(f"list_loans(status={status}) count", sql, [status]) for sql in count]
    for status in (None, "APPROVED"):
        query, given = q.customer_loans(sample.customer_id, status)
        cases.append(
            (f"customer_loans(status={status})", query.sql, list(query.args(**given, limit=20, offset=0)))
        )
    cases += [
        ("get_loan", q.get_loan.sql, [sample.loan_id]),
        ("history", q.history.sql, list(q.history.args(loan_id=sample.loan_id, limit=100, offset=0))),
    ]
    return cases


async def _plan(
    con: asyncpg.Connection, sql: str, args: list[object], mode: str, analyze: bool = False
) -> str:
    """The plan of `sql` as a prepared statement, in plan_cache_mode `mode`."""
    await con.execute(f"SET plan_cache_mode = {mode}")
    await con.execute(f"PREPARE probe AS {sql}")
    try:
        literals = ", ".join("NULL" if a is None else f"'{a}'" for a in args)
        call = f"probe({literals})" if args else "probe"
        options = "ANALYZE, BUFFERS, " if analyze else ""
        rows = await con.fetch(f"EXPLAIN ({options}COSTS) EXECUTE {call}")
    finally:
        await con.execute("DEALLOCATE probe")
    return "\n".join(r[0] for r in rows)


async def test_loan_queries_use_indexes_at_100k_loans(big: tuple[Settings, Sample], tmp_path: Path) -> None:
    """At 100k loans no list, get or history plan (custom or generic) has a Seq Scan on loans."""
    settings, sample = big
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        await con.execute("SET search_path TO loans")
        assert await con.fetchval("SELECT count(*) FROM loans") == LOANS
        plans = {}
        for name, sql, args in _list_cases(sample):
            for mode in ("force_custom_plan", "force_generic_plan"):
                plans[f"{name} [{mode}]"] = await _plan(con, sql, args, mode)
        # What a request for the first page of the whole list costs (page, and count when apart).
        timed = {
            f"list_loans() statement {i + 1}": await _plan(con, sql, args, "auto", analyze=True)
            for i, (sql, args) in enumerate(zip(_texts(()), ([20, 0], []), strict=False))
        }
    finally:
        await con.close()
    report = "\n\n".join(f"== {name}\n{plan}" for name, plan in {**plans, **timed}.items())
    (tmp_path / "plans.txt").write_text(report + "\n")
    print(f"\nplans in {tmp_path / 'plans.txt'}\n" + "\n".join(f"== {n}\n{p}" for n, p in timed.items()))
    seq_scans = [name for name, plan in plans.items() if "Seq Scan on loans" in plan]
    assert not seq_scans, "\n\n".join(f"== {name}\n{plans[name]}" for name in seq_scans)
    history_scans = [name for name, plan in plans.items() if "Seq Scan on loan_history" in plan]
    assert not history_scans, "\n\n".join(f"== {name}\n{plans[name]}" for name in history_scans)
