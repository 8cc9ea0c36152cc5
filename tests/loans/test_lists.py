"""The loan lists: every loan for staff, narrowed by filters, newest change first, paged with a count."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.loans import LOANS, assert_error, create, decide, edit
from tests.support.people import Cast, Person, signup

pytestmark = pytest.mark.anyio

STAFF_LIST = f"{LOANS}/list-loans-admin-agent"
CUSTOMER_LIST = f"{LOANS}/list-loans-customer"


async def _get(client: httpx.AsyncClient, who: Person, path: str, **query: Any) -> dict[str, Any]:
    response = await client.get(path, params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    return body


def _newest_change_first(loans: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(loans, key=lambda loan: (datetime.fromisoformat(loan["modified_at"]), loan["id"]))
    return [loan["id"] for loan in reversed(ordered)]


async def _book(client: httpx.AsyncClient, people: Cast) -> tuple[list[dict[str, Any]], Person, Person]:
    """Loans by both agents for two fresh customers, some approved, some rejected, one edited."""
    first, second = await signup(client, "customer"), await signup(client, "customer")
    loans = []
    for agent, customer in itertools.product((people.agent, people.other_agent), (first, second)):
        for _ in range(random.randint(1, 3)):
            loans.append(await create(client, agent, customer))
    random.shuffle(loans)
    for index, loan in enumerate(loans[:4]):
        response = await decide(client, people.admin, loan["id"], ("APPROVED", "REJECTED")[index % 2])
        loans[index] = response.json()["data"]
    # the oldest NEW loan is edited last, so it becomes the newest change
    oldest_new = min(range(4, len(loans)), key=lambda i: loans[i]["created_at"], default=None)
    if oldest_new is not None:
        loan = loans[oldest_new]
        owner = people.agent if loan["agent_id"] == people.agent.id else people.other_agent
        edited = await edit(client, owner, loan["id"], months=random.randint(1, 480))
        loans[oldest_new] = edited.json()["data"]
    return loans, first, second


async def test_staff_lists_every_loan_narrowed_by_filters(client: httpx.AsyncClient, people: Cast) -> None:
    """Staff see every loan; each filter combination narrows it, newest change first, exact count."""
    loans, first, second = await _book(client, people)
    choices = {
        "status": ["NEW", "APPROVED", "REJECTED"],
        "customer_id": [first.id, second.id],
        "agent_id": [people.agent.id, people.other_agent.id],
    }
    for viewer in (people.admin, people.agent, people.other_agent):
        for names in itertools.chain.from_iterable(itertools.combinations(choices, n) for n in (1, 2, 3)):
            query = {name: random.choice(choices[name]) for name in names}
            body = await _get(client, viewer, STAFF_LIST, page_size=100, **query)
            expected = [loan for loan in loans if all(loan[k] == v for k, v in query.items())]
            got = [row["id"] for row in body["data"]]
            if "customer_id" in query or "agent_id" in query:  # fresh people: only this test's loans
                assert got == _newest_change_first(expected), query
                assert body["count"] == len(expected)
            else:  # the status alone spans other tests' loans too, all changed before these
                assert all(row["status"] == query["status"] for row in body["data"])
                assert got[: len(expected)] == _newest_change_first(expected)
                assert body["count"] >= len(expected)
        everything = await _get(client, viewer, STAFF_LIST, page_size=100)
        assert everything["data"][0]["id"] == _newest_change_first(loans)[0]
        assert everything["count"] >= len(loans)


async def test_an_edit_moves_a_loan_to_the_top(client: httpx.AsyncClient, people: Cast) -> None:
    """The staff list is ordered by the newest change, not by creation: an edited loan comes first."""
    customer = await signup(client, "customer")
    loans = [await create(client, people.agent, customer) for _ in range(3)]
    query = {"customer_id": customer.id}
    body = await _get(client, people.admin, STAFF_LIST, **query)
    assert [row["id"] for row in body["data"]] == [loan["id"] for loan in reversed(loans)]
    assert (await edit(client, people.agent, loans[0]["id"], months=7)).status_code == 200
    body = await _get(client, people.admin, STAFF_LIST, **query)
    assert [row["id"] for row in body["data"]] == [loans[0]["id"], loans[2]["id"], loans[1]["id"]]
    mine = await _get(client, customer, CUSTOMER_LIST)  # the customer's own list: newest first
    assert [row["id"] for row in mine["data"]] == [loan["id"] for loan in reversed(loans)]


@pytest.mark.parametrize("path", [STAFF_LIST, CUSTOMER_LIST])
async def test_pages_cover_the_list_and_count_every_match(
    client: httpx.AsyncClient, people: Cast, path: str
) -> None:
    """Pages cover the list once; count is the total matching on every page, even past the end."""
    customer = await signup(client, "customer")
    loans = [await create(client, people.agent, customer) for _ in range(random.randint(5, 7))]
    who, query = (people.agent, {"customer_id": customer.id}) if path == STAFF_LIST else (customer, {})
    default = await _get(client, who, path, **query)
    assert (default["page"], default["page_size"], default["count"]) == (1, 20, len(loans))
    size = random.randint(2, 3)
    count = -(-len(loans) // size)
    pages = [await _get(client, who, path, page=n, page_size=size, **query) for n in range(1, count + 1)]
    assert [(p["page"], p["page_size"], p["count"]) for p in pages] == [
        (n, size, len(loans)) for n in range(1, count + 1)
    ]
    seen = [row["id"] for p in pages for row in p["data"]]
    assert seen == [loan["id"] for loan in reversed(loans)]
    past = await _get(client, who, path, page=count + 1, page_size=size, **query)
    assert (past["data"], past["page"], past["count"]) == ([], count + 1, len(loans))


async def test_customer_list_filters_by_status(client: httpx.AsyncClient, people: Cast) -> None:
    """A customer's status filter narrows their own list."""
    customer = await signup(client, "customer")
    loans = [await create(client, people.agent, customer) for _ in range(3)]
    await decide(client, people.admin, loans[0]["id"], "APPROVED")
    await decide(client, people.admin, loans[1]["id"], "REJECTED")
    for status, expected in (("APPROVED", [loans[0]]), ("REJECTED", [loans[1]]), ("NEW", [loans[2]])):
        body = await _get(client, customer, CUSTOMER_LIST, status=status)
        assert [row["id"] for row in body["data"]] == [loan["id"] for loan in expected]
        assert body["count"] == 1


BAD_QUERIES = [
    {"page": "0"},
    {"page": "-1"},
    {"page": "x"},
    {"page": "1.5"},
    {"page_size": "0"},
    {"page_size": "101"},
    {"page_size": "x"},
    {"status": "PENDING"},
    {"status": "approved"},
]


@pytest.mark.parametrize(
    "query",
    [*BAD_QUERIES, {"customer_id": "not-a-uuid"}, {"agent_id": "x"}],
    ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()),
)
async def test_bad_staff_list_query_is_400(
    client: httpx.AsyncClient, crew: Cast, query: dict[str, str]
) -> None:
    """Out-of-range or malformed paging and filters are 400 on the staff list, never clamped."""
    response = await client.get(STAFF_LIST, params=query, headers=crew.admin.headers)
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("query", BAD_QUERIES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
async def test_bad_customer_list_query_is_400(
    client: httpx.AsyncClient, crew: Cast, query: dict[str, str]
) -> None:
    """Out-of-range or malformed paging and status are 400 on the customer's list too."""
    response = await client.get(CUSTOMER_LIST, params=query, headers=crew.customer.headers)
    assert_error(response, 400, "validation_error")


async def test_paging_edges_and_unknown_parameters(client: httpx.AsyncClient, people: Cast) -> None:
    """page_size 1 and 100 are accepted, and unknown query parameters are ignored."""
    for size in (1, 100):
        body = await _get(client, people.admin, STAFF_LIST, page_size=size, colour="blue")
        assert body["page_size"] == size and len(body["data"]) <= size
    body = await _get(client, people.customer, CUSTOMER_LIST, sort="id", page_size=100)
    assert body["data"] == [] and body["count"] == 0
