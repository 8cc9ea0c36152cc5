"""Fixtures of the NATS permission tests: nats-server run with deploy/nats-server.conf, and the
components logged in to it, each as its own user."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import msgspec
import nats
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings, load_settings
from actors.runtime.migrate import migrate
from actors.runtime.worker import start_actor
from ops.embedded import EmbeddedNats, free_port
from ops.registry import ACTORS, deployable
from tests.support.databases import create_database, drop_database, with_database
from tests.support.polling import eventually_sync

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats-server.conf"
AUTHORIZATION = CONF.with_name("nats-authorization.conf")
PASSWORDS = {name: uuid.uuid4().hex for name in ("edge", "users", "loans", "servicing", "tools")}
# Not in deploy/: a test-only user that reads every subject and publishes none, to see whether
# an actor published where it must not. It adds no right to any other user.
OBSERVER = ("observer", uuid.uuid4().hex)
_OBSERVER_ENTRY = (
    f"{{ user: {OBSERVER[0]}, password: {OBSERVER[1]}, "
    'permissions: { publish: { deny: [">"] }, subscribe: { allow: [">"] } } }'
)


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nats-server started with the deploy config, on a free port and a throwaway store."""
    port = free_port()
    store = tmp_path_factory.mktemp("secured-nats")
    conf = store / "nats-server.conf"  # the deploy file, with a throwaway store (-sd can't override it)
    conf.write_text(
        CONF.read_text().replace('store_dir: "/var/lib/loan-actors/nats"', f'store_dir: "{store}"')
    )
    authorization = AUTHORIZATION.read_text()
    assert authorization.count("users = [") == 1  # where the observer goes, beside the deploy users
    (store / AUTHORIZATION.name).write_text(  # included beside it
        authorization.replace("users = [", f"users = [\n    {_OBSERVER_ENTRY}")
    )
    env = {**os.environ, **{f"LOANS_NATS_{k.upper()}_PASSWORD": v for k, v in PASSWORDS.items()}}
    process = subprocess.Popen(
        [EmbeddedNats.binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True

        eventually_sync(
            listening,
            timeout=10,
            what="nats-server with the deploy config did not start",
            ignoring=(OSError,),
        )
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def connect_as(url: str, user: str, errors: list[str]) -> Client:
    """`user`'s connection, with its own inbox prefix (as actors/bus/connection.py sets it)."""

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    password = OBSERVER[1] if user == OBSERVER[0] else PASSWORDS[user]
    return await nats.connect(
        url,
        user=user,
        password=password,
        inbox_prefix=f"_INBOX_{user}",
        error_cb=on_error,
        allow_reconnect=False,
    )


def refused(subject: str, errors: list[str]) -> bool:
    """The server has reported a permissions violation on `subject`."""
    quoted = f'"{subject.lower()}"'  # as the server quotes it: `">"` is not any subject with a `>`
    return any("permissions violation" in e and quoted in e for e in errors)


@pytest.fixture
async def secured_system(
    secured_nats: str, server_urls: tuple[str, str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Users, loans and servicing workers and the edge, each logged in to NATS as itself, on a fresh
    database."""
    from edge.app import create_app

    run = uuid.uuid4().hex[:8]
    admin_url = server_urls[1]
    base = load_settings(
        {},
        nats_url=secured_nats,
        database_url=with_database(admin_url, f"loans_sec_{run}"),
        db_role_prefix=f"ls{run}_",
        data_dir=str(tmp_path),
        bcrypt_cost=4,
    )

    def as_user(name: str) -> Settings:
        return msgspec.structs.replace(base, nats_user=name, nats_password=PASSWORDS[name])

    await create_database(admin_url, f"loans_sec_{run}")
    try:
        await migrate(base)
        async with AsyncExitStack() as stack:
            await start_actor(deployable("users"), as_user("users"), stack)
            await start_actor(deployable("loans"), as_user("loans"), stack)
            await start_actor(deployable("servicing"), as_user("servicing"), stack)
            app = create_app(as_user("edge"))
            transport = httpx.ASGITransport(app=app)
            await stack.enter_async_context(app.lifespan())
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://edge")
            )
            client.settings = base  # type: ignore[attr-defined]
            yield client
    finally:
        await drop_database(admin_url, f"loans_sec_{run}", [base.role_for(a) for a in ACTORS])
