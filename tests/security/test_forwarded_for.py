"""H2 through a real `loans edge` process (uvicorn and all): a client cannot pick its own address
with X-Forwarded-For, and behind a trusted proxy each forwarded client is counted on its own.

The attack is a client on the edge's own machine, which uvicorn's defaults trust: the plain edge
(one per test, so its buckets are the test's own) is reached from 127.0.0.1. Other clients come
from addresses of their own on the loopback network (127.0.0.x); the edge listens on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from actors.contracts.config import Settings
from ops.embedded import free_port
from tests.support.people import PASSWORD, signup
from tests.support.polling import eventually
from tests.support.processes import loans_process
from tests.support.users import USERS, assert_error

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LOGINS, SIGNUPS, REQUESTS = 3, 2, 20  # per minute, per client address


async def _edge(settings: Settings, tmp: Path, trusted: str) -> AsyncIterator[str]:
    port = free_port()
    edge_settings = msgspec.structs.replace(
        settings,
        http_port=port,
        login_attempts_per_minute=LOGINS,
        signups_per_minute=SIGNUPS,
        requests_per_minute=REQUESTS,
        trusted_proxies=trusted,
    )
    url = f"http://127.0.0.1:{port}"
    with (
        (tmp / "edge.log").open("wb") as log,
        loans_process(edge_settings, "edge", stdout=log, stderr=log) as edge,
    ):
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:

            async def healthy() -> bool:
                if edge.poll() is not None:
                    pytest.fail(f"the edge exited: {(tmp / 'edge.log').read_text()}")
                return (await http.get("/health")).status_code == 200

            await eventually(
                healthy,
                timeout=30,
                interval=0.1,
                what="the edge did not start",
                ignoring=(httpx.TransportError,),
            )
        yield url


@pytest.fixture
async def plain_edge(settings: Settings, users_worker: Any, tmp_path: Path) -> AsyncIterator[str]:
    """A `loans edge` with no trusted proxy (the default)."""
    async for url in _edge(settings, tmp_path, ""):
        yield url


@pytest.fixture(scope="module")
async def proxied_edge(
    settings: Settings, users_worker: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A `loans edge` that trusts 127.0.0.1 as its proxy (and no other loopback address)."""
    async for url in _edge(settings, tmp_path_factory.mktemp("proxied-edge"), "127.0.0.1/32"):
        yield url


def from_address(url: str, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address`."""
    return httpx.AsyncClient(
        base_url=url, transport=httpx.AsyncHTTPTransport(local_address=address), timeout=10
    )


async def attempt(http: httpx.AsyncClient, email: str, forwarded: str, password: str) -> httpx.Response:
    body = {"email": email, "password": password}
    return await http.post(f"{USERS}/login", json=body, headers={"X-Forwarded-For": forwarded})


def assert_limited(response: httpx.Response) -> None:
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


async def test_a_forged_header_from_loopback_does_not_escape_the_login_limit(
    plain_edge: str, client: httpx.AsyncClient
) -> None:
    """No trusted proxy: every attempt names another address, and the 4th is still 429."""
    user = await signup(client)
    async with from_address(plain_edge, "127.0.0.1") as http:
        for n in range(LOGINS):
            assert_error(
                await attempt(http, user.email, f"203.0.113.{n}", "wrong-password"), 401, "unauthenticated"
            )
        assert_limited(await attempt(http, user.email, "203.0.113.99", "wrong-password"))
        assert_limited(await attempt(http, user.email, "198.51.100.1", PASSWORD))


async def test_a_forged_header_does_not_escape_the_signup_limit(plain_edge: str) -> None:
    """Two signups a minute from one address, whatever address each claims."""
    async with from_address(plain_edge, "127.0.0.1") as http:
        answers = []
        for n in range(SIGNUPS + 1):
            body = {
                "email": f"xff-{n}-{free_port()}@example.com",
                "password": PASSWORD,
                "first_name": "Ann",
                "last_name": "Lee",
                "role": "customer",
            }
            answers.append(
                await http.post(f"{USERS}/signup", json=body, headers={"X-Forwarded-For": f"203.0.113.{n}"})
            )
    assert [a.status_code for a in answers[:SIGNUPS]] == [201] * SIGNUPS
    assert_limited(answers[SIGNUPS])


async def test_a_forged_header_does_not_escape_the_request_limit(plain_edge: str) -> None:
    """The general limit per address: a minute's worth, then 429, though every request names another."""
    async with from_address(plain_edge, "127.0.0.1") as http:
        codes = [
            (await http.get("/.well-known/jwks.json", headers={"X-Forwarded-For": f"10.0.{n}.1"})).status_code
            for n in range(REQUESTS + 1)
        ]
    assert codes == [200] * REQUESTS + [429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    proxied_edge: str, client: httpx.AsyncClient
) -> None:
    """From 127.0.0.1 (trusted) the right-most untrusted X-Forwarded-For address is the client."""
    user = await signup(client)
    async with from_address(proxied_edge, "127.0.0.1") as proxy:
        for _ in range(LOGINS):
            assert_error(
                await attempt(proxy, user.email, "203.0.113.1", "wrong-password"), 401, "unauthenticated"
            )
        assert_limited(await attempt(proxy, user.email, "203.0.113.1", PASSWORD))
        # another forwarded client has a bucket of its own
        assert (await attempt(proxy, user.email, "203.0.113.2", PASSWORD)).status_code == 200
        # what the client wrote to the left of the address the proxy appended changes nothing
        assert_limited(await attempt(proxy, user.email, "198.51.100.7, 203.0.113.1", PASSWORD))
        # a second hop that is a trusted proxy itself is passed over
        assert_limited(await attempt(proxy, user.email, "203.0.113.1, 127.0.0.1", PASSWORD))


async def test_an_untrusted_peer_s_header_is_ignored_when_proxies_are_trusted(
    proxied_edge: str, client: httpx.AsyncClient
) -> None:
    """127.0.0.14 is not the trusted proxy: its X-Forwarded-For is not read."""
    user = await signup(client)
    async with from_address(proxied_edge, "127.0.0.14") as http:
        for n in range(LOGINS):
            assert_error(
                await attempt(http, user.email, f"203.0.113.{n}", "wrong-password"), 401, "unauthenticated"
            )
        assert_limited(await attempt(http, user.email, "203.0.113.50", PASSWORD))
