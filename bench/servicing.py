"""`python -m bench.servicing`: close of business at 100,000 and 1,000,000 accounts, and a
repayment's CPU against a loan create's (issue 13 item 7).

    python -m bench.servicing --quick             # 20,000 accounts, 1 and 2 workers, short loads: < 1 min
    python -m bench.servicing                     # 100,000 × 1 and 2 workers, 1,000,000 × 2, repay vs create
    python -m bench.servicing --big 0 --no-writes # the 100,000-account runs only
    python -m bench.servicing --no-cob            # repay vs create only, at 100,000 accounts

NATS and Postgres are embedded (ops.embedded) in a temporary folder unless LOANS_NATS_URL /
LOANS_DATABASE_URL are set, as for `python -m bench`. Every process is stopped by its pid.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import signal
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from actors.contracts.config import Settings, load_settings
from actors.users.signing import SigningKey, load_or_create
from bench import data, servicing_cob, servicing_pg, servicing_repay, servicing_report, stage, systems
from bench.data import Shape
from bench.outcome import Options, Outcome
from bench.procs import Procs
from bench.servicing_args import Args, parse
from bench.servicing_cob import CobRun
from bench.servicing_report import ServicingOutcome
from bench.servicing_seed import seed

SHAPE = Shape(customers=5000, agents=20)  # the people of every seed (bench/data.py's)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    command = "python -m bench.servicing " + shlex.join(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="loans-bench-servicing-"))
    (work / "logs").mkdir()
    procs, stack = Procs(work / "logs"), ExitStack()
    env, run_id = load_settings(), uuid.uuid4().hex[:6]
    today = datetime.now(UTC).date()
    o = ServicingOutcome(
        args.quick, command.strip(), str(today), str(today + timedelta(days=1)), label=args.label
    )
    made: list[str] = []
    signal.signal(signal.SIGTERM, _terminated)
    try:
        _steps(args, o, work, procs, stack, env, run_id, made)
    finally:
        procs.stop_all()
        if env.database_url is not None and made:
            asyncio.run(data.drop_databases(env.database_url, made, stage.actor_roles(run_id)))
        stack.close()
        if args.keep:
            print(f"bench.servicing: logs and data kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    path = servicing_report.write(o)
    print(servicing_report.render(o))
    print(f"written to {path}")
    return 0


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit("bench.servicing: stopped by SIGTERM; stopping everything it started")


def _steps(
    args: Args,
    o: ServicingOutcome,
    work: Path,
    procs: Procs,
    stack: ExitStack,
    env: Settings,
    run_id: str,
    made: list[str],
) -> None:
    notes = Outcome(Options())  # stage's functions leave their notes here
    if args.pg:
        env = servicing_pg.own_postgres(args.pg, env, work, stack)
        o.notes.append(f"Postgres settings over `loans up`'s: {args.pg}")
    if args.loan_id_statistics:
        o.notes.append(f"What-if: accounts.loan_id's statistics target is {args.loan_id_statistics}.")
    if args.fillfactor:
        o.notes.append(f"What-if: the accounts table's fillfactor is {args.fillfactor} (not the schema's).")
    servers = stage.start_servers(env, work, stack, notes)
    base = msgspec.structs.replace(
        stage.base_settings(env, servers, work, run_id, notes),
        cob_auto=False,
        allow_future_business_date=True,
    )
    key = load_or_create(Path(base.jwt_private_key_file or ""))
    token = key.issue(data.bench_uuid("admin", 0), "admin", 24 * 3600)
    business_date, to = (datetime.fromisoformat(d).date() for d in (o.business_date, o.cob_date))

    def db(name: str) -> str:
        made.append(f"lbench_{run_id}_{name}")
        return made[-1]

    def on(database: str, prefix: str) -> Settings:
        s = stage.with_database(base, servers.database_url, database)
        return msgspec.structs.replace(s, events_prefix=f"{base.events_prefix}_{prefix}")

    if not args.cob:
        o.notes.append("No close-of-business runs (--no-cob).")
    sizes = [(args.accounts, args.workers)] + ([(args.big, (2,))] if args.big and args.cob else [])
    for accounts, workers in sizes:
        seeded = db(f"seed_{accounts}")
        print(f"seeding {accounts:,} accounts", flush=True)
        asyncio.run(data.create_database(servers.database_url, seeded))
        t0 = time.monotonic()
        o.seeds[f"{accounts:,}"] = asyncio.run(
            seed(
                on(seeded, "seed"),
                accounts,
                SHAPE,
                business_date,
                fillfactor=args.fillfactor,
                loan_id_statistics=args.loan_id_statistics,
            )
        )
        o.seeds[f"{accounts:,}"]["total"] = time.monotonic() - t0
        print(f"  {o.seeds[f'{accounts:,}']}", flush=True)
        # a fresh copy for each run but the last, which has the seed itself: each does the same work
        copies = {w: db(f"cob_{accounts}_{w}w") for w in workers[:-1]} if args.cob else {}
        repay_db = db(f"repay_{accounts}") if args.writes and accounts == args.accounts else None
        fresh = [*copies.values(), *([repay_db] if repay_db else [])]
        for name in fresh:
            asyncio.run(data.create_database(servers.database_url, name, template=seeded))
        if args.cob:
            copies[workers[-1]] = seeded
        for w, database in copies.items():
            asyncio.run(servicing_pg.checkpoint(servers.database_url))
            run = CobRun(name=f"{accounts:,} × {w}", accounts=accounts, workers=w)
            print(f"close of business: {run.name}", flush=True)
            servicing_cob.measure_cob(
                procs,
                on(database, f"cob{accounts}_{w}"),
                run,
                to,
                token,
                servers.postmaster,
                servers.nats_pid,
                database,
            )
            print(f"  {run.wall:.1f} s, {run.rate:,.0f} accounts/s, cpu {run.cpu}", flush=True)
            o.runs.append(run)
        if repay_db:
            _writes(args, o, procs, on(repay_db, "repay"), servers, repay_db, key, accounts, work)
        asyncio.run(data.drop_databases(servers.database_url, [seeded, *fresh], []))
    o.notes += notes.notes


def _writes(
    args: Args,
    o: ServicingOutcome,
    procs: Procs,
    settings: Settings,
    servers: stage.Servers,
    database: str,
    key: SigningKey,
    accounts: int,
    work: Path,
) -> None:
    print("repayment against create, through the edge", flush=True)
    files = servicing_repay.build_files(key, SHAPE, accounts, work)
    opts = Options(
        duration=args.duration,
        warmup=0.5 if args.quick else 2.0,
        quiet_limit=10.0 if args.quick else 30.0,
        machine_quiet_limit=0.0 if args.quick else 30.0,
        connections=args.connections,
        quick=args.quick,
    )
    arch = systems.start_loan_actors(procs, settings, database, servers.nats_pid, tag="repay")
    systems.wait_ready(arch)
    o.writes, problems = servicing_repay.measure_writes(procs, arch, files, opts, servers, args.rounds, work)
    o.notes += problems
    o.ratio = servicing_repay.cpu_ratio(o.writes)


if __name__ == "__main__":
    sys.exit(main())
