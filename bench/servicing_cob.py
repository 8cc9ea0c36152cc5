"""One close of business, measured: K `loans worker servicing` (+ a users worker, for the JWKS the
servicing workers verify tokens with) on a fresh copy of the seed, `servicing.run_cob` asked over
NATS with an admin token, `servicing.cob_status` polled until DONE.

Wall time is from the request until the status says DONE. CPU is counted from the request until
the processes are quiet again (the outbox relay publishes the run's events after the last batch),
per component: servicing workers, Postgres (the database's backends, the postmaster and its
auxiliary processes), nats-server, the users worker.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import asyncpg
import msgspec
import nats
from nats.aio.client import Client

from actors.bus.client import request
from actors.contracts import servicing as m
from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from bench import cpu, systems
from bench.procs import Procs

POLL = 0.1  # seconds between status polls: the wall time's resolution
_JUDGED = re.compile(rb"batch \d+ judged (\d+) accounts, (\d+) events")


@dataclass
class CobRun:
    name: str
    accounts: int
    workers: int
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # component → CPU seconds
    batches: int = 0
    judged: int = 0  # accounts whose cob_date is the run's date afterwards
    events: int = 0  # what the batches' log lines say they wrote
    batch_seconds: dict[str, float] = field(default_factory=dict)  # median, p90, max per worker turn
    by_worker: dict[str, int] = field(default_factory=dict)  # batches done by each worker
    foreign_cores: float = 0.0

    @property
    def rate(self) -> float:
        return self.accounts / self.wall if self.wall else 0.0

    @property
    def cpu_servicing(self) -> float:
        """The work of the COB itself: the servicing workers and Postgres."""
        return sum(v for k, v in self.cpu.items() if k.startswith(("servicing", "postgres")))


def start_workers(procs: Procs, settings: Settings, workers: int, tag: str) -> dict[str, int]:
    """The users worker and `workers` servicing workers; component name → pid."""
    env = systems.child_env(settings)
    cli = [systems.PY, "-m", "ops.cli", "worker"]
    started = {"users-worker": procs.start(f"{tag}-users", [*cli, "users"], env, systems.REPO).pid}
    for k in range(workers):
        proc = procs.start(f"{tag}-servicing-{k + 1}", [*cli, "servicing"], env, systems.REPO)
        started[f"servicing-{k + 1}"] = proc.pid
    return started


async def _replicas(nc: Client, service: str) -> int:
    """How many replicas of `service` answer the micro $SRV.PING within a moment."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.publish(f"$SRV.PING.{service}", b"", reply=inbox)
    seen = 0
    try:
        while True:
            await sub.next_msg(timeout=0.3)
            seen += 1
    except TimeoutError:
        return seen
    finally:
        await sub.unsubscribe()


async def wait_workers(nc: Client, workers: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _replicas(nc, "servicing") >= workers and await _replicas(nc, "users") >= 1:
            await asyncio.sleep(1.0)  # their work-queue pullers subscribe just after
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{workers} servicing workers and a users worker did not answer in {timeout:g} s")


async def drive(
    nc: Client, token: str, to: date, timeout: float, each_poll: Callable[[], None]
) -> tuple[float, m.CloseOfBusiness]:
    """Ask for the run to `to`, poll until DONE; (seconds from the request to DONE, the status)."""
    t0 = time.monotonic()
    body = msgspec.json.encode(m.RunCloseOfBusiness(date=to))
    reply = msgspec.json.decode(
        await request(nc, "servicing.run_cob", body, timeout=120.0, token=token), type=m.CloseOfBusiness
    )
    ask = msgspec.json.encode(m.CloseOfBusinessDate(date=to))
    while reply.status != "DONE":
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"close of business to {to} not DONE after {timeout:g} s: {reply}")
        await asyncio.sleep(POLL)
        each_poll()
        raw = await request(nc, "servicing.cob_status", ask, timeout=10.0, token=token)
        reply = msgspec.json.decode(raw, type=m.CloseOfBusiness)
    return time.monotonic() - t0, reply


async def afterwards(settings: Settings, run: CobRun, to: date) -> None:
    """What the database says of the run: accounts judged, batches per worker, time per batch."""
    con = await asyncpg.connect(role_dsn(settings, "servicing"), server_settings={"search_path": "servicing"})
    try:
        run.judged = int(await con.fetchval("SELECT count(*) FROM accounts WHERE cob_date = $1", to))
        rows = await con.fetch(
            "SELECT done_by, done_at FROM cob_batches WHERE business_date = $1 ORDER BY done_by, done_at", to
        )
        started = await con.fetchval("SELECT started_at FROM cob_runs WHERE business_date = $1", to)
    finally:
        await con.close()
    turns: list[float] = []
    last: dict[str, object] = {}
    for r in rows:
        worker = str(r["done_by"])
        run.by_worker[worker] = run.by_worker.get(worker, 0) + 1
        previous = last.get(worker, started)
        turns.append((r["done_at"] - previous).total_seconds())
        last[worker] = r["done_at"]
    if turns:
        turns.sort()
        run.batch_seconds = {
            "median": statistics.median(turns),
            "p90": turns[int(0.9 * (len(turns) - 1))],
            "max": turns[-1],
        }


def events_logged(procs: Procs, tag: str) -> int:
    """The events the batches say they wrote (their log lines), over every worker of the run."""
    total = 0
    for path in procs.log_dir.glob(f"{tag}-servicing-*.log"):
        total += sum(int(m.group(2)) for m in _JUDGED.finditer(path.read_bytes()))
    return total


def measure_cob(
    procs: Procs,
    settings: Settings,
    run: CobRun,
    to: date,
    token: str,
    postmaster: int | None,
    nats_pid: int | None,
    database: str,
) -> CobRun:
    """Start the run's workers, measure one close of business to `to`, stop them."""
    tag = f"cob-{run.accounts}-{run.workers}w"  # names its processes and their logs
    roots = start_workers(procs, settings, run.workers, tag)
    if nats_pid is not None:
        roots["nats-server"] = nats_pid
    scope = cpu.Scope(roots=roots, postmaster=postmaster, database=database)
    try:
        asyncio.run(_measure(settings, run, to, token, scope))
        asyncio.run(afterwards(settings, run, to))
        run.events = events_logged(procs, tag)
    finally:
        for proc in [p for p in procs.started if p.name.startswith(tag)]:
            procs.stop(proc)
    return run


async def _measure(settings: Settings, run: CobRun, to: date, token: str, scope: cpu.Scope) -> None:
    nc = await nats.connect(settings.require_nats_url())
    try:
        await wait_workers(nc, run.workers)
        cpu.wait_quiet([scope], 30.0)  # the workers' start-up (consumers, prepared statements) is done
        tracker = Tracker.start(scope)
        machine0, t0 = cpu.machine_busy()[0], time.monotonic()
        run.wall, status = await drive(nc, token, to, 1800.0, tracker.look)
        run.batches = status.batches
        cpu.wait_quiet([scope], 120.0)  # the relay publishes the events of the last batches
        run.cpu = tracker.used()
        window = time.monotonic() - t0
        # what the rest of the machine (another test suite, say) used meanwhile, in cores
        run.foreign_cores = max(0.0, (cpu.machine_busy()[0] - machine0 - sum(run.cpu.values())) / window)
    finally:
        await nc.close()


def named(scope: cpu.Scope) -> dict[int, str]:
    """The scope's processes, Postgres's told apart: its backends, and each auxiliary kind (io
    worker, checkpointer, autovacuum worker, …) by its process title."""
    out = scope.pids()
    for pid, name in out.items():
        if name == "postgres":
            title = cpu.cmdline(pid)
            kind = (
                title.removeprefix("postgres: ").rstrip("0123456789 ")
                if title.startswith("postgres: ")
                else ""
            )
            kind = "autovacuum worker" if kind.startswith("autovacuum worker") else kind  # it names a db
            out[pid] = (
                "postgres backends" if cpu.backend_database(pid) else f"postgres {kind or 'postmaster'}"
            )
    return out


@dataclass
class Tracker:
    """CPU ticks of a scope's processes as last seen: one that exits during the run (an
    autovacuum worker, say) keeps what it had used by the last look, every poll."""

    scope: cpu.Scope
    names: dict[int, str]
    before: dict[int, int]
    latest: dict[int, int]

    @classmethod
    def start(cls, scope: cpu.Scope) -> Tracker:
        names = named(scope)
        before = cpu.snapshot(names)
        return cls(scope, names, before, dict(before))

    def look(self) -> None:
        now = named(self.scope)
        self.names.update(now)
        self.latest.update({pid: ticks for pid, ticks in cpu.snapshot(now).items() if ticks})

    def used(self) -> dict[str, float]:
        self.look()
        return cpu.cpu_by_component(self.before, self.latest, self.names)
