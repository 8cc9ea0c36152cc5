"""Fixtures of the users-route tests: the users schema as its own role sees it, and a small cast."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import role_dsn
from tests.support.people import admin, signup
from tests.support.users import Desk


@pytest.fixture(scope="session")
async def users_db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """Read access to the users schema, logged in as the users actor's own role."""
    pool = await asyncpg.create_pool(
        role_dsn(settings, "users"), min_size=1, max_size=2, server_settings={"search_path": "users"}
    )
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def desk(client: httpx.AsyncClient, settings: Settings) -> Desk:
    """A fresh admin and pending agent: all most input tests need, at a third of a full cast's cost."""
    return Desk(admin=await admin(client, settings), pending=await signup(client, "agent"))
