"""The stage of a run: NATS and Postgres, the settings every process gets, the databases, the archs.

The servers are embedded (ops.embedded) in the work dir unless LOANS_NATS_URL / LOANS_DATABASE_URL
give running ones; whatever is started here is stopped by the ExitStack the caller closes.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import msgspec

from actors.contracts.config import Settings
from bench import data, plan, systems
from bench.outcome import Options, Outcome
from bench.procs import Procs
from ops.registry import ACTORS


@dataclass(frozen=True)
class Servers:
    nats_url: str
    nats_pid: int | None  # None when not on this machine's books (given by URL): its CPU is not counted
    database_url: str  # the Postgres server, where the bench makes its databases
    postmaster: int | None


def start_servers(env: Settings, work: Path, stack: ExitStack, outcome: Outcome) -> Servers:
    """NATS, then Postgres: the given ones, or embedded ones stopped when `stack` closes."""
    nats_url, nats_pid = _nats(env, work, stack, outcome)
    database_url, postmaster = _postgres(env, work, stack, outcome)
    return Servers(nats_url, nats_pid, database_url, postmaster)


def _nats(env: Settings, work: Path, stack: ExitStack, outcome: Outcome) -> tuple[str, int | None]:
    if env.nats_url:
        outcome.notes.append("NATS given by LOANS_NATS_URL: nats-server CPU is not counted.")
        return env.nats_url, None
    from ops.embedded import EmbeddedNats

    nats = EmbeddedNats(work)
    url = nats.start()
    stack.callback(nats.stop)
    return url, nats.pid


def _postgres(env: Settings, work: Path, stack: ExitStack, outcome: Outcome) -> tuple[str, int | None]:
    if env.database_url:
        pm = asyncio.run(data.postmaster_pid(env.database_url))
        if pm is None:
            outcome.notes.append("Postgres given by URL is not on this machine: its CPU is not counted.")
        return env.database_url, pm
    from ops.embedded import DEV_SETTINGS, EmbeddedPostgres

    pg = EmbeddedPostgres(work, settings=DEV_SETTINGS)  # what `loans up` runs: fsync on
    url = pg.start()
    stack.callback(pg.stop)
    return url, pg.pid


# Product settings the bench must change, when this version of the product has them.
BENCH_SETTINGS: dict[str, tuple[object, str]] = {
    "requests_per_minute": (
        0,
        "The edge's per-client request limit is off (LOANS_REQUESTS_PER_MINUTE=0): all the bench's "
        "load comes from one address.",
    ),
    # The login scenario measures bcrypt behind each architecture; 16 connections logging 200
    # customers in from one address would otherwise meet the login limits (429s) within a second.
    "login_attempts_per_minute": (
        1_000_000,
        "The edge's login limits are raised to 1,000,000 a minute (per address and email, "
        "LOANS_LOGIN_ATTEMPTS_PER_MINUTE; per account, LOANS_LOGIN_ACCOUNT_ATTEMPTS_PER_MINUTE).",
    ),
    "login_account_attempts_per_minute": (1_000_000, ""),
}


def base_settings(env: Settings, servers: Servers, work: Path, run_id: str, outcome: Outcome) -> Settings:
    """The settings of every process the bench starts, before each gets its database."""
    return _overrides(
        outcome,
        nats_url=servers.nats_url,
        data_dir=str(work / "data"),
        jwt_private_key_file=str(work / "jwt" / "ed25519.pem"),
        db_role_prefix=f"lbench_{run_id}_",  # its own roles: dropped with the databases
        db_role_password=env.db_role_password,
        bcrypt_cost=12,
        # a NATS server given by URL may hold other streams: keep ours apart
        events_prefix="events" if env.nats_url is None else f"bench{run_id}",
    )


def _overrides(outcome: Outcome, **fields: object) -> Settings:
    for name, (value, note) in BENCH_SETTINGS.items():
        if name in Settings.__struct_fields__:
            fields[name] = value
            if note:
                outcome.notes.append(note)
    return Settings(**fields)  # type: ignore[arg-type]


def database_names(run_id: str, opts: Options) -> dict[str, str]:
    """The run's databases: the seed, one copy per architecture, one per variants' data (`x-…`),
    and a copy of base's for the traced variants (`x-pair`)."""
    variants = plan.variants(opts.scale, opts.tracing, opts.scale_out)
    own = [f"x-{kind}" for kind in dict.fromkeys(plan.VARIANTS[v].data for v in variants)]
    if opts.tracing:  # the traced variants run beside a base on base's data: a copy of it
        own.append("x-pair")
    return {name: f"lbench_{run_id}_{name.replace('-', '_')}" for name in ("seed", *systems.ARCHS, *own)}


def actor_roles(run_id: str) -> list[str]:
    """The database roles the actors' migrations made under the run's prefix."""
    return [f"lbench_{run_id}_{actor}" for actor in ACTORS]


def with_database(base: Settings, server_url: str, database: str) -> Settings:
    return msgspec.structs.replace(base, database_url=data.database_url(server_url, database))


async def seed_databases(
    server_url: str, dbs: dict[str, str], base: Settings, shape: data.Shape
) -> dict[str, float]:
    """The seed database, then one copy of it per architecture; how long each step took."""
    await data.create_database(server_url, dbs["seed"])
    took = await data.seed(with_database(base, server_url, dbs["seed"]), shape)
    t0 = time.monotonic()
    for arch in systems.ARCHS:
        await data.create_database(server_url, dbs[arch], template=dbs["seed"])
    took["copy_databases"] = time.monotonic() - t0
    return took


def start_archs(
    procs: Procs, base: Settings, servers: Servers, dbs: dict[str, str], client: str | None
) -> list[systems.Arch]:
    """The three architectures side by side, each on its database, once all of them can serve."""

    def on(arch: str) -> Settings:
        return with_database(base, servers.database_url, dbs[arch])

    archs = [
        systems.start_loan_actors(procs, on("loan-actors"), dbs["loan-actors"], servers.nats_pid),
        systems.start_direct(procs, on("direct"), dbs["direct"]),
        systems.start_http_hop(procs, on("http-hop"), dbs["http-hop"], client),
    ]
    for arch in archs:
        systems.wait_ready(arch)
    return archs


def stop_arch(procs: Procs, arch: systems.Arch) -> None:
    for proc in reversed(list(arch.procs.values())):  # the edge before the workers it calls
        procs.stop(proc)
