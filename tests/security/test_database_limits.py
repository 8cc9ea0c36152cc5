"""Postgres limits: every actor role has a statement_timeout (its default and its pools'), and a list
page is at most 10,000 rows deep (page ≤ 100 of ≤ 100 rows); deeper is 400."""

from __future__ import annotations

import asyncpg
import httpx
import msgspec
import pytest

from actors.contracts.config import Settings
from actors.runtime.db import create_pool, role_dsn
from ops.registry import ACTORS
from tests.support.people import Cast
from tests.support.users import assert_error, data_page

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("actor", ACTORS)
async def test_each_role_logs_in_with_a_statement_timeout(settings: Settings, actor: str) -> None:
    """A plain login as the actor's role (psql, a tool) gets the configured timeout by default."""
    con = await asyncpg.connect(role_dsn(settings, actor))
    try:
        shown = await con.fetchval("SHOW statement_timeout")
    finally:
        await con.close()
    assert shown == f"{int(settings.db_statement_timeout)}s", shown


async def test_a_pool_statement_past_its_timeout_is_cancelled(settings: Settings) -> None:
    """With a 0.2 s timeout, pg_sleep(2) is cancelled by Postgres instead of holding the connection."""
    pool = await create_pool(msgspec.structs.replace(settings, db_statement_timeout=0.2), "loans")
    try:
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.execute("SELECT pg_sleep(2)")
    finally:
        await pool.close()


@pytest.mark.parametrize(
    "path",
    ["/api/loan/list-loans-admin-agent", "/api/user/list-users", "/api/user/list-approvals"],
)
async def test_a_page_deeper_than_10000_rows_is_400(
    client: httpx.AsyncClient, people: Cast, path: str
) -> None:
    """page 101 (of 100 rows: 10,001 rows deep) and page 5,000 of 20 are refused naming `page`."""
    for params in ({"page": "101", "page_size": "100"}, {"page": "5000", "page_size": "20"}):
        response = await client.get(path, params=params, headers=people.admin.headers)
        assert_error(response, 400, "validation_error", field="page")


async def test_the_deepest_allowed_page_answers(client: httpx.AsyncClient, people: Cast) -> None:
    """page 100 of 100 rows (rows 9,901..10,000) is still a page (empty here)."""
    response = await client.get(
        "/api/user/list-users", params={"page": "100", "page_size": "100"}, headers=people.admin.headers
    )
    body = data_page(response)
    assert (body["page"], body["page_size"]) == (100, 100)
