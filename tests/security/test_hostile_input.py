"""Hostile bodies: JSON nested 1,000 deep is a 400 (edge and actors), and an error never echoes so
much of the input that its reply outgrows NATS' max payload."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from nats.aio.client import Client

from actors.bus.client import exchange
from tests.support.people import Cast
from tests.support.users import assert_error

pytestmark = pytest.mark.anyio

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB


def _deep_object(field: str) -> bytes:
    return b'{"' + field.encode() + b'": ' + DEEP + b"}"


@pytest.mark.parametrize("body", [DEEP, _deep_object("email"), _deep_object("unknown")])
async def test_deep_json_to_an_actor_through_the_edge_is_400(client: httpx.AsyncClient, body: bytes) -> None:
    """A signup body nested 1,000 deep (forwarded as sent) is the actor's 400, not a 500."""
    response = await client.post(
        "/api/user/signup", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


async def test_deep_json_the_edge_merges_path_ids_into_is_400(
    client: httpx.AsyncClient, people: Cast
) -> None:
    """A body the edge decodes itself (to add the path's loan id) nested 1,000 deep: 400."""
    response = await client.post(
        f"/api/loan/{uuid.uuid4()}/repayments",
        content=_deep_object("amount"),
        headers={**people.admin.headers, "Content-Type": "application/json"},
    )
    assert_error(response, 400, "validation_error")


async def test_deep_json_with_a_nul_escape_is_400(client: httpx.AsyncClient) -> None:
    """A body the edge parses for NUL characters, nested 1,000 deep: 400."""
    body = b'{"email": "\\u0000", "x": ' + DEEP + b"}"
    response = await client.post(
        "/api/user/signup", content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


async def test_deep_login_body_is_not_a_500(client: httpx.AsyncClient) -> None:
    """A login body nested 1,000 deep (the edge reads its email for the failure limiter): 400."""
    response = await client.post(
        "/api/user/login", content=_deep_object("password"), headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


async def test_deep_json_over_nats_is_400(nc: Client, people: Cast) -> None:
    """Straight to an actor over NATS, a body nested 1,000 deep is answered 400."""
    outcome, _, data = await exchange(
        nc, "loans.quote", _deep_object("principal"), timeout=10.0, token=people.customer.token
    )
    assert outcome == "400", (outcome, data[:200])
    assert json.loads(data)["code"] == "validation_error"


async def test_huge_principal_error_fits_in_a_reply(nc: Client, people: Cast) -> None:
    """A 450 KB principal is refused with a short 400 (today its echo outgrows the max payload)."""
    principal = "1" + "0" * 450_000
    body = ('{"principal": ' + principal + ', "months": 12}').encode()
    outcome, _, data = await exchange(nc, "loans.quote", body, timeout=10.0, token=people.customer.token)
    assert outcome == "400", (outcome, data[:200])
    assert len(data) < 4_000, len(data)
    assert json.loads(data)["message"].startswith("principal must be between")
