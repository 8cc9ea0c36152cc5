"""deploy/nats-server.conf: each component may use only its own subjects and read only its own
replies, and that is enough to run."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import nats
import pytest

from actors.contracts.config import Settings
from tests.security.conftest import PASSWORDS, connect_as, refused
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio

FORBIDDEN_PUBLISH = {
    "edge": ["events.users.user.registered", "events.loans.loan.created", "$JS.API.STREAM.DELETE.EVENTS"],
    "users": ["loans.create", "events.loans.loan.created", "$JS.API.STREAM.DELETE.EVENTS"],
    "loans": ["users.signup", "events.users.agent.approved", "$JS.API.STREAM.DELETE.EVENTS"],
    "servicing": ["users.signup", "loans.create", "$JS.API.STREAM.PURGE.EVENTS"],
    "tools": ["_INBOX_edge.x", "work.events.x"],
}
COMPONENTS = ("edge", "users", "loans", "servicing", "tools")
# Every inbox but one's own (H1): the shared `_INBOX.>` and each other component's prefix.
OTHER_INBOXES = {
    user: [">", "_INBOX.>", "_INBOX.*", *(f"_INBOX_{other}.>" for other in COMPONENTS if other != user)]
    for user in COMPONENTS
}
FORBIDDEN_SUBSCRIBE = {
    "edge": ["users.*", "loans.*", "events.>", *OTHER_INBOXES["edge"]],
    "users": ["loans.*", "events.>", *OTHER_INBOXES["users"]],
    "loans": ["users.*", "events.>", *OTHER_INBOXES["loans"]],
    "servicing": ["users.*", "loans.*", "events.>", *OTHER_INBOXES["servicing"]],
    "tools": ["users.*", "$SRV.>", *OTHER_INBOXES["tools"]],
}


@pytest.mark.parametrize("user", sorted(FORBIDDEN_PUBLISH))
async def test_each_forbidden_publish_and_subscribe_is_refused(secured_nats: str, user: str) -> None:
    """Among them `_INBOX.>` and the other components' inbox prefixes: no one reads another's replies."""
    errors: list[str] = []
    nc = await connect_as(secured_nats, user, errors)
    try:
        for subject in FORBIDDEN_PUBLISH[user]:
            errors.clear()
            await nc.publish(subject, b"{}")
            await nc.flush()
            await eventually(partial(refused, subject, errors), timeout=5, what=f"{user} published {subject}")
        for subject in FORBIDDEN_SUBSCRIBE[user]:
            errors.clear()
            await nc.subscribe(subject)
            await nc.flush()
            await eventually(
                partial(refused, subject, errors), timeout=5, what=f"{user} subscribed to {subject}"
            )
    finally:
        await nc.close()


@pytest.mark.parametrize("user", ["users", "loans", "servicing", "tools"])
async def test_replies_come_to_the_components_own_inbox_prefix_only(secured_nats: str, user: str) -> None:
    """JetStream's API answers on `_INBOX_<user>`; with nats-py's shared `_INBOX` nothing can."""
    errors: list[str] = []
    own = await connect_as(secured_nats, user, errors)
    try:
        assert (await own.jetstream().account_info()).streams >= 0
    finally:
        await own.close()
    shared = await nats.connect(
        secured_nats, user=user, password=PASSWORDS[user], error_cb=partial(_append, errors)
    )
    try:
        with pytest.raises(nats.errors.TimeoutError):  # the reply's subscription was refused
            await shared.jetstream(timeout=1).account_info()
        await eventually(partial(_refused_like, "_inbox.", errors), timeout=5, what="_INBOX.* allowed")
    finally:
        await shared.close()


async def _append(errors: list[str], exc: Exception) -> None:
    errors.append(str(exc).lower())


def _refused_like(start: str, errors: list[str]) -> bool:
    return any("permissions violation" in e and f'"{start}' in e for e in errors)


async def test_a_wrong_password_is_refused(secured_nats: str) -> None:
    """A component's user name with another password does not log in."""
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(
            secured_nats, user="edge", password="wrong", allow_reconnect=False, max_reconnect_attempts=0
        )


async def test_the_whole_flow_runs_with_each_component_confined(secured_system: httpx.AsyncClient) -> None:
    """Signup, approval, a loan, its decision, a repayment, and the events between the actors, all
    permitted."""
    from actors.contracts.users import CreateAdmin
    from actors.users.bootstrap import create_admin

    client = secured_system
    settings: Settings = client.settings  # type: ignore[attr-defined]
    admin_email = new_email("admin")
    await create_admin(
        settings, CreateAdmin(email=admin_email, password=PASSWORD, first_name="A", last_name="D")
    )

    async def login(email: str) -> dict[str, str]:
        r = await client.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['data']['access_token']}"}

    def signup_body(role: str) -> dict[str, Any]:
        return {
            "email": new_email(role),
            "password": PASSWORD,
            "first_name": "F",
            "last_name": "L",
            "role": role,
        }

    admin = await login(admin_email)
    customer = (await client.post("/api/user/signup", json=signup_body("customer"))).json()["data"]
    agent_body = signup_body("agent")
    agent = (await client.post("/api/user/signup", json=agent_body)).json()["data"]
    approved = await client.put(
        f"/api/user/approve-delete/{agent['user']['id']}", json={"is_approved": True}, headers=admin
    )
    assert approved.status_code == 200
    agent_headers = await login(agent_body["email"])
    loan = await client.post(
        "/api/loan/customer-loan",
        headers=agent_headers,
        json={"customer_id": customer["user"]["id"], "principal": 30000, "months": 12},
    )
    assert loan.status_code == 201, loan.text
    decided = await client.put(
        f"/api/loan/approve-reject-loan/{loan.json()['data']['id']}",
        headers=admin,
        json={"status": "APPROVED"},
    )
    assert decided.status_code == 200

    customer_headers = {"Authorization": f"Bearer {customer['access_token']}"}

    async def both_events_applied() -> bool:
        profile = await client.get("/api/user/profile", headers=customer_headers)
        return len(profile.json()["data"]["activity"]) == 2

    # the loan events reach the users actor through JetStream under its own user
    await eventually(
        both_events_applied, timeout=10, interval=0.1, what="loan events did not reach the users actor"
    )
    # servicing opens the account (from the event, or asking loans.get), takes a repayment and its
    # event reaches the users actor: every hop under the component's own user
    loan_id = loan.json()["data"]["id"]
    repaid = await client.post(
        f"/api/loan/{loan_id}/repayments", headers=agent_headers, json={"amount": "100.00"}
    )
    assert repaid.status_code == 201, repaid.text

    async def repayment_applied() -> bool:
        profile = await client.get("/api/user/profile", headers=customer_headers)
        return any(a["type"] == "repayment.received" for a in profile.json()["data"]["activity"])

    await eventually(
        repayment_applied, timeout=10, interval=0.1, what="servicing's event did not reach the users actor"
    )
    ready = await client.get("/ready")
    assert ready.status_code == 200
