"""A whole system of its own, in-process, on the run's servers: for tests that move the business
date (it is one per deployment, so moving it in the shared database would change every other
test's "today").

Its own database and role prefix on the run's Postgres, a NATS server of its own (request
subjects carry no prefix: on the run's server its workers would join the session workers' queue
groups, and either system could answer a request), the users, loans and servicing workers and
the edge app in-process, future business dates allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from actors.contracts.config import Settings, load_settings
from actors.runtime.migrate import migrate
from actors.runtime.serving import ServingActor
from actors.runtime.worker import start_actor
from ops.registry import ACTORS, deployable
from tests.support.databases import create_database, delete_streams, drop_database, with_database


@dataclass
class Isolated:
    settings: Settings
    client: httpx.AsyncClient  # the edge app in front of this system's workers
    workers: dict[str, ServingActor[Any]]
    admin_url: str  # superuser on this system's database


@asynccontextmanager
async def isolated_system(
    server_urls: tuple[str, str], tmp: Path, **overrides: Any
) -> AsyncIterator[Isolated]:
    """Migrated and serving; `overrides` are settings (e.g. cob_batch_size=50). `server_urls`'s
    Postgres is used; its NATS is not (a server of its own is started)."""
    from ops.embedded import EmbeddedNats

    _, admin_url = server_urls
    nats = EmbeddedNats(tmp / f"nats-{uuid.uuid4().hex[:8]}")
    nats_url = nats.start()
    try:
        async with _serving(nats_url, admin_url, tmp, overrides) as system:
            yield system
    finally:
        nats.stop()


@asynccontextmanager
async def _serving(
    nats_url: str, admin_url: str, tmp: Path, overrides: dict[str, Any]
) -> AsyncIterator[Isolated]:
    from edge.app import create_app

    run = uuid.uuid4().hex[:8]
    database = f"loans_iso_{run}"
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "database_url": with_database(admin_url, database),
        "db_role_prefix": f"li{run}_",
        "data_dir": str(tmp / f"data-{run}"),
        "bcrypt_cost": 4,
        "concurrency": 64,
        "events_prefix": f"i{run}.events",
        "allow_future_business_date": True,
        "cob_auto": False,  # a test moves the date itself; the automatic run has a test of its own
        "requests_per_minute": 0,
        "signups_per_minute": 0,
    }
    values.update(overrides)
    settings = load_settings({}, **values)
    await create_database(admin_url, database)
    try:
        await migrate(settings)
        async with AsyncExitStack() as stack:
            workers = {name: await start_actor(deployable(name), settings, stack) for name in ACTORS}
            app = create_app(settings)
            transport = httpx.ASGITransport(app=app)
            await stack.enter_async_context(app.lifespan())
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://edge", timeout=30.0)
            )
            yield Isolated(settings, client, workers, with_database(admin_url, database))
    finally:
        await drop_database(admin_url, database, [settings.role_for(a) for a in ACTORS])
        await delete_streams(settings)
