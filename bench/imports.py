"""`python -m bench.imports`: `loans import django` of 100,000 loans (issue 15: in ≤ 2 minutes).

    python -m bench.imports                 # 100,000 loans, 5,000 customers, 20 agents
    python -m bench.imports --loans 10000   # a quick look

A monolith database shaped as Django makes it (tables `user_user`, `loan_loan`,
`loan_historicalloan`, the columns tests/imports/monolith/ has Django create) is filled with SQL
(the ORM would take longer than the import), a worker of each actor and the edge are started as
`loans up` starts them, and the import runs as an operator runs it: `loans import django` with an
admin's token on stdin. Timed: the first run, the time until every event it wrote is published,
and a second run (which writes nothing). Embedded NATS and Postgres unless LOANS_NATS_URL /
LOANS_DATABASE_URL are set; every process is stopped by its pid, every database dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from actors.contracts.config import Settings, load_settings
from actors.contracts.users import CreateAdmin
from actors.runtime.migrate import migrate
from actors.users.bootstrap import create_admin
from actors.users.signing import load_or_create
from bench import data, stage, systems
from bench.outcome import Options, Outcome
from bench.procs import Procs

RESULTS = Path(__file__).resolve().parent / "results"

MONOLITH = """
CREATE TABLE user_user (
    id bigserial PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz,
    is_superuser boolean NOT NULL DEFAULT false, username varchar(150) NOT NULL UNIQUE,
    first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL,
    is_staff boolean NOT NULL DEFAULT false, is_active boolean NOT NULL DEFAULT true,
    date_joined timestamptz NOT NULL, is_customer boolean NOT NULL, is_agent boolean NOT NULL,
    is_admin boolean NOT NULL, is_approved boolean NOT NULL);
CREATE TABLE loan_loan (
    id bigserial PRIMARY KEY, principal double precision NOT NULL, interest double precision NOT NULL,
    emi double precision NOT NULL, amount double precision NOT NULL, months integer NOT NULL,
    status varchar(20) NOT NULL, start_date timestamptz, end_date timestamptz,
    created_at timestamptz NOT NULL, modified_at timestamptz NOT NULL,
    granted_by_id bigint REFERENCES user_user, user_id bigint NOT NULL REFERENCES user_user);
CREATE TABLE loan_historicalloan (
    id bigint NOT NULL, principal double precision NOT NULL, interest double precision NOT NULL,
    emi double precision NOT NULL, amount double precision NOT NULL, months integer NOT NULL,
    status varchar(20) NOT NULL, start_date timestamptz, end_date timestamptz,
    created_at timestamptz NOT NULL, modified_at timestamptz NOT NULL,
    history_id serial PRIMARY KEY, history_date timestamptz NOT NULL,
    history_change_reason varchar(100), history_type varchar(1) NOT NULL,
    granted_by_id bigint, history_user_id bigint, user_id bigint);
CREATE INDEX ON loan_historicalloan (id);
"""

FILL = """
INSERT INTO user_user (id, password, username, first_name, last_name, email, date_joined,
                       is_customer, is_agent, is_admin, is_approved)
SELECT n, 'pbkdf2_sha256$1000$benchsalt$' || encode(sha256(n::text::bytea), 'base64'),
       'u' || n, 'First', 'Last' || n, 'u' || n || '@monolith.example', '2023-01-01'::timestamptz,
       n > $2 + 1, n BETWEEN 2 AND $2 + 1, n = 1, true
FROM generate_series(1, $1 + $2 + 1) AS n;
"""
FILL_LOANS = """
WITH made AS (
    SELECT n, 10000 + (n * 7919) % 990000 AS p, (ARRAY[12, 24, 36, 60, 120])[1 + n % 5] AS months,
           (ARRAY['NEW', 'APPROVED', 'REJECTED'])[1 + n % 3] AS status
    FROM generate_series(1, $1) AS n)
INSERT INTO loan_loan (id, principal, interest, emi, amount, months, status, start_date, end_date,
                       created_at, modified_at, granted_by_id, user_id)
SELECT n, p, 8.45, e, e * months, months, status,
       CASE WHEN status = 'APPROVED' THEN '2024-01-01'::timestamptz + (n % 365) * interval '1 day' END,
       CASE WHEN status = 'APPROVED'
            THEN '2024-01-01'::timestamptz + (n % 365) * interval '1 day' + months * interval '1 month' END,
       '2023-06-01'::timestamptz + (n % 180) * interval '1 day',
       '2024-01-01'::timestamptz + (n % 365) * interval '1 day',
       2 + n % $2, $2 + 2 + n % $3
FROM made, LATERAL (SELECT p * (8.45 / 1200) * power(1 + 8.45 / 1200, months)
                           / (power(1 + 8.45 / 1200, months) - 1) AS e) AS emi;
INSERT INTO loan_historicalloan (id, principal, interest, emi, amount, months, status, start_date,
    end_date, created_at, modified_at, history_date, history_type, granted_by_id, history_user_id, user_id)
SELECT id, principal, interest, emi, amount, months, 'NEW', NULL, NULL, created_at, created_at,
       created_at, '+', granted_by_id, granted_by_id, user_id FROM loan_loan;
INSERT INTO loan_historicalloan (id, principal, interest, emi, amount, months, status, start_date,
    end_date, created_at, modified_at, history_date, history_type, granted_by_id, history_user_id, user_id)
SELECT id, principal, interest, emi, amount, months, status, start_date, end_date, created_at,
       modified_at, modified_at, '~', granted_by_id, 1, user_id FROM loan_loan WHERE status <> 'NEW';
"""


async def fill_monolith(url: str, loans: int, customers: int, agents: int) -> None:
    con = await asyncpg.connect(url)
    try:
        await con.execute(MONOLITH)
        await con.execute(FILL.replace("$1", str(customers)).replace("$2", str(agents)))
        sql = FILL_LOANS.replace("$1", str(loans)).replace("$2", str(agents)).replace("$3", str(customers))
        await con.execute(sql)
        await con.execute("ANALYZE")
    finally:
        await con.close()


async def outbox_rows(settings: Settings) -> int:
    con = await asyncpg.connect(settings.database_url)
    try:
        return int(
            await con.fetchval(
                "SELECT (SELECT count(*) FROM users.outbox) + (SELECT count(*) FROM loans.outbox)"
            )
        )
    finally:
        await con.close()


def run_import(settings: Settings, source: str, report: Path, token: str) -> tuple[float, str]:
    cli = [systems.PY, "-m", "ops.cli", "import", "django", "--source", source, "--report", str(report)]
    started = time.monotonic()
    done = subprocess.run(
        [*cli, "--token-stdin"],
        input=token + "\n",
        env=systems.child_env(settings),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return took, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="loans-bench-import-"))
    (work / "logs").mkdir()
    procs, stack, notes = Procs(work / "logs"), ExitStack(), Outcome(Options())
    run_id = uuid.uuid4().hex[:6]
    made: list[str] = []
    env = load_settings()
    lines: list[str] = []
    try:
        servers = stage.start_servers(env, work, stack, notes)
        base = stage.base_settings(env, servers, work, run_id, notes)
        system_db, monolith_db = f"lbench_{run_id}_system", f"lbench_{run_id}_monolith"
        made += [system_db, monolith_db]
        for name in made:
            asyncio.run(data.create_database(servers.database_url, name))
        settings = stage.with_database(base, servers.database_url, system_db)
        source = data.database_url(servers.database_url, monolith_db)
        started = time.monotonic()
        asyncio.run(fill_monolith(source, args.loans, args.customers, args.agents))
        print(f"monolith filled in {time.monotonic() - started:.1f} s", flush=True)
        asyncio.run(migrate(settings))
        arch = systems.start_loan_actors(procs, settings, system_db, servers.nats_pid)
        systems.wait_ready(arch)
        admin = asyncio.run(
            create_admin(
                settings,
                CreateAdmin(email="bench@x.example", password="bench-pass-1", first_name="B", last_name="A"),
            )
        )
        token = load_or_create(Path(settings.jwt_private_key_file or "")).issue(admin.id, "admin", 3600)
        first, summary = run_import(settings, source, work / "report.csv", token)
        print(summary, flush=True)
        started = time.monotonic()
        while asyncio.run(outbox_rows(settings)):
            time.sleep(0.2)
        published = first + time.monotonic() - started
        second, again = run_import(settings, source, work / "report2.csv", token)

        def row(step: str, seconds: float) -> str:
            return f"| {step} | {seconds:.1f} | {args.loans / seconds:,.0f} |"

        lines = [
            f"# `loans import django`: {args.loans:,} loans ({datetime.now(UTC).date()})",
            "",
            f"Command: `python -m bench.imports --loans {args.loans}`; {args.customers:,} customers, "
            f"{args.agents} agents; one worker of each actor and the edge (as `loans up`), embedded "
            "NATS and Postgres (fsync on), this machine (2 cores, shared).",
            "",
            "| step | seconds | loans / s |",
            "|---|---|---|",
            row("first run (reading, mapping, sending; the actors' writes)", first),
            row("first run until every event it wrote is published", published),
            row("second run (writes nothing, emits nothing)", second),
            "",
            f"Target: {args.loans:,} loans in ≤ 120 s. First run's summary:",
            "",
            "```",
            summary.strip("\n"),
            "```",
            "",
            "Second run's summary:",
            "",
            "```",
            again.strip("\n"),
            "```",
        ]
    finally:
        procs.stop_all()
        if env.database_url is not None or made:
            try:
                asyncio.run(data.drop_databases(servers.database_url, made, stage.actor_roles(run_id)))
            except Exception as exc:  # the servers may be gone already: nothing left to drop
                print(f"bench.imports: databases not dropped: {exc}")
        stack.close()
        shutil.rmtree(work, ignore_errors=True)
    if lines:
        path = RESULTS / f"{datetime.now(UTC).date()}-import.md"
        if args.loans != 100_000:
            path = RESULTS / f"{datetime.now(UTC).date()}-import-{args.loans}.md"
        path.write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
