"""The read models of users (loans.parties, servicing.agents) trust event versions only so far: one
out of 1..2^31-1 is dropped without stalling the events behind it, and one far past the stored
version is not applied, so it cannot freeze the row against the real changes after it."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from actors.contracts.envelope import Envelope
from actors.loans.handlers import track_parties
from actors.runtime.db import role_dsn
from actors.servicing.agents import track_agents
from tests.support.batches import apply_as_one_batch, envelope
from tests.support.events import publish
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

TABLES = {"loans": "loans.parties", "servicing": "servicing.agents"}


async def _agent_event(nc: Client, settings: Settings, agent: uuid.UUID, version: int, status: str) -> None:
    await publish(nc, settings, _agent_envelope(agent, version, status))


def _agent_envelope(agent: uuid.UUID, version: int, status: str) -> Envelope:
    data = {
        "id": str(agent),
        "email": f"a-{agent.hex[:8]}@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "role": "agent",
        "status": status,
    }
    return envelope("users.agent.approved", agent, version, data)


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


@pytest.mark.parametrize("forged_first", [True, False], ids=["forged-first", "real-first"])
@pytest.mark.parametrize("actor", TABLES)
async def test_a_forged_version_fetched_in_one_batch_with_the_real_one_does_not_hide_it(
    settings: Settings, loans_worker: Any, servicing_worker: Any, actor: str, forged_first: bool
) -> None:
    """v1 stored, then one batch with a forged v1,000,000 and the real v2 'rejected': v2 is applied
    (the newest of the batch alone was applied before, and that was the forged one, refused)."""
    handlers = {"loans": (loans_worker, track_parties), "servicing": (servicing_worker, track_agents)}
    worker, handler = handlers[actor]
    agent = uuid.uuid4()
    await apply_as_one_batch(worker, handler, [_agent_envelope(agent, 1, "active")])
    forged, real = _agent_envelope(agent, 1_000_000, "active"), _agent_envelope(agent, 2, "rejected")
    await apply_as_one_batch(worker, handler, [forged, real] if forged_first else [real, forged])
    assert (await _rows(settings, actor, [agent]))[agent] == ("rejected", 2)
