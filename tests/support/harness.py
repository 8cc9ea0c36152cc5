"""A whole system of real processes for one chaos test, a bounded load through its edge, and the
figures the test prints (requests sent, failed, retried; events lost).

Each system has its own NATS server (which a test may stop and start again), its own database (on
the run's Postgres, or on a Postgres of its own that a test may restart), and `loans worker` /
`loans edge` processes, each one killable alone. Everything listens on loopback; every loop is
bounded in requests and in time.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.contracts.config import Settings, load_settings
from actors.runtime.migrate import migrate
from actors.users.service import key_path
from actors.users.signing import load_or_create
from ops.embedded import FAST_SETTINGS, EmbeddedNats, EmbeddedPostgres, free_port
from ops.registry import ACTORS
from tests.support.cluster import PASSWORDS as CLUSTER_PASSWORDS
from tests.support.cluster import NatsCluster
from tests.support.databases import create_database, drop_database, with_database
from tests.support.people import Person, admin, agent, signup
from tests.support.polling import eventually
from tests.support.processes import LOANS, env_for

# What each chaos test measured, printed at the end of the run (tests/chaos/conftest.py).
REPORT: list[str] = []
MAX_REQUESTS = 50_000  # a load never sends more than this, whatever its duration
CONCURRENCY = 16


def report(name: str, **figures: Any) -> None:
    line = f"{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items())
    print(line, flush=True)
    REPORT.append(line)


@dataclass
class System:
    settings: Settings
    admin_url: str  # superuser on this system's database: reads both schemas
    nats: EmbeddedNats | None  # None on a cluster (tests/support/cluster.py)
    logs: Path
    http_url: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None
    nats_passwords: dict[str, str] | None = None  # each component its own NATS user, if set

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        component = args[0] if args[0] == "edge" else args[1]
        credentials = {}
        if self.nats_passwords is not None:
            password = self.nats_passwords[component]
            credentials = {"LOANS_NATS_USER": component, "LOANS_NATS_PASSWORD": password}
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [*LOANS, *args],
                env=env_for(self.settings, **credentials),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.processes[name] = process
        return process

    def start_worker(self, name: str, actor: str) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", actor)

    def start_edge(self) -> subprocess.Popen[bytes]:
        return self.start("edge", "edge", "--port", str(self.settings.http_port))

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def restart_nats(self, down_for: float = 0.0) -> None:
        assert self.nats is not None, "a cluster's nodes are killed one by one (NatsCluster.kill)"
        port = int(self.settings.require_nats_url().rsplit(":", 1)[1])
        self.nats.stop()
        time.sleep(down_for)
        self.nats = EmbeddedNats(self.nats.dir.parent, port=port)
        self.nats.start()

    async def wait_ready(self, http: httpx.AsyncClient, within: float = 45.0) -> None:
        async def ready() -> bool:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    pytest.fail(f"{name} exited while starting; see {self.logs}/{name}.log")
            return (await http.get("/ready")).status_code == 200

        await eventually(
            ready,
            timeout=within,
            interval=0.2,
            what=f"the system was not ready (logs in {self.logs})",
            ignoring=(httpx.TransportError,),
        )

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_url)


@asynccontextmanager
async def system(
    tmp: Path,
    server_urls: tuple[str, str] | None,
    *,
    users_workers: int = 1,
    loans_workers: int = 2,
    servicing_workers: int = 1,
    own_postgres: bool = False,
    cluster: NatsCluster | None = None,
) -> AsyncIterator[System]:
    """Migrated and running: `users_workers` users workers, `loans_workers` loans workers,
    `servicing_workers` servicing workers (the edge's /ready waits for one), the edge;
    on a NATS server of its own, or on `cluster` (started) with events kept on three nodes."""
    logs = tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    nats_server = None
    if cluster is None:
        nats_server = EmbeddedNats(tmp / "nats")
        nats_url = nats_server.start()
    else:
        nats_url = cluster.urls
    postgres = None
    try:
        if own_postgres or server_urls is None:
            postgres = EmbeddedPostgres(tmp / "pg", port=free_port(), settings=FAST_SETTINGS)
            server_admin = postgres.start()
        else:
            server_admin = server_urls[1]
        run = uuid.uuid4().hex[:8]
        database = f"loans_chaos_{run}"
        settings = load_settings(
            {},
            nats_url=nats_url,
            nats_tls_ca=cluster.ca if cluster is not None else None,  # the cluster is TLS only
            database_url=with_database(server_admin, database),
            db_role_prefix=f"lc{run}_",
            data_dir=str(tmp / "data"),
            bcrypt_cost=4,
            http_port=free_port(),
            requests_per_minute=0,  # the load comes from one address
            signups_per_minute=0,
            drain_timeout=5.0,
            event_ack_wait=2.0,  # a killed worker's unacknowledged events come back soon
            outbox_poll_seconds=0.5,
            events_replicas=1 if cluster is None else len(cluster.nodes),
        )
        await create_database(server_admin, database)
        sys = System(settings, with_database(server_admin, database), nats_server, logs, postgres=postgres)
        if cluster is not None:
            sys.nats_passwords = CLUSTER_PASSWORDS
        sys.http_url = f"http://127.0.0.1:{settings.http_port}"
        try:
            await migrate(settings)
            load_or_create(key_path(settings))  # before the workers, as `loans up` does
            for i in range(1, users_workers + 1):
                sys.start_worker(f"users-{i}", "users")
            for i in range(1, loans_workers + 1):
                sys.start_worker(f"loans-{i}", "loans")
            for i in range(1, servicing_workers + 1):
                sys.start_worker(f"servicing-{i}", "servicing")
            sys.start_edge()
            yield sys
        finally:
            sys.stop_all()
            nats_server = sys.nats  # the one running now: a test may have restarted it
            if sys.postgres is not None and sys.postgres.pid is None:
                sys.postgres.start()  # stopped by the test: back up, to drop what it made
            await drop_database(server_admin, database, [settings.role_for(a) for a in ACTORS])
    finally:
        if nats_server is not None:
            nats_server.stop()
        if postgres is not None:
            postgres.stop()


@dataclass
class Cast:
    admin: Person
    agent: Person
    customer: Person
    loans: list[str]  # ids of loans made before the load, for the reads


async def cast(http: httpx.AsyncClient, settings: Settings) -> Cast:
    boss = await admin(http, settings)
    customer = await signup(http, "customer")
    approved = await agent(http, boss, "approved")
    loans: list[str] = []

    async def five_loans_made() -> bool:
        while len(loans) < 5:
            made = await http.post(
                "/api/loan/customer-loan",
                json={"customer_id": customer.id, "principal": f"{10_000 + len(loans)}.00", "months": 12},
                headers=approved.headers,
            )
            assert made.status_code == 201, made.text
            loans.append(made.json()["data"]["id"])
        return True

    # The approval reaches the loans actor by an event: until it has, the agent's loans are refused.
    await eventually(five_loans_made, timeout=15, interval=0.2, what="the approved agent made no loans")
    return Cast(boss, approved, customer, loans)


@dataclass
class Outcome:
    at: float  # time.monotonic() when the answer came
    kind: str  # read, write (the client sent a key), write-unkeyed (the edge made one)
    status: int  # 0: no HTTP answer at all


class Load:
    """CONCURRENCY closed loops of reads and writes through the edge until stopped (or MAX_REQUESTS).

    Each write asks for a loan with a principal no other request uses, so a write made twice
    shows as two loans with one principal, whatever the keys did.
    """

    def __init__(self, http: httpx.AsyncClient, people: Cast, *, unkeyed_writes: bool = True) -> None:
        self.http = http
        self.people = people
        self.unkeyed_writes = unkeyed_writes
        self.outcomes: list[Outcome] = []
        self.principals = itertools.count(20_000)
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(i)) for i in range(CONCURRENCY)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    async def run_for(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _loop(self, n: int) -> None:
        kinds = ["read", "write", "read", "write-unkeyed" if self.unkeyed_writes else "write", "read"]
        for i in itertools.count(n):
            if self._stop.is_set() or len(self.outcomes) >= MAX_REQUESTS:
                return
            kind = kinds[i % len(kinds)]
            try:
                response = await self._send(kind, i)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.outcomes.append(Outcome(time.monotonic(), kind, status))
            if status not in (200, 201):
                await asyncio.sleep(0.05)  # a failing system is not hammered in a tight loop

    async def _send(self, kind: str, i: int) -> httpx.Response:
        people = self.people
        if kind == "read":
            if i % 2:
                loan = people.loans[i % len(people.loans)]
                return await self.http.get(f"/api/loan/{loan}", headers=people.admin.headers)
            return await self.http.get(
                "/api/loan/list-loans-admin-agent", params={"page_size": 5}, headers=people.admin.headers
            )
        headers = dict(people.agent.headers)
        if kind == "write":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        body = {"customer_id": people.customer.id, "principal": f"{next(self.principals)}.00", "months": 12}
        return await self.http.post("/api/loan/customer-loan", json=body, headers=headers)

    def sent(self, kind: str | None = None) -> int:
        return sum(1 for o in self.outcomes if kind is None or o.kind.startswith(kind))

    def failed(self, kind: str | None = None) -> int:
        wanted = [o for o in self.outcomes if kind is None or o.kind.startswith(kind)]
        return sum(1 for o in wanted if o.status not in (200, 201))

    def statuses(self) -> dict[int, int]:
        return dict(sorted(Counter(o.status for o in self.outcomes).items()))

    def succeeded_writes(self) -> int:
        return sum(1 for o in self.outcomes if o.kind.startswith("write") and o.status == 201)


async def retried(http: httpx.AsyncClient) -> dict[str, int]:
    """The edge's retries so far, by the outcome that caused them."""
    text = (await http.get("/metrics")).text
    by_outcome: Counter[str] = Counter()
    for metric in text_string_to_metric_families(text):
        if metric.name == "loans_edge_nats_retries":
            for s in metric.samples:
                if s.name.endswith("_total"):
                    by_outcome[s.labels["outcome"]] += int(s.value)
    return dict(by_outcome)


async def duplicate_writes(sys: System, agent_id: str) -> int:
    """Loans beyond the first for any principal: a write that was made twice."""
    con = await sys.db()
    try:
        extra = await con.fetchval(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM loans.loans"
            " WHERE agent_id = $1 GROUP BY principal) AS per_principal",
            uuid.UUID(agent_id),
        )
    finally:
        await con.close()
    return int(extra)


async def loans_made(sys: System, agent_id: str) -> int:
    con = await sys.db()
    try:
        query = "SELECT count(*) FROM loans.loans WHERE agent_id = $1"
        return int(await con.fetchval(query, uuid.UUID(agent_id)))
    finally:
        await con.close()


@dataclass
class EventFigures:
    written: int  # loan events written: one per history row (they are written together)
    unpublished: int  # still in the loans outbox
    applied: int  # recorded by the users actor's consumer

    @property
    def lost(self) -> int:
        return self.written - self.applied


async def events_settled(sys: System, within: float = 30.0) -> EventFigures:
    """Wait until every loan event is published and applied by its consumer (or the time is up).

    Whether or not they settle, the figures are returned: the test reports them, then asserts.
    """
    con = await sys.db()
    try:

        async def figures() -> EventFigures:
            row = await con.fetchrow(
                """SELECT (SELECT count(*) FROM loans.loan_history) AS written,
                          (SELECT count(*) FROM loans.outbox) AS unpublished,
                          (SELECT count(*) FROM users.inbox WHERE consumer = 'users-loan-activity')
                              AS applied"""
            )
            return EventFigures(row["written"], row["unpublished"], row["applied"])

        async def settled() -> EventFigures | None:
            now = await figures()
            return now if now.lost == 0 and now.unpublished == 0 else None

        try:
            return await eventually(settled, timeout=within, interval=0.25)
        except AssertionError:
            return await figures()
    finally:
        await con.close()


async def dead_letters(sys: System) -> int:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(sys.settings.require_nats_url())
    try:
        info = await nc.jetstream().stream_info(sys.settings.dlq_stream)
        return int(info.state.messages)
    except NotFoundError:
        return 0
    finally:
        await nc.close()
