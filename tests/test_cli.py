"""The `loans` command as an operator uses it, as real processes against the run's servers."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import uuid
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from actors.runtime.serving import ServingActor
from ops.discovery import gather
from ops.registry import ACTORS
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually
from tests.support.processes import LOANS, env_for, loans_process, run_loans

pytestmark = pytest.mark.anyio


async def test_admin_create_makes_an_admin_who_can_log_in_over_nats(
    settings: Settings, users_worker: Any
) -> None:
    """The bootstrap path, then `loans request` straight on NATS with the token it gave."""
    email = new_email("boot")
    made = await asyncio.to_thread(
        run_loans, settings, "admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["role"] == "admin"

    body = json.dumps({"email": email.upper(), "password": PASSWORD})
    login = await asyncio.to_thread(run_loans, settings, "request", "users.login", body)
    assert login.returncode == 0, login.stderr
    token = json.loads(login.stdout)["access_token"]

    profile = await asyncio.to_thread(run_loans, settings, "request", "users.profile", "{}", "--token", token)
    assert profile.returncode == 0, profile.stderr
    assert json.loads(profile.stdout)["email"] == email

    again = await asyncio.to_thread(
        run_loans, settings, "admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert again.returncode == 1 and "already exists" in again.stderr


async def test_admin_create_refuses_a_short_password_and_a_bad_email(settings: Settings) -> None:
    short = await asyncio.to_thread(
        run_loans, settings, "admin", "create", "--email", new_email(), "--password-stdin", stdin="short\n"
    )
    assert short.returncode != 0 and "password" in short.stderr
    bad = await asyncio.to_thread(
        run_loans,
        settings,
        "admin",
        "create",
        "--email",
        "not-an-email",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert bad.returncode != 0 and "email" in bad.stderr


async def test_request_prints_an_error_reply_and_exits_non_zero(
    settings: Settings, users_worker: Any
) -> None:
    done = await asyncio.to_thread(run_loans, settings, "request", "users.profile", "{}")
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == "unauthenticated"


def test_a_bad_setting_stops_the_process_naming_the_variable(settings: Settings) -> None:
    done = subprocess.run(
        [*LOANS, "migrate"],
        env=env_for(settings, LOANS_BCRYPT_COST="many"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "LOANS_BCRYPT_COST" in done.stderr


def test_more_event_replicas_than_nats_servers_stop_a_worker_naming_the_variable(settings: Settings) -> None:
    """One NATS server cannot keep 3 copies of the streams: the worker says which setting is wrong
    and exits 2, rather than dying of JetStream's error with a traceback."""
    done = subprocess.run(
        [*LOANS, "worker", "loans"],
        env=env_for(settings, LOANS_EVENTS_REPLICAS="3", LOANS_EVENTS_PREFIX="replicas.test"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "LOANS_EVENTS_REPLICAS=3" in done.stderr and "Traceback" not in done.stderr, done.stderr


async def test_two_users_workers_share_the_subject(
    settings: Settings, nc: Client, users_worker: ServingActor[Any]
) -> None:
    """Both worker processes answer requests, as each one's $SRV.STATS shows."""
    with loans_process(settings, "worker", "users"), loans_process(settings, "worker", "users"):

        async def three_replicas() -> bool:
            return len(await gather(nc, "$SRV.PING.users", 0.3)) >= 3

        # gather() waits 0.3 s for the replies already: no pause between its calls
        await eventually(three_replicas, timeout=30, interval=0, what="the worker processes did not come up")
        await asyncio.gather(*(nc.request("users.jwks", b"", timeout=5) for _ in range(90)))
        stats = [json.loads(raw) for raw in await gather(nc, "$SRV.STATS.users", 0.5)]
    served = {
        s["id"]: next(e["num_requests"] for e in s["endpoints"] if e["subject"] == "users.jwks")
        for s in stats
        if s["id"] != users_worker.micro.id
    }
    assert len(served) == 2
    assert all(count > 0 for count in served.values()), served


async def test_each_actor_role_is_confined_to_its_own_schema(settings: Settings) -> None:
    """Every actor of the registry, against every other: its role reads its own schema only and
    creates nothing in another's (every schema has its schema_migrations table to try)."""
    for actor, other in itertools.permutations(ACTORS, 2):
        con = await asyncpg.connect(role_dsn(settings, actor))
        try:
            assert await con.fetchval(f"SELECT count(*) FROM {actor}.schema_migrations") >= 1
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await con.fetch(f"SELECT * FROM {other}.schema_migrations LIMIT 1")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await con.execute(f"CREATE TABLE {other}.intruder (id int)")
        finally:
            await con.close()


async def test_a_servicing_worker_process_is_discovered_and_counted_by_stats(
    settings: Settings, nc: Client, servicing_worker: ServingActor[Any]
) -> None:
    """`loans worker servicing` answers $SRV.PING.servicing beside the in-process worker, and
    `loans stats` shows the servicing subjects it served, per replica."""
    with loans_process(settings, "worker", "servicing"):

        async def two_replicas() -> set[str]:
            ids = {json.loads(raw)["id"] for raw in await gather(nc, "$SRV.PING.servicing", 0.3)}
            return ids if len(ids) >= 2 else set()

        ids = await eventually(
            two_replicas, timeout=30, interval=0, what="the servicing process did not come up"
        )
        await asyncio.gather(*(nc.request("servicing.business_date", b"", timeout=5) for _ in range(40)))
        done = await asyncio.to_thread(run_loans, settings, "stats", "--wait", "0.5")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith("servicing.business_date")]
    assert {row[1] for row in rows} >= ids, done.stdout  # a row per replica (and an "all" row)


async def test_a_comma_separated_nats_url_names_several_servers(settings: Settings) -> None:
    """One of them unreachable: the connection uses the one that answers."""
    import msgspec

    from actors.bus.connection import connect
    from ops.embedded import free_port

    both = f"nats://127.0.0.1:{free_port()},{settings.require_nats_url()}"
    nc = await connect(msgspec.structs.replace(settings, nats_url=both), "test")
    try:
        assert nc.is_connected
    finally:
        await nc.close()


def test_up_and_worker_take_every_actor_of_the_registry() -> None:
    """`loans up --<actor> N` and `loans worker <actor>` come from the registry: servicing's too."""
    from ops.cli import _parser

    counts = [arg for i, actor in enumerate(ACTORS) for arg in (f"--{actor}", str(i + 2))]
    up = _parser().parse_args(["up", *counts])
    assert {actor: getattr(up, actor) for actor in ACTORS} == {a: i + 2 for i, a in enumerate(ACTORS)}
    assert "servicing" in ACTORS and _parser().parse_args(["worker", "servicing"]).actor == "servicing"


async def test_discovery_of_a_service_nobody_runs_finds_no_replica(nc: Client) -> None:
    """The server's empty no-responders status is not counted as a replica (`loans stats` choked on it)."""
    assert await gather(nc, f"$SRV.STATS.nobody_{uuid.uuid4().hex[:8]}", 0.3) == []
