"""edge/fastpath.py answers the forwarded routes in front of Litestar: it must answer exactly as
Litestar's own handler for the route does (status, body, headers a client reads), for good
requests and bad ones alike, and leave everything else to Litestar."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Request
from litestar.testing import RequestFactory

from actors.contracts.config import Settings
from edge.app import EdgeApp, create_app
from edge.fastpath import FastPath, _query
from edge.routes import loans, users
from tests.support.people import Cast

pytestmark = pytest.mark.anyio
COMPARED_HEADERS = ("content-type", "retry-after")


@pytest.fixture
async def both(
    settings: Settings, client: httpx.AsyncClient
) -> AsyncIterator[tuple[httpx.AsyncClient, list[bool]]]:
    """A client of an edge app answering through Litestar only, and what the fast path of
    `client`'s app decided for each request since (True: answered it)."""
    plain = create_app(settings)
    assert isinstance(plain, EdgeApp) and plain.fast is not None
    plain.fast = None
    served: list[bool] = []
    original = FastPath.serve

    async def spy(self: FastPath, scope: Any, receive: Any, send: Any) -> bool:
        answered = await original(self, scope, receive, send)
        served.append(answered)
        return answered

    transport = httpx.ASGITransport(app=plain)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FastPath, "serve", spy)
        async with plain.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://edge") as other:
            yield other, served


def requests(people: Cast) -> list[tuple[str, str, dict[str, Any]]]:
    admin, agent, customer = people.admin.headers, people.agent.headers, people.customer.headers
    loan_url = "/api/loan/customer-loan"
    body = {"customer_id": people.customer.id, "principal": "12000.00", "months": 12}
    return [
        ("GET", "/api/loan/list-loans-customer", {"headers": customer}),
        ("GET", "/api/loan/list-loans-customer", {"headers": customer, "params": {"page": "1.0"}}),
        ("GET", "/api/loan/list-loans-customer?page=2&page=x&page_size=", {"headers": customer}),
        ("GET", "/api/loan/list-loans-admin-agent", {"headers": admin, "params": {"status": "NOPE"}}),
        ("GET", "/api/loan/list-loans-admin-agent", {}),
        ("GET", "/api/loan/list-loans-admin-agent", {"headers": {"Authorization": "Bearer x.y.z"}}),
        ("GET", f"/api/loan/{uuid.uuid4()}", {"headers": admin}),
        ("GET", "/api/loan/not-a-uuid", {"headers": admin}),
        ("GET", f"/api/loan/{uuid.uuid4()}/history", {"headers": customer}),
        ("GET", "/api/user/profile", {"headers": customer}),
        ("GET", "/api/user/list-users", {"headers": agent}),
        ("GET", "/.well-known/jwks.json", {}),
        ("POST", loan_url, {"headers": customer, "json": body}),
        ("POST", loan_url, {"headers": agent, "content": b"{not json"}),
        ("POST", loan_url, {"headers": agent, "content": b"x" * 70_000}),
        ("POST", loan_url, {"headers": agent, "json": {**body, "principal": "1.5"}}),
        ("POST", loan_url, {"headers": agent, "json": {**body, "note": "\u0000"}}),
        ("PUT", f"/api/loan/approve-reject-loan/{uuid.uuid4()}", {"headers": admin, "json": {"status": "X"}}),
        ("DELETE", "/api/user/approve-delete/nope", {"headers": admin}),
    ]


async def test_every_forwarded_route_is_answered_in_front_of_litestar(settings: Settings) -> None:
    app = create_app(settings)
    assert isinstance(app, EdgeApp) and app.fast is not None
    for prefix, ep in [*users.FORWARDED, *loans.FORWARDED]:
        path = prefix + ep.path.replace("{loan_id}", str(uuid.uuid4())).replace(
            "{user_id}", str(uuid.uuid4())
        )
        found = app.fast._match(ep.method, path)
        assert found is not None and found[0].ep is ep, path
    assert app.fast._match("POST", "/api/user/login") is None  # its own handler: the failure limiter
    assert app.fast._match("GET", "/api/loan/customer-loan") is None  # wrong method: Litestar's 405
    assert app.fast._match("GET", "/api/loan/list-loans-customer/") is None
    assert app.fast._match("GET", "/api/loan/not-a-uuid/history") is None  # left to Litestar
    assert app.fast._match("GET", "/ready") is None


async def test_the_fast_path_answers_as_litestar_does(
    client: httpx.AsyncClient, both: tuple[httpx.AsyncClient, list[bool]], people: Cast
) -> None:
    plain, served = both
    for method, url, kwargs in requests(people):
        served.clear()
        fast = await client.request(method, url, **kwargs)
        slow = await plain.request(method, url, **kwargs)
        where = f"{method} {url} {kwargs.get('params', '')}"
        assert fast.status_code == slow.status_code, where
        if fast.status_code < 300 and method == "POST":  # two loans made: compare all but ids and times
            made, other = fast.json(), slow.json()
            assert made["data"]["id"] != other["data"]["id"]
            for volatile in ("id", "created_at", "modified_at"):
                made["data"].pop(volatile), other["data"].pop(volatile)
            assert made == other, where
        else:
            assert fast.content == slow.content, where
        for name in COMPARED_HEADERS:
            assert fast.headers.get(name) == slow.headers.get(name), (where, name)
        # the first answered by the fast path (except what it leaves to Litestar), the second not
        assert served[0] is ("not-a-uuid" not in url and "approve-delete/nope" not in url), where
        assert served[1:] == [], where


@pytest.mark.parametrize(
    "query_string",
    [
        b"",
        b"page=2&page=x&page_size=",  # a repeat: the first wins; a blank is kept
        b"a=%C3%A9&b=+c+&c",  # UTF-8 escapes, plus for space, a name alone
        b"=x&q=%ZZ&r=\xe9",  # no name, a broken escape, a raw latin-1 byte
        b"a=1;b=2&&c=%00",  # `;` is no separator; an empty pair; an escaped NUL
    ],
)
def test_the_fast_path_reads_a_query_string_as_litestar_does(query_string: bytes) -> None:
    scope = {**RequestFactory().get("/api/loan/list-loans-customer").scope, "query_string": query_string}
    params = Request(scope).query_params
    assert _query(query_string) == {name: params.get(name) for name in params}
