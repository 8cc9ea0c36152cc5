"""deploy/nats-server.conf: each component may use only its own subjects, and that is enough to run."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import msgspec
import nats
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings, load_settings
from actors.runtime.migrate import migrate
from actors.runtime.worker import start_actor
from ops.embedded import EmbeddedNats, free_port
from ops.registry import ACTORS, deployable
from tests.support.databases import create_database, drop_database, with_database
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually, eventually_sync

pytestmark = pytest.mark.anyio
CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats-server.conf"
AUTHORIZATION = CONF.with_name("nats-authorization.conf")
PASSWORDS = {name: uuid.uuid4().hex for name in ("edge", "users", "loans", "servicing", "tools")}


@pytest.fixture(scope="module")
def secured_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nats-server started with the deploy config, on a free port and a throwaway store."""
    port = free_port()
    store = tmp_path_factory.mktemp("secured-nats")
    conf = store / "nats-server.conf"  # the deploy file, with a throwaway store (-sd can't override it)
    conf.write_text(
        CONF.read_text().replace('store_dir: "/var/lib/loan-actors/nats"', f'store_dir: "{store}"')
    )
    (store / AUTHORIZATION.name).write_text(AUTHORIZATION.read_text())  # included beside it
    env = {**os.environ, **{f"LOANS_NATS_{k.upper()}_PASSWORD": v for k, v in PASSWORDS.items()}}
    process = subprocess.Popen(
        [EmbeddedNats.binary(), "-c", str(conf), "-a", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True

        eventually_sync(
            listening,
            timeout=10,
            what="nats-server with the deploy config did not start",
            ignoring=(OSError,),
        )
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def connect_as(url: str, user: str, errors: list[str]) -> Client:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    return await nats.connect(
        url, user=user, password=PASSWORDS[user], error_cb=on_error, allow_reconnect=False
    )


FORBIDDEN_PUBLISH = {
    "edge": ["events.users.user.registered", "events.loans.loan.created", "$JS.API.STREAM.DELETE.EVENTS"],
    "users": ["loans.create", "events.loans.loan.created", "$JS.API.STREAM.DELETE.EVENTS"],
    "loans": ["users.signup", "events.users.agent.approved", "$JS.API.STREAM.DELETE.EVENTS"],
}
FORBIDDEN_SUBSCRIBE = {
    "edge": ["users.*", "loans.*", "events.>"],
    "users": ["loans.*", "events.>"],
    "loans": ["users.*", "events.>"],
}


def refused(subject: str, errors: list[str]) -> bool:
    """The server has reported a permissions violation on `subject`."""
    return any("permissions violation" in e and subject.lower() in e for e in errors)


@pytest.mark.parametrize("user", sorted(FORBIDDEN_PUBLISH))
async def test_each_forbidden_publish_and_subscribe_is_refused(secured_nats: str, user: str) -> None:
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


async def test_a_wrong_password_is_refused(secured_nats: str) -> None:
    with pytest.raises(Exception, match=r"(?i)authorization"):
        await nats.connect(
            secured_nats, user="edge", password="wrong", allow_reconnect=False, max_reconnect_attempts=0
        )


@pytest.fixture
async def secured_system(
    secured_nats: str, server_urls: tuple[str, str], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """Users and loans workers and the edge, each logged in to NATS as itself, on a fresh database."""
    from edge.app import create_app

    run = uuid.uuid4().hex[:8]
    admin_url = server_urls[1]
    base = load_settings(
        {},
        nats_url=secured_nats,
        database_url=with_database(admin_url, f"loans_sec_{run}"),
        db_role_prefix=f"ls{run}_",
        data_dir=str(tmp_path),
        bcrypt_cost=4,
    )

    def as_user(name: str) -> Settings:
        return msgspec.structs.replace(base, nats_user=name, nats_password=PASSWORDS[name])

    await create_database(admin_url, f"loans_sec_{run}")
    try:
        await migrate(base)
        async with AsyncExitStack() as stack:
            await start_actor(deployable("users"), as_user("users"), stack)
            await start_actor(deployable("loans"), as_user("loans"), stack)
            await start_actor(deployable("servicing"), as_user("servicing"), stack)
            app = create_app(as_user("edge"))
            transport = httpx.ASGITransport(app=app)
            await stack.enter_async_context(app.lifespan())
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://edge")
            )
            client.settings = base  # type: ignore[attr-defined]
            yield client
    finally:
        await drop_database(admin_url, f"loans_sec_{run}", [base.role_for(a) for a in ACTORS])


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
