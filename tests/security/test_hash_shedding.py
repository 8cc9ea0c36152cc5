"""M3: past its bound of hashes, a users worker sheds logins and signups at once with 503 and
Retry-After, instead of queueing them until the edge gives up (504)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest

from actors.contracts.config import load_settings
from actors.runtime.migrate import migrate
from actors.runtime.worker import start_actor
from ops.embedded import EmbeddedNats
from ops.registry import ACTORS, deployable
from tests.support.people import PASSWORD, new_email
from tests.support.users import USERS, assert_error

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

QUEUE = 2  # hashes the worker holds; one thread, so one runs and one waits
COST = 12  # about a quarter of a second a hash: the parallel requests all arrive while it runs


@pytest.fixture
async def one_slow_hasher(server_urls: tuple[str, str], tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An edge and a users worker with one bcrypt thread and room for 2 hashes, on a NATS server
    and a database of their own (no other users worker takes their requests)."""
    from edge.app import create_app
    from tests.support.databases import create_database, drop_database, with_database

    nats_server = EmbeddedNats(tmp_path / "nats")
    run = uuid.uuid4().hex[:8]
    database = f"loans_shed_{run}"
    settings = load_settings(
        {},
        nats_url=nats_server.start(),
        database_url=with_database(server_urls[1], database),
        db_role_prefix=f"lh{run}_",
        data_dir=str(tmp_path / "data"),
        bcrypt_cost=COST,
        bcrypt_threads=1,
        bcrypt_queue=QUEUE,
    )
    await create_database(server_urls[1], database)
    try:
        await migrate(settings)
        async with AsyncExitStack() as stack:
            await start_actor(deployable("users"), settings, stack)
            app = create_app(settings)
            await stack.enter_async_context(app.lifespan())
            transport = httpx.ASGITransport(app=app)
            yield await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://edge", timeout=30)
            )
    finally:
        await drop_database(server_urls[1], database, [settings.role_for(a) for a in ACTORS])
        nats_server.stop()


def assert_shed(response: httpx.Response) -> None:
    assert_error(response, 503, "service_unavailable")
    assert int(response.headers["Retry-After"]) >= 1


async def test_logins_past_the_hash_queue_are_shed_at_once_with_retry_after(
    one_slow_hasher: httpx.AsyncClient,
) -> None:
    """12 logins at once: 2 are checked (401), 10 get 503 + Retry-After before the first hash is done."""
    shed_at: list[float] = []
    started = time.monotonic()

    async def login() -> httpx.Response:
        body = {"email": new_email("nobody"), "password": "wrong-password"}
        response = await one_slow_hasher.post(f"{USERS}/login", json=body)
        if response.status_code == 503:
            shed_at.append(time.monotonic() - started)
        return response

    answers = await asyncio.gather(*(login() for _ in range(12)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * QUEUE + [503] * (12 - QUEUE)
    for answer in answers:
        if answer.status_code == 503:
            assert_shed(answer)
    # all were shed at once, not after waiting their turn (12 hashes would take about 3 s)
    assert max(shed_at) < 1.0, shed_at


async def test_signups_past_the_hash_queue_are_shed_and_a_later_one_succeeds(
    one_slow_hasher: httpx.AsyncClient,
) -> None:
    """6 signups at once: 2 are made (201), 4 get 503 + Retry-After; once the queue is empty, 201."""

    async def signup() -> httpx.Response:
        body = {
            "email": new_email("shed"),
            "password": PASSWORD,
            "first_name": "Ann",
            "last_name": "Lee",
            "role": "customer",
        }
        return await one_slow_hasher.post(f"{USERS}/signup", json=body)

    answers = await asyncio.gather(*(signup() for _ in range(6)))
    assert sorted(a.status_code for a in answers) == [201] * QUEUE + [503] * (6 - QUEUE)
    for answer in answers:
        if answer.status_code == 503:
            assert_shed(answer)
    assert (await signup()).status_code == 201
