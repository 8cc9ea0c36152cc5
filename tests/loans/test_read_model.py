"""The loans actor's read model of parties, fed by user events a fetched batch at a time."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from actors.contracts.envelope import Envelope
from actors.contracts.users import Role, Status, UserChanged
from actors.loans.handlers import track_parties
from actors.runtime.serving import ServingActor
from tests.support.batches import apply_as_one_batch, envelope

pytestmark = pytest.mark.anyio


def _user_event(user_id: uuid.UUID, version: int, role: Role, status: Status) -> Envelope:
    email = f"{user_id.hex[:8]}-v{version}@example.com"
    data = UserChanged(
        id=user_id, email=email, first_name="Ada", last_name="Lovelace", role=role, status=status
    )
    return envelope("users.agent.approved", user_id, version, data)


async def _party(worker: ServingActor[Any], user_id: uuid.UUID) -> tuple[str, str, int]:
    row = await worker.pool.fetchrow("SELECT status, email, version FROM parties WHERE id = $1", user_id)
    assert row is not None
    return row["status"], row["email"], row["version"]


async def test_a_batch_leaves_each_party_at_its_newest_version_one_statement_a_round(
    loans_worker: ServingActor[Any],
) -> None:
    """Two users, one of them changed three times in the batch, its versions out of order: one
    INSERT a round (three: one per version of that party, oldest first, so that a refused forged
    version cannot hide a real one; tests/security/test_event_versions.py), and each party ends
    as its newest event says."""
    agent, customer = uuid.uuid4(), uuid.uuid4()
    batch = [
        _user_event(agent, 1, "agent", "pending"),
        _user_event(customer, 1, "customer", "active"),
        _user_event(agent, 3, "agent", "active"),
        _user_event(agent, 2, "agent", "rejected"),  # older than 3, though later in the batch
    ]
    assert len(await apply_as_one_batch(loans_worker, track_parties, batch)) == 3
    assert await _party(loans_worker, agent) == ("active", f"{agent.hex[:8]}-v3@example.com", 3)
    assert await _party(loans_worker, customer) == ("active", f"{customer.hex[:8]}-v1@example.com", 1)

    # a redelivered older event, alone (as when a batch is retried one event at a time): no change
    await apply_as_one_batch(loans_worker, track_parties, [_user_event(agent, 2, "agent", "rejected")])
    assert await _party(loans_worker, agent) == ("active", f"{agent.hex[:8]}-v3@example.com", 3)
    await apply_as_one_batch(loans_worker, track_parties, [_user_event(agent, 4, "agent", "rejected")])
    assert await _party(loans_worker, agent) == ("rejected", f"{agent.hex[:8]}-v4@example.com", 4)
