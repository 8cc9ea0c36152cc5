"""Real servers for the whole run: embedded NATS and Postgres, or the ones LOANS_TEST_* name.

Each run gets its own database and its own role prefix, so runs sharing one Postgres cluster
never see each other, and they are dropped at the end. Actors run in-process for speed; tests
that must kill a worker start real processes (see tests/support/processes.py).

Fixtures only: the helpers are in tests/support/, and the fixtures several folders share beside
these are loaded from it as a plugin.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from actors.contracts.config import Settings, load_settings
from actors.runtime.migrate import migrate
from actors.runtime.serving import ServingActor
from actors.runtime.worker import start_actor
from ops.registry import ACTORS, deployable
from tests.support.databases import create_database, delete_streams, drop_database, with_database

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(nats_url, admin database url) of real servers."""
    with ExitStack() as stack:
        nats_url = os.environ.get("LOANS_TEST_NATS_URL")
        database_url = os.environ.get("LOANS_TEST_DATABASE_URL")
        if not nats_url or not database_url:
            from ops.embedded import EmbeddedNats, EmbeddedPostgres

            if not nats_url:
                nats_server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
                nats_url = nats_server.start()
                stack.callback(nats_server.stop)
            if not database_url:
                postgres = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
                database_url = postgres.start()
                stack.callback(postgres.stop)
        yield nats_url, database_url


@pytest.fixture(scope="session")
def settings(server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for this run: a fresh database, fresh roles, cheap bcrypt, a temporary data dir."""
    nats_url, admin_url = server_urls
    run = uuid.uuid4().hex[:8]
    database = f"loans_test_{run}"
    settings = load_settings(
        {},
        nats_url=nats_url,
        database_url=with_database(admin_url, database),
        db_role_prefix=f"lt{run}_",
        data_dir=str(tmp_path_factory.mktemp("data")),
        bcrypt_cost=4,
        concurrency=64,
        events_prefix=f"t{run}.events",
        signups_per_minute=0,  # the suite signs everyone up from one address
    )
    asyncio.run(create_database(admin_url, database))
    asyncio.run(migrate(settings))
    yield settings
    asyncio.run(drop_database(admin_url, database, [settings.role_for(a) for a in ACTORS]))
    asyncio.run(delete_streams(settings))


@pytest.fixture(scope="session")
async def users_worker(settings: Settings) -> AsyncIterator[ServingActor[Any]]:
    async with AsyncExitStack() as stack:
        yield await start_actor(deployable("users"), settings, stack)


@pytest.fixture(scope="session")
async def loans_worker(
    settings: Settings, users_worker: ServingActor[Any]
) -> AsyncIterator[ServingActor[Any]]:
    async with AsyncExitStack() as stack:
        yield await start_actor(deployable("loans"), settings, stack)


@pytest.fixture(scope="session")
async def servicing_worker(
    settings: Settings, users_worker: ServingActor[Any], loans_worker: ServingActor[Any]
) -> AsyncIterator[ServingActor[Any]]:
    async with AsyncExitStack() as stack:
        yield await start_actor(deployable("servicing"), settings, stack)


@pytest.fixture(scope="session")
async def nc(settings: Settings) -> AsyncIterator[Any]:
    from actors.bus.connection import connect

    client = await connect(settings, "tests")
    yield client
    await client.drain()


@pytest.fixture(scope="session")
async def client(
    settings: Settings,
    users_worker: ServingActor[Any],
    loans_worker: ServingActor[Any],
    servicing_worker: ServingActor[Any],
) -> AsyncIterator[httpx.AsyncClient]:
    """The edge app, in-process on the test's event loop, in front of the in-process workers.

    Not Litestar's AsyncTestClient: it runs the app on another thread and blocks this loop while
    it waits, so the in-process workers (on this loop) could never answer the edge.
    """
    from edge.app import create_app

    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://edge") as test_client:
        yield test_client


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
