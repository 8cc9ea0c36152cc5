"""Hostile bytes straight on NATS: every users.* and loans.* subject answers a clean error, and lives."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from nats.aio.client import Client

from actors.contracts.headers import ERROR_CODE_HEADER
from actors.loans.handlers import actor as loans_actor
from actors.runtime.serving import ServingActor
from actors.users.actor import actor as users_actor
from tests.support.people import Cast

pytestmark = pytest.mark.anyio
# Not users.logout: any body is a valid logout, which would end the session the rest of the test
# uses (tests/security/test_revocation.py covers it).
SUBJECTS = sorted({*users_actor.routes, *loans_actor.routes} - {"users.logout"})
VALID = {
    "users.signup": {
        "email": "a@b.co",
        "password": "p" * 10,
        "first_name": "a",
        "last_name": "b",
        "role": "customer",
    },
    "loans.create": {
        "customer_id": "00000000-0000-0000-0000-000000000001",
        "principal": "20000",
        "months": 12,
    },
}


def hostile_bodies(rng: random.Random, subject: str) -> list[bytes]:
    valid = json.dumps(VALID.get(subject, {"page": 1})).encode()
    bodies = [
        b"",
        b"null",
        b"[]",
        b'"x"',
        b"1e999999",
        b"{" * 5000,
        b"\xff\xfe\x00",
        b'{"a":' * 200,
        b'{"page": 1, "page": "x"}',
        b'{"\\ud800": 1}',
        b"\x00" * 64,
        valid + b"garbage",
    ]
    bodies += [valid[: rng.randrange(1, len(valid))] for _ in range(5)]  # truncated JSON
    bodies += [rng.randbytes(rng.randrange(1, 300)) for _ in range(10)]  # random bytes
    return bodies


async def test_every_subject_answers_hostile_bodies_with_a_clean_error(
    nc: Client, people: Cast, users_worker: ServingActor[Any], loans_worker: ServingActor[Any]
) -> None:
    """No 500, no silence, no crash: each reply is a 4xx micro error with a JSON body (or, for the
    few bodies that happen to be valid requests, such as an empty one on a list, a JSON answer)."""
    rng = random.Random(20261128)
    tokens = {"admin": people.admin.token, "agent": people.agent.token, "customer": people.customer.token}
    routes = {**users_actor.routes, **loans_actor.routes}
    for subject in SUBJECTS:
        roles = routes[subject].roles
        role = "admin" if roles is None or "admin" in roles else sorted(roles)[0]
        headers = {"Authorization": f"Bearer {tokens[role]}"}
        for body in hostile_bodies(rng, subject):
            reply = await nc.request(subject, body, timeout=5, headers=headers)
            status = (reply.headers or {}).get(ERROR_CODE_HEADER)
            answer = json.loads(reply.data)
            if status is None:  # a body that happens to be a valid request (an empty list query)
                assert isinstance(answer, dict), (subject, body[:40])
                continue
            assert status.startswith("4"), (subject, body[:40], status, reply.data[:200])
            assert set(answer) == {"code", "message", "details"}
    # both workers still answer
    for subject in ("users.jwks", "loans.list"):
        reply = await nc.request(
            subject, b"{}", timeout=5, headers={"Authorization": f"Bearer {people.admin.token}"}
        )
        assert (reply.headers or {}).get(ERROR_CODE_HEADER) is None
