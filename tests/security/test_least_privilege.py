"""JetStream grants per durable (issue 12 M5), against nats-server run with deploy/'s config: each
actor pulls and acks its own durable consumers alone, and none may update, delete or purge a stream.
"""

from __future__ import annotations

import re
from functools import partial

import msgspec
import nats
import pytest

from actors.contracts.config import load_settings
from actors.runtime.events import ensure_streams
from actors.runtime.work_queue import ensure_work_stream
from ops.registry import ACTORS, deployable
from tests.security.conftest import AUTHORIZATION, PASSWORDS, connect_as, refused
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

SETTINGS = load_settings({})  # deploy/'s config names the default streams: EVENTS, EVENTS_DLQ, EVENTS_WORK


def durables_of(actor: str) -> set[tuple[str, str]]:
    """(stream, durable) of every consumer `actor` registers in code."""
    found = deployable(actor).actor
    events = {(SETTINGS.events_stream, s.durable) for s in found.subscriptions}
    return events | {(SETTINGS.work_stream, w.durable) for w in found.work}


def grants_of(user: str) -> str:
    """The text of `user`'s entry in deploy/nats-authorization.conf."""
    text = AUTHORIZATION.read_text()
    start = text.index(f"user: {user}\n")
    end = text.find("user: ", start + 6)
    return text[start : end if end != -1 else len(text)]


def test_each_durable_in_code_is_granted_to_its_own_actor_and_no_other() -> None:
    """Both ways: a durable without its grant would fail in production, a grant without a durable
    is a right nobody needs."""
    for actor in ACTORS:
        own = durables_of(actor)
        granted = set(re.findall(r"\$JS\.API\.CONSUMER\.MSG\.NEXT\.([A-Z_]+)\.([a-z-]+)\"", grants_of(actor)))
        assert granted == own, actor
        for stream, durable in own:
            for subject in (
                f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
                f"$JS.API.CONSUMER.CREATE.{stream}.{durable}.>",
                f"$JS.ACK.{stream}.{durable}.>",
            ):
                assert f'"{subject}"' in grants_of(actor), subject
            assert not [u for u in (*ACTORS, "edge") if u != actor and f".{durable}" in grants_of(u)]
        # only a stream's creation and info: never its update, delete or purge
        # and no wildcard that would reach another's consumers
        wide = (
            r"STREAM\.(UPDATE|DELETE|PURGE)|CONSUMER\.DELETE"
            r"|\$JS\.API\.CONSUMER\.[A-Z_.]+\*|\$JS\.ACK\.[A-Z_]+\.>"
        )
        assert not re.search(wide, grants_of(actor)), actor


async def _streams_made_by_tools(url: str) -> None:
    tools = msgspec.structs.replace(
        SETTINGS, nats_url=url, nats_user="tools", nats_password=PASSWORDS["tools"]
    )
    nc = await connect_as(url, "tools", [])
    try:
        await ensure_streams(nc.jetstream(), tools)
        await ensure_work_stream(nc.jetstream(), tools)
    finally:
        await nc.close()


async def test_the_loans_user_cannot_ack_or_pull_a_users_durable(secured_nats: str) -> None:
    """A users worker holds an event unacknowledged; the loans user's ack of it is refused (the event
    stays pending), and so are its pull from, and creation of, the users actor's durable."""
    await _streams_made_by_tools(secured_nats)
    users = await connect_as(secured_nats, "users", [])
    errors: list[str] = []
    loans = await connect_as(secured_nats, "loans", errors)
    tools = await connect_as(secured_nats, "tools", [])
    durable = "users-loan-activity"
    try:
        pull = await users.jetstream().pull_subscribe(
            "events.loans.>", durable=durable, stream=SETTINGS.events_stream
        )
        await tools.jetstream().publish("events.loans.loan.probed", b"{}")
        [held] = await pull.fetch(1, timeout=5)
        assert held.reply.startswith(f"$JS.ACK.{SETTINGS.events_stream}.{durable}.")
        for subject, body in (
            (held.reply, b"+ACK"),
            (f"$JS.API.CONSUMER.MSG.NEXT.{SETTINGS.events_stream}.{durable}", b'{"batch":1}'),
            (f"$JS.API.CONSUMER.CREATE.{SETTINGS.events_stream}.{durable}.events.loans.>", b"{}"),
            (f"$JS.API.CONSUMER.DELETE.{SETTINGS.events_stream}.loans-parties", b""),
        ):
            errors.clear()
            await loans.publish(subject, body)
            await loans.flush()
            await eventually(partial(refused, subject, errors), timeout=5, what=f"loans published {subject}")
        info = await tools.jetstream().consumer_info(SETTINGS.events_stream, durable)
        assert info.num_ack_pending == 1  # the refused ack did nothing
        await held.ack()  # its own worker may
        # and the loans user works its own durable
        own = await loans.jetstream().pull_subscribe(
            "events.users.>", durable="loans-parties", stream=SETTINGS.events_stream
        )
        with pytest.raises(nats.errors.TimeoutError):
            await own.fetch(1, timeout=0.5)
    finally:
        for nc in (users, loans, tools):
            await nc.close()


@pytest.mark.parametrize("actor", sorted(ACTORS))
async def test_no_actor_may_update_delete_or_purge_a_stream(secured_nats: str, actor: str) -> None:
    """A purge asked through JetStream's API is refused and the events stay; update and delete too."""
    await _streams_made_by_tools(secured_nats)
    tools = await connect_as(secured_nats, "tools", [])
    errors: list[str] = []
    nc = await connect_as(secured_nats, actor, errors)
    try:
        await tools.jetstream().publish("events.users.user.probed", b"{}")
        before = (await tools.jetstream().stream_info(SETTINGS.events_stream)).state.messages
        with pytest.raises(nats.errors.TimeoutError):  # no answer: the request itself was refused
            await nc.jetstream(timeout=1).purge_stream(SETTINGS.events_stream)
        assert (await tools.jetstream().stream_info(SETTINGS.events_stream)).state.messages == before >= 1
        for stream in (SETTINGS.events_stream, SETTINGS.dlq_stream, SETTINGS.work_stream):
            for verb in ("UPDATE", "DELETE", "PURGE"):
                subject = f"$JS.API.STREAM.{verb}.{stream}"
                errors.clear()
                await nc.publish(subject, b"{}")
                await nc.flush()
                await eventually(partial(refused, subject, errors), timeout=5, what=f"{actor}: {subject}")
    finally:
        await nc.close()
        await tools.close()


def test_each_role_has_a_password_of_its_own_and_a_worker_gets_only_its_own() -> None:
    """M4: LOANS_<ACTOR>_DB_PASSWORD per role (the older shared one only where a role has none);
    what `loans up` hands a worker holds its own role's password and server, no privileged URL."""
    from actors.contracts.config import to_environ
    from ops.child_env import child_settings

    env = {
        "LOANS_DATABASE_URL": "postgresql://postgres:root-secret@db:5432/loans",
        "LOANS_USERS_DB_PASSWORD": "users-secret",
        "LOANS_LOANS_DB_PASSWORD": "loans-secret",
        "LOANS_DB_ROLE_PASSWORD": "shared-secret",
    }
    settings = load_settings(env)
    assert settings.db_password_for("users") == "users-secret"
    assert settings.db_password_for("loans") == "loans-secret"
    assert settings.db_password_for("servicing") == "shared-secret"
    assert load_settings(to_environ(settings)).actor_db_passwords == settings.actor_db_passwords
    worker = to_environ(child_settings(settings, "loans", "nats-loans-secret"))
    assert "LOANS_DATABASE_URL" not in worker and "LOANS_DB_ROLE_PASSWORD" not in worker
    assert worker["LOANS_LOANS_DATABASE_URL"] == "postgresql://db:5432/loans"
    assert worker["LOANS_LOANS_DB_PASSWORD"] == "loans-secret"
    assert not [v for v in worker.values() if v in ("root-secret", "users-secret", "shared-secret")]
    assert (worker["LOANS_NATS_USER"], worker["LOANS_NATS_PASSWORD"]) == ("loans", "nats-loans-secret")
    edge = to_environ(child_settings(settings, "edge", None))
    assert not [
        k for k in edge if "DATABASE_URL" in k or (k.endswith("PASSWORD") and k != "LOANS_NATS_PASSWORD")
    ]
