"""The users path end to end through the edge: signup → login → profile, as api.md shows it."""

from __future__ import annotations

import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.people import PASSWORD, bearer, new_email

pytestmark = pytest.mark.anyio


async def test_signup_login_profile(client: httpx.AsyncClient) -> None:
    email = new_email()
    body = {
        "email": email,
        "password": PASSWORD,
        "first_name": "Zoë",
        "last_name": "O'Brien",
        "role": "customer",
    }
    signed = await client.post("/api/user/signup", json=body)
    assert signed.status_code == 201
    data = signed.json()
    assert data["success"] is True and data["data"]["token_type"] == "bearer"
    assert data["data"]["user"]["status"] == "active" and "password" not in signed.text

    logged = await client.post("/api/user/login", json={"email": email.upper(), "password": PASSWORD})
    assert logged.status_code == 200
    token = logged.json()["data"]["access_token"]

    profile = await client.get("/api/user/profile", headers=bearer(token))
    assert profile.status_code == 200
    user = profile.json()["data"]
    assert (user["email"], user["first_name"], user["last_name"]) == (email, "Zoë", "O'Brien")
    assert user["activity"] == []


async def test_loan_flow(client: httpx.AsyncClient, settings: Settings) -> None:
    from tests.support.people import cast

    people = await cast(client, settings)
    created = await client.post(
        "/api/loan/customer-loan",
        json={"customer_id": people.customer.id, "principal": 50000, "months": 12},
        headers=people.agent.headers,
    )
    assert created.status_code == 201, created.text
    loan = created.json()["data"]
    assert (loan["interest"], loan["emi"], loan["status"]) == ("8.45", "4359.83", "NEW")
    mine = await client.get("/api/loan/list-loans-customer", headers=people.customer.headers)
    assert mine.status_code == 200 and mine.json()["count"] == 1
    decided = await client.put(
        f"/api/loan/approve-reject-loan/{loan['id']}",
        json={"status": "APPROVED"},
        headers=people.admin.headers,
    )
    assert decided.status_code == 200 and decided.json()["data"]["status"] == "APPROVED"
    again = await client.put(
        f"/api/loan/approve-reject-loan/{loan['id']}",
        json={"status": "REJECTED"},
        headers=people.admin.headers,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "loan_already_decided"
