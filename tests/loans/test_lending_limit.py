"""The loans actor holds each agent to their lending limit: a create or an edit over it is 403
`over_agent_limit` naming the limit, exactly the limit is allowed, a change is enforced within
2 s of the admin's answer (the event path), and an agent it has not heard of is asked of users."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from actors.contracts.users import UserChanged
from actors.loans.handlers import track_parties
from actors.runtime.db import role_dsn
from actors.runtime.serving import ServingActor
from tests.support.batches import apply_as_one_batch, envelope
from tests.support.limits import limited_agent, set_limit
from tests.support.loans import LOANS, LoansTable, assert_error, create, edit
from tests.support.people import Cast, Person
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

WITHIN = 2.0  # api.md: agent changes take effect on loan routes within 2 seconds


async def _request(
    client: httpx.AsyncClient, agent: Person, customer: Person, principal: str
) -> httpx.Response:
    body = {"customer_id": customer.id, "principal": principal, "months": 12}
    return await client.post(f"{LOANS}/customer-loan", json=body, headers=agent.headers)


def _over_limit(response: httpx.Response, limit: str) -> None:
    """403 over_agent_limit with the limit, as a money string, in details."""
    assert_error(response, 403, "over_agent_limit")
    assert response.json()["error"]["details"] == {"lending_limit": limit}, response.text


async def _limit_in_read_model(settings: Settings, agent: Person) -> Any:
    con = await asyncpg.connect(role_dsn(settings, "loans"))
    try:
        return await con.fetchval(
            "SELECT lending_limit FROM loans.parties WHERE id = $1", uuid.UUID(agent.id)
        )
    finally:
        await con.close()


async def test_a_create_over_the_limit_is_refused_and_exactly_the_limit_allowed(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable
) -> None:
    """A cent over 50,000.00 is 403 naming the limit and writes no loan; 50,000.00 itself and less
    are made; another agent without a limit is not held to it."""
    agent = await limited_agent(client, crew.admin, "50000.00")
    _over_limit(await _request(client, agent, crew.customer, "50000.01"), "50000.00")
    _over_limit(await _request(client, agent, crew.customer, "2500000"), "50000.00")
    assert await table.loans_of(agent) == 0
    assert (await create(client, agent, crew.customer, "50000.00"))["principal"] == "50000.00"
    assert (await create(client, agent, crew.customer, "10000.00"))["principal"] == "10000.00"
    assert await table.loans_of(agent) == 2
    assert (await create(client, crew.other_agent, crew.customer, "50000.01"))["principal"] == "50000.01"


async def test_the_principal_range_is_checked_before_the_limit(client: httpx.AsyncClient, crew: Cast) -> None:
    """A principal no loan may have is 400 whatever the limit: the limit does not hide a bad request."""
    agent = await limited_agent(client, crew.admin, "50000.00")
    assert_error(await _request(client, agent, crew.customer, "100000000.01"), 400, "validation_error")
    assert_error(await _request(client, agent, crew.customer, "60000.001"), 400, "validation_error")


async def test_an_edit_over_the_limit_is_refused_and_exactly_the_limit_allowed(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable
) -> None:
    """Raising a loan's principal a cent past the limit is 403 and leaves the loan as it was;
    raising it to the limit is accepted."""
    agent = await limited_agent(client, crew.admin, "50000.00")
    loan = await create(client, agent, crew.customer, "40000.00", 24)
    _over_limit(await edit(client, agent, loan["id"], principal="50000.01"), "50000.00")
    _over_limit(await edit(client, agent, loan["id"], principal="50000.01", months=12), "50000.00")
    assert await table.version(loan["id"]) == 1
    edited = (await edit(client, agent, loan["id"], principal="50000.00")).json()["data"]
    assert (edited["principal"], edited["months"], edited["version"]) == ("50000.00", 24, 2)


async def test_an_edit_keeping_a_principal_now_over_a_lowered_limit_is_refused(
    client: httpx.AsyncClient, crew: Cast, settings: Settings
) -> None:
    """The edited loan is requested anew: once the limit is lowered under its principal, even a
    change of months alone is 403, until the principal comes within the limit."""
    agent = await limited_agent(client, crew.admin, "50000.00")
    loan = await create(client, agent, crew.customer, "45000.00", 24)
    assert (await set_limit(client, crew.admin, agent.id, "40000.00")).status_code == 200
    await eventually(
        lambda: _limit_landed(settings, agent, Decimal("40000.00")), timeout=WITHIN, what="limit not applied"
    )
    _over_limit(await edit(client, agent, loan["id"], months=36), "40000.00")
    assert (await edit(client, agent, loan["id"], principal="40000.00", months=36)).status_code == 200


async def _limit_landed(settings: Settings, agent: Person, limit: Decimal | None) -> bool:
    assert await _limit_in_read_model(settings, agent) == limit
    return True


async def test_a_raised_lowered_or_removed_limit_is_enforced_within_2_s(
    client: httpx.AsyncClient, crew: Cast
) -> None:
    """From the admin's answer on, each change holds on loan routes within 2 s: raised (a loan at
    the new limit is made), lowered (a cent over it refused at create and at edit), removed (the
    largest loan allowed is made)."""
    agent = await limited_agent(client, crew.admin, "20000.00")
    _over_limit(await _request(client, agent, crew.customer, "30000.00"), "20000.00")
    loan = await create(client, agent, crew.customer, "15000.00")

    async def change(limit: str | None) -> float:
        response = await set_limit(client, crew.admin, agent.id, limit)
        assert response.status_code == 200, response.text
        return time.monotonic()

    async def created(principal: str) -> bool:
        response = await _request(client, agent, crew.customer, principal)
        assert response.status_code == 201, response.text  # not yet: still the old limit
        return True

    async def refused(principal: str, limit: str) -> bool:
        response = await _request(client, agent, crew.customer, principal)
        _over_limit(response, limit)
        return True

    since = await change("30000.00")
    await eventually(lambda: created("30000.00"), timeout=WITHIN, what="the raised limit did not apply")
    assert time.monotonic() - since < WITHIN

    since = await change("15000.00")
    await eventually(
        lambda: refused("15000.01", "15000.00"), timeout=WITHIN, what="the lowered limit did not apply"
    )
    assert time.monotonic() - since < WITHIN
    _over_limit(await edit(client, agent, loan["id"], principal="15000.01"), "15000.00")
    assert (await edit(client, agent, loan["id"], principal="15000.00")).status_code == 200

    since = await change(None)
    await eventually(lambda: created("100000000.00"), timeout=WITHIN, what="the removed limit still applied")
    assert time.monotonic() - since < WITHIN


async def test_an_agent_not_in_the_read_model_is_held_to_the_limit_users_gives(
    client: httpx.AsyncClient, crew: Cast, settings: Settings, loans_worker: ServingActor[Any]
) -> None:
    """With the agent's row gone from the read model (not heard of yet), a create asks users.get:
    over the limit it is refused all the same, and the row comes back carrying the limit."""
    agent = await limited_agent(client, crew.admin, "50000.00")
    await eventually(
        lambda: _limit_landed(settings, agent, Decimal("50000.00")),
        timeout=WITHIN,
        what="approval not applied",
    )
    await loans_worker.pool.execute("DELETE FROM parties WHERE id = $1", uuid.UUID(agent.id))
    _over_limit(await _request(client, agent, crew.customer, "50000.01"), "50000.00")
    assert await _limit_in_read_model(settings, agent) == Decimal("50000.00")


def _agent_event(agent: uuid.UUID, version: int, limit: str | None) -> Any:
    data = UserChanged(
        id=agent,
        email=f"{agent.hex[:8]}@example.com",
        first_name="Ada",
        last_name="Lee",
        role="agent",
        status="active",
        lending_limit=None if limit is None else Decimal(limit),
    )
    return envelope("users.agent.limit_changed", agent, version, data)


async def test_the_read_model_keeps_the_newest_limit_an_event_carries(
    loans_worker: ServingActor[Any],
) -> None:
    """limit_changed events, out of order in one batch, leave the newest version's limit; an older
    event redelivered alone changes nothing; a newer one removing the limit leaves none."""
    agent = uuid.uuid4()
    read = "SELECT lending_limit FROM parties WHERE id = $1"
    batch = [
        _agent_event(agent, 1, "10000.00"),
        _agent_event(agent, 3, "30000.00"),
        _agent_event(agent, 2, "20000.00"),
    ]
    await apply_as_one_batch(loans_worker, track_parties, batch)
    assert await loans_worker.pool.fetchval(read, agent) == Decimal("30000.00")
    await apply_as_one_batch(loans_worker, track_parties, [_agent_event(agent, 2, "20000.00")])
    assert await loans_worker.pool.fetchval(read, agent) == Decimal("30000.00")
    await apply_as_one_batch(loans_worker, track_parties, [_agent_event(agent, 4, None)])
    assert await loans_worker.pool.fetchval(read, agent) is None
