"""The login rate limit: failures per (client address, email) are capped; successes never count."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
import pytest
from litestar import Litestar

from actors.contracts.config import Settings
from tests.support.people import PASSWORD, Person, new_email, signup
from tests.support.users import USERS, assert_error

pytestmark = pytest.mark.anyio

LIMIT = 3
ClientAt = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def limited_app(settings: Settings, client: httpx.AsyncClient) -> AsyncIterator[Litestar]:
    """A second edge whose limit is 3 failures a minute, in front of the same workers."""
    from edge.app import create_app

    app = create_app(msgspec.structs.replace(settings, login_attempts_per_minute=LIMIT))
    async with app.lifespan():
        yield app


@pytest.fixture
def client_at(limited_app: Litestar) -> ClientAt:
    """An HTTP client on the limited edge that connects from the given address."""

    def make(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=limited_app, client=(address, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://edge")

    return make


async def attempt(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{USERS}/login", json={"email": email, "password": password})


def assert_limited(response: httpx.Response) -> None:
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_too_many_failures_for_one_email_from_one_address_are_429(client_at: ClientAt) -> None:
    """After 3 failures even the right password gets 429 with Retry-After, whatever the email's case."""
    async with client_at("10.0.0.1") as edge:
        user = await signup(edge)
        for _ in range(LIMIT):
            assert_error(await attempt(edge, user.email, "wrong-password"), 401, "unauthenticated")
        assert_limited(await attempt(edge, user.email, "wrong-password"))
        assert_limited(await attempt(edge, user.email))
        assert_limited(await attempt(edge, user.email.upper()))
        # A client-written X-Forwarded-For is not the client's address.
        spoofed = await edge.post(
            f"{USERS}/login",
            json={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "10.9.9.9"},
        )
        assert_limited(spoofed)


async def test_the_limit_holds_one_email_at_one_address_only(client_at: ClientAt) -> None:
    """Another email from the same address, and the same email from another address, still log in."""
    async with client_at("10.0.0.2") as edge, client_at("10.0.0.3") as elsewhere:
        blocked, other = await signup(edge), await signup(edge)
        for _ in range(LIMIT):
            await attempt(edge, blocked.email, "wrong-password")
        assert_limited(await attempt(edge, blocked.email))
        assert (await attempt(edge, other.email)).status_code == 200
        assert_error(await attempt(edge, other.email, "wrong-password"), 401, "unauthenticated")
        assert (await attempt(elsewhere, blocked.email)).status_code == 200


async def test_unknown_emails_are_limited_like_known_ones(client_at: ClientAt) -> None:
    """Guessing at an email nobody has is counted the same, so the limit reveals nothing."""
    async with client_at("10.0.0.4") as edge:
        nobody = new_email("nobody")
        for _ in range(LIMIT):
            assert_error(await attempt(edge, nobody), 401, "unauthenticated")
        assert_limited(await attempt(edge, nobody))


async def test_successful_logins_are_never_limited(client_at: ClientAt) -> None:
    """20 right passwords in a row, one address, one email: all 200."""
    async with client_at("10.0.0.5") as edge:
        user = await signup(edge)
        for _ in range(20):
            assert (await attempt(edge, user.email)).status_code == 200


async def test_a_pending_agent_with_the_right_password_is_not_counted(client_at: ClientAt) -> None:
    """403 `agent_not_approved` is not a failed guess: it never turns into 429."""
    async with client_at("10.0.0.6") as edge:
        agent: Person = await signup(edge, "agent")
        for _ in range(LIMIT + 2):
            assert_error(await attempt(edge, agent.email), 403, "agent_not_approved")


async def test_the_default_edge_allows_20_failed_attempts_a_minute(client: httpx.AsyncClient) -> None:
    """api.md: at least 20 login attempts a minute from one address, failed ones included."""
    user = await signup(client)
    for _ in range(20):
        assert_error(await attempt(client, user.email, "wrong-password"), 401, "unauthenticated")
    assert (await attempt(client, user.email)).status_code == 200
