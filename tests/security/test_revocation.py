"""A stolen token stops working everywhere (the edge, and a direct NATS request to each worker)
within 2 s of a logout, a password change or its admin's disabling; the last admin stays (issue 12 M6)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client

from actors.bus.client import exchange
from actors.bus.users_keys import users_keys_verifier
from actors.contracts.config import Settings
from actors.contracts.errors import Unauthenticated
from actors.contracts.users import CreateAdmin
from actors.runtime.serving import ServingActor
from actors.users.bootstrap import create_admin
from tests.support.isolated import isolated_system
from tests.support.people import PASSWORD, Person, admin, bearer, login, new_email, signup
from tests.support.polling import eventually
from tests.support.users import assert_error, data, login_status

pytestmark = pytest.mark.anyio

WITHIN = 2.0  # seconds: design.md §16, issue 12 M6
# What each kind of caller may ask, through the edge and straight at a worker: (path, subject).
EDGE_ROUTES = {
    "customer": ["/api/user/profile", "/api/loan/list-loans-customer", "/api/servicing/business-date"],
    "admin": ["/api/user/profile", "/api/loan/list-loans-admin-agent", "/api/servicing/business-date"],
}
WORKER_SUBJECTS = {
    "customer": ["users.profile", "loans.list_mine", "servicing.business_date"],
    "admin": ["users.profile", "loans.list", "servicing.business_date"],
}


@pytest.fixture
async def system(
    users_worker: ServingActor[Any], loans_worker: ServingActor[Any], servicing_worker: ServingActor[Any]
) -> None:
    """Every worker up (the edge's `client` fixture needs them too)."""


async def _answers(client: httpx.AsyncClient, nc: Client, role: str, token: str) -> dict[str, int | str]:
    """What the edge (HTTP status) and each worker (its reply outcome) answer this token."""
    seen: dict[str, int | str] = {}
    for path in EDGE_ROUTES[role]:
        seen[path] = (await client.get(path, headers=bearer(token))).status_code
    for subject in WORKER_SUBJECTS[role]:
        outcome, _, _ = await exchange(nc, subject, b"{}", timeout=2.0, token=token)
        seen[subject] = outcome
    return seen


async def _works_everywhere(client: httpx.AsyncClient, nc: Client, role: str, token: str) -> None:
    seen = await _answers(client, nc, role, token)
    assert set(seen.values()) == {200, "ok"}, seen


async def _refused_everywhere_within(
    client: httpx.AsyncClient, nc: Client, role: str, token: str, since: float
) -> float:
    """Seconds from `since` until the edge and every worker answer 401 to `token` (fails past 2 s)."""

    async def refused() -> bool:
        seen = await _answers(client, nc, role, token)
        assert set(seen.values()) == {401, "401"}, seen
        return True

    await eventually(
        refused, timeout=WITHIN - (time.monotonic() - since), interval=0.05, what="still accepted"
    )
    return time.monotonic() - since


async def test_logout_refuses_the_token_everywhere_within_2_s(
    system: None, client: httpx.AsyncClient, nc: Client
) -> None:
    """The logged-out token (as a thief holding a copy would send it) is 401 at the edge and at
    the users, loans and servicing workers; another session of the same user keeps working."""
    person = await signup(client, "customer")
    assert person.token is not None
    other_session = await login(client, person.email)
    await _works_everywhere(client, nc, "customer", person.token)
    started = time.monotonic()
    logged_out = data(await client.post("/api/user/logout", headers=person.headers))
    took = await _refused_everywhere_within(client, nc, "customer", person.token, started)
    print(f"logout refused everywhere after {took:.3f} s")
    assert logged_out["expires_at"]
    await _works_everywhere(client, nc, "customer", other_session)
    # logging out again with it is 401 too: it is no longer a token
    assert (await client.post("/api/user/logout", headers=person.headers)).status_code == 401


async def test_a_verifier_started_after_the_logout_refuses_the_token(
    system: None, client: httpx.AsyncClient, nc: Client, settings: Settings
) -> None:
    """A component that was not listening catches up from `users.revocations` when it starts."""
    person = await signup(client, "customer")
    assert person.token is not None
    data(await client.post("/api/user/logout", headers=person.headers))
    verifier = await users_keys_verifier(nc, settings)
    try:
        with pytest.raises(Unauthenticated, match="revoked"):
            await verifier.verify(person.token)
        assert (await verifier.verify(await login(client, person.email))).id is not None
    finally:
        await verifier.close()


async def test_change_password_refuses_every_older_token_within_2_s(
    system: None, client: httpx.AsyncClient, nc: Client
) -> None:
    """Both earlier sessions are refused everywhere; the reply's token and the new password work."""
    person = await signup(client, "customer")
    assert person.token is not None
    second = await login(client, person.email)
    new_password = "battery-staple-7"
    wrong = {"current_password": "not-the-password", "new_password": new_password}
    assert_error(
        await client.post("/api/user/change-password", json=wrong, headers=bearer(second)),
        403,
        "wrong_password",
    )
    short = {"current_password": PASSWORD, "new_password": "short"}
    assert_error(
        await client.post("/api/user/change-password", json=short, headers=bearer(second)),
        400,
        "validation_error",
        "new_password",
    )
    started = time.monotonic()
    body = {"current_password": PASSWORD, "new_password": new_password}
    changed = data(await client.post("/api/user/change-password", json=body, headers=bearer(second)))
    for stolen in (person.token, second):
        await _refused_everywhere_within(client, nc, "customer", stolen, started)
    await _works_everywhere(client, nc, "customer", changed["access_token"])
    assert await login_status(client, person.email, PASSWORD) == 401
    await _works_everywhere(client, nc, "customer", await login(client, person.email, new_password))


async def test_a_disabled_admin_is_refused_everywhere_within_2_s_and_cannot_log_in(
    system: None, client: httpx.AsyncClient, nc: Client, settings: Settings
) -> None:
    """Another admin disables them: their token is 401 at the edge and every worker, their login
    is 401; enabled again, they log in, and the token from before stays refused."""
    boss = await admin(client, settings)
    victim = await admin(client, settings)
    assert victim.token is not None
    await _works_everywhere(client, nc, "admin", victim.token)
    path = f"/api/user/admins/{victim.id}/status"
    started = time.monotonic()
    status = data(await client.put(path, json={"disabled": True}, headers=boss.headers))
    assert status["disabled"] is True and status["user"]["id"] == victim.id, status
    await _refused_everywhere_within(client, nc, "admin", victim.token, started)
    assert await login_status(client, victim.email) == 401
    # the same again changes nothing; a customer may not; a customer is not an admin
    assert data(await client.put(path, json={"disabled": True}, headers=boss.headers))["disabled"] is True
    customer = await signup(client, "customer")
    assert (await client.put(path, json={"disabled": False}, headers=customer.headers)).status_code == 403
    not_admin = f"/api/user/admins/{customer.id}/status"
    assert_error(
        await client.put(not_admin, json={"disabled": True}, headers=boss.headers), 400, "validation_error"
    )
    enabled = data(await client.put(path, json={"disabled": False}, headers=boss.headers))
    assert enabled["disabled"] is False and enabled["disabled_at"] is None
    await _works_everywhere(client, nc, "admin", await login(client, victim.email))
    assert (await client.get("/api/user/profile", headers=victim.headers)).status_code == 401


async def test_the_last_active_admin_cannot_be_disabled(server_urls: tuple[str, str], tmp_path: Path) -> None:
    """A system with two admins: they disable each other at once, one wins and the other is refused
    (409 last_admin, or 401 if its token was already revoked); the one left cannot disable itself."""
    async with isolated_system(server_urls, tmp_path) as iso:
        people: list[Person] = []
        for name in ("Ada", "Bea"):
            email = new_email("admin")
            req = CreateAdmin(email=email, password=PASSWORD, first_name=name, last_name="Min")
            user = await create_admin(iso.settings, req)
            people.append(Person(str(user.id), email, "admin", await login(iso.client, email)))
        a, b = people
        answers = await asyncio.gather(
            iso.client.put(f"/api/user/admins/{b.id}/status", json={"disabled": True}, headers=a.headers),
            iso.client.put(f"/api/user/admins/{a.id}/status", json={"disabled": True}, headers=b.headers),
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses[0] == 200 and statuses[1] in (401, 409), [r.text for r in answers]
        survivor = a if answers[0].status_code == 200 else b
        refused = await iso.client.put(
            f"/api/user/admins/{survivor.id}/status", json={"disabled": True}, headers=survivor.headers
        )
        assert_error(refused, 409, "last_admin")
        assert (await iso.client.get("/api/user/profile", headers=survivor.headers)).status_code == 200


async def test_under_the_deploy_permissions_a_logout_reaches_every_component(
    secured_nats: str, secured_system: httpx.AsyncClient
) -> None:
    """Each component logged in as its own NATS user (deploy/nats-authorization.conf): the
    announcement is allowed to the users actor and heard by the edge, loans and servicing (no
    catch-up could land within 2 s); the edge and tools may not announce a revocation."""
    from actors.contracts.sessions import REVOCATIONS_CHANGED
    from tests.security.conftest import connect_as, refused

    client = secured_system
    person = await signup(client, "customer")
    assert person.token is not None
    errors: list[str] = []
    tools = await connect_as(secured_nats, "tools", errors)  # what `loans request` logs in as
    try:
        await _works_everywhere(client, tools, "customer", person.token)
        started = time.monotonic()
        data(await client.post("/api/user/logout", headers=person.headers))
        await _refused_everywhere_within(client, tools, "customer", person.token, started)
        for user in ("edge", "tools", "loans"):
            errors.clear()
            forger = await connect_as(secured_nats, user, errors)
            try:
                await forger.publish(REVOCATIONS_CHANGED, b"{}")
                await forger.flush()
                await eventually(
                    lambda: refused(REVOCATIONS_CHANGED, errors), timeout=5, what=f"{user} announced"
                )
            finally:
                await forger.close()
    finally:
        await tools.close()
