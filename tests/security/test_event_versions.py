"""The read models of users (loans.parties, servicing.agents) trust event versions only so far: one
out of 1..2^31-1 is dropped without stalling the events behind it, and one far past the stored
version is not applied, so it cannot freeze the row against the real changes after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.runtime.db import role_dsn
from tests.support.events import publish
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

TABLES = {"loans": "loans.parties", "servicing": "servicing.agents"}


async def _agent_event(nc: Client, settings: Settings, agent: uuid.UUID, version: int, status: str) -> None:
    data = {
        "id": str(agent),
        "email": f"a-{agent.hex[:8]}@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "role": "agent",
        "status": status,
    }
    event = Envelope(
        id=uuid.uuid4(),
        type="users.agent.approved",
        occurred_at=datetime.now(UTC),
        aggregate_id=agent,
        version=version,
        data=msgspec.Raw(msgspec.json.encode(data)),
    )
    await publish(nc, settings, event)


async def _rows(settings: Settings, actor: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    con = await asyncpg.connect(role_dsn(settings, actor))
    try:
        found = await con.fetch(
            f"SELECT id, status, version FROM {TABLES[actor]} WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await con.close()
    return {r["id"]: (r["status"], r["version"]) for r in found}


# The consumers share the suite's event stream: under a loaded full run a backlog of earlier
# tests' events can sit ahead of these, so "in time" is generous; a frozen row never lands.
@pytest.mark.parametrize("actor", TABLES)
async def test_an_out_of_range_version_is_dropped_and_stalls_nothing(
    nc: Client, settings: Settings, loans_worker: Any, servicing_worker: Any, actor: str
) -> None:
    """Versions 2^31 and 0 are not stored; the real event published after them lands in time."""
    huge, zero, real = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await _agent_event(nc, settings, huge, 2**31, "active")
    await _agent_event(nc, settings, zero, 0, "active")
    await _agent_event(nc, settings, real, 1, "active")

    async def real_landed() -> dict[uuid.UUID, Any]:
        rows = await _rows(settings, actor, [huge, zero, real])
        assert real in rows, rows
        return rows

    rows = await eventually(real_landed, timeout=15, what="the event after a bad version did not land")
    assert rows == {real: ("active", 1)}


@pytest.mark.parametrize("actor", TABLES)
async def test_a_far_future_version_does_not_freeze_the_row(
    nc: Client, settings: Settings, loans_worker: Any, servicing_worker: Any, actor: str
) -> None:
    """v1 active, a forged v1,000,000 'active', then the real v2 'rejected': the rejection holds."""
    agent = uuid.uuid4()
    await _agent_event(nc, settings, agent, 1, "active")

    async def at(version: int) -> bool:
        rows = await _rows(settings, actor, [agent])
        assert rows.get(agent, (None, 0))[1] == version, rows
        return True

    await eventually(lambda: at(1), timeout=15, what="v1 did not land")
    await _agent_event(nc, settings, agent, 1_000_000, "active")
    await _agent_event(nc, settings, agent, 2, "rejected")
    await eventually(lambda: at(2), timeout=15, what="the real v2 did not land after the forged one")
    assert (await _rows(settings, actor, [agent]))[agent] == ("rejected", 2)
