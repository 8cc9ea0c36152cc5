"""The login rate limit: attempts per (client address, email) and per account are counted when
admitted and capped; a right password is given back, so successes never count (design.md §16).

In-process (ASGI): the client address is the one each test names. What uvicorn makes of
X-Forwarded-For is tested through the real server in tests/security/test_forwarded_for.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from actors.contracts.config import Settings
from edge.routes.users import fold_email
from tests.support.people import PASSWORD, Person, new_email, signup
from tests.support.users import USERS, assert_error

pytestmark = pytest.mark.anyio

LIMIT = 3
ACCOUNT_LIMIT = 5
ClientAt = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def limited_app(settings: Settings, client: httpx.AsyncClient) -> AsyncIterator[Litestar]:
    """A second edge whose limits are 3 failures a minute per address and email, and 5 per
    account, in front of the same workers."""
    from edge.app import create_app

    limited = msgspec.structs.replace(
        settings, login_attempts_per_minute=LIMIT, login_account_attempts_per_minute=ACCOUNT_LIMIT
    )
    app = create_app(limited)
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
        # No proxy is trusted (the default): a client-written X-Forwarded-For is not its address.
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


async def test_fifty_parallel_wrong_passwords_reach_the_actor_only_up_to_the_limit(
    client_at: ClientAt,
) -> None:
    """Counted when admitted: of 50 sent at once from one address, 3 reach the actor (401), 47 are 429."""
    async with client_at("10.0.1.1") as edge:
        user = await signup(edge)
        answers = await asyncio.gather(*(attempt(edge, user.email, "wrong-password") for _ in range(50)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [401] * LIMIT + [429] * (50 - LIMIT)
    for answer in answers:
        if answer.status_code == 429:
            assert_limited(answer)


async def test_fifty_parallel_guesses_from_fifty_addresses_hit_the_account_cap(client_at: ClientAt) -> None:
    """One account, 50 addresses at once: 5 reach the actor, the rest are 429."""
    user = await signup(client_at("10.0.2.1"))
    edges = [client_at(f"10.0.3.{n}") for n in range(50)]
    try:
        answers = await asyncio.gather(*(attempt(edge, user.email, "wrong-password") for edge in edges))
    finally:
        for edge in edges:
            await edge.aclose()
    assert sorted(a.status_code for a in answers) == [401] * ACCOUNT_LIMIT + [429] * (50 - ACCOUNT_LIMIT)


async def test_the_account_cap_does_not_lock_out_an_address_the_owner_logged_in_from(
    client_at: ClientAt,
) -> None:
    """Guesses from elsewhere close the account to new addresses for a minute, not to the owner's."""
    async with client_at("10.0.4.9") as home, client_at("10.0.4.10") as new_place:
        user = await signup(home)
        assert (await attempt(home, user.email)).status_code == 200  # home is now known
        for n in range(ACCOUNT_LIMIT):
            async with client_at(f"10.0.4.{n}") as guesser:
                assert_error(await attempt(guesser, user.email, "wrong-password"), 401, "unauthenticated")
        assert_limited(await attempt(new_place, user.email))
        assert (await attempt(home, user.email)).status_code == 200


async def test_addresses_in_one_ipv6_64_share_a_limit(client_at: ClientAt) -> None:
    """A host may pick any address of its /64: they are one client; another /64 is another."""
    async with client_at("2001:db8:5:6::1") as edge:
        user = await signup(edge)
    for n in range(LIMIT):
        async with client_at(f"2001:db8:5:6::{n + 100:x}") as edge:
            assert_error(await attempt(edge, user.email, "wrong-password"), 401, "unauthenticated")
    async with client_at("2001:db8:5:6:ffff::1") as same_64, client_at("2001:db8:5:7::1") as other_64:
        assert_limited(await attempt(same_64, user.email))
        assert (await attempt(other_64, user.email)).status_code == 200


async def test_a_spelling_postgres_folds_to_the_same_email_is_the_same_key(client_at: ClientAt) -> None:
    """ "İ" logs in to the account with "i" (Postgres' lower()), so it is counted under it too."""
    async with client_at("10.0.5.1") as edge:
        user = await signup(edge, email=f"info-{uuid.uuid4().hex[:12]}@example.com")
        for _ in range(LIMIT):
            await attempt(edge, user.email, "wrong-password")
        dotted = "\u0130" + user.email[1:]  # "İnfo-…": another string, the same account
        assert_limited(await attempt(edge, dotted))
    async with client_at("10.0.5.2") as elsewhere:  # and it is that account: it logs in
        assert (await attempt(elsewhere, dotted)).status_code == 200


@pytest.mark.parametrize(
    "email",
    [
        "\u0130nfo@X.com",
        "\u039f\u0394\u039f\u03a3@x.gr",
        "\u1e9e@x.de",
        "\u01c5x@x.com",
        "\u2126\u212a@x.com",
        "\u00c5SA@x.se",
    ],
)
async def test_the_edge_folds_an_email_as_the_database_does(users_db: asyncpg.Pool, email: str) -> None:
    """Postgres' own lower() is the expected value."""
    assert fold_email(email) == await users_db.fetchval("SELECT lower($1::text)", email)
