"""Bad input on loan routes: a clear 400/404/413 naming what is wrong, and nothing written."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.loans import LOANS, LoansTable, assert_error, create
from tests.support.people import Cast, Person

pytestmark = pytest.mark.anyio

OMIT = object()
# Principals as raw JSON text, so numbers reach the edge exactly as a client could write them.
BAD_PRINCIPALS = [
    "9999.99",
    '"9999.99"',
    "100000000.01",
    '"100000000.01"',
    "-1",
    "0",
    '"abc"',
    '""',
    "10000.001",
    '"10000.001"',
    '"NaN"',
    '"Infinity"',
    '"-Infinity"',
    "1e400",
    '"1e-400"',
    "null",
    "[50000]",
    '{"amount": 50000}',
    "true",
]
BAD_MONTHS = ["0", "481", "-1", "1.5", '"12"', "null", "true", "[12]", OMIT]


def _json(**fields: Any) -> str:
    """A JSON object from raw JSON fragments (fields given as OMIT are left out)."""
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items() if v is not OMIT) + "}"


async def _send(
    client: httpx.AsyncClient, method: str, path: str, who: Person, body: str | bytes | None
) -> httpx.Response:
    headers = {**who.headers, "Content-Type": "application/json"}
    return await client.request(method, f"{LOANS}{path}", content=body, headers=headers)


async def _refused_create(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, body: str | bytes | None, status: int = 400
) -> httpx.Response:
    before = await table.loans_of(crew.customer, crew.agent)
    response = await _send(client, "POST", "/customer-loan", crew.agent, body)
    assert_error(response, status)
    assert await table.loans_of(crew.customer, crew.agent) == before
    return response


def _field(response: httpx.Response) -> Any:
    return (response.json()["error"]["details"] or {}).get("field")


@pytest.mark.parametrize("principal", BAD_PRINCIPALS)
async def test_create_refuses_bad_principal(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, principal: str
) -> None:
    """A principal out of range, with more than two decimals, not finite or not a number is 400."""
    body = _json(customer_id=f'"{crew.customer.id}"', principal=principal, months="12")
    response = await _refused_create(client, crew, table, body)
    assert response.json()["error"]["code"] == "validation_error" and _field(response) == "principal"


@pytest.mark.parametrize("months", BAD_MONTHS, ids=lambda m: "missing" if m is OMIT else m)
async def test_create_refuses_bad_months(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, months: Any
) -> None:
    """months outside 1..480, not a JSON integer, null or missing is 400."""
    body = _json(customer_id=f'"{crew.customer.id}"', principal='"50000"', months=months)
    response = await _refused_create(client, crew, table, body)
    assert response.json()["error"]["code"] == "validation_error" and _field(response) == "months"


@pytest.mark.parametrize(
    "who",
    ["unknown", "agent", "other_agent", "pending_agent", "deleted_agent", "admin", "x", "null", "missing"],
)
async def test_create_refuses_a_borrower_who_is_not_a_customer(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, who: str
) -> None:
    """customer_id must name an existing customer: an unknown id, a staff member or a non-UUID is 400."""
    person = getattr(crew, who, None)
    raw = {"unknown": f'"{uuid.uuid4()}"', "x": '"x"', "null": "null", "missing": OMIT}
    customer_id = raw[who] if person is None else f'"{person.id}"'
    response = await _refused_create(
        client, crew, table, _json(customer_id=customer_id, principal="50000", months="12")
    )
    assert response.json()["error"]["code"] == "validation_error" and _field(response) == "customer_id"


@pytest.mark.parametrize(
    "body", [b"", b"   ", b"[]", b'"loan"', b"42", b"null", b"{", b'{"customer_id": '], ids=repr
)
async def test_create_refuses_a_body_that_is_not_an_object(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, body: bytes
) -> None:
    """A missing, non-object or broken JSON body is 400."""
    response = await _refused_create(client, crew, table, body)
    assert response.json()["error"]["code"] == "validation_error"


async def test_oversized_body_is_413(client: httpx.AsyncClient, crew: Cast, table: LoansTable) -> None:
    """A body over 64 KiB is 413 payload_too_large and creates nothing."""
    body = _json(
        customer_id=f'"{crew.customer.id}"', principal="50000", months="12", note=f'"{"x" * 70_000}"'
    )
    response = await _refused_create(client, crew, table, body, status=413)
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "body",
    [
        '{"status": "PENDING"}',
        '{"status": "approved"}',
        '{"status": "NEW"}',
        '{"status": null}',
        '{"status": 1}',
        "{}",
        "[]",
        '"APPROVED"',
        "",
        "{",
    ],
    ids=repr,
)
async def test_decision_refuses_bad_status_or_body(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, body: str
) -> None:
    """A decision other than APPROVED/REJECTED, or a body that is not an object, is 400; nothing changes."""
    loan = await create(client, crew.agent, crew.customer)
    response = await _send(client, "PUT", f"/approve-reject-loan/{loan['id']}", crew.admin, body)
    assert_error(response, 400, "validation_error")
    assert await table.history_versions(loan["id"]) == [1] and await table.version(loan["id"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        *(_json(principal=p) for p in BAD_PRINCIPALS if p != "null"),
        *(_json(months=m) for m in BAD_MONTHS if m not in ("null", OMIT)),
        _json(principal='"50000"', months="0"),
        "[]",
        '"x"',
        "",
        "{",
    ],
    ids=repr,
)
async def test_edit_refuses_bad_terms_or_body(
    client: httpx.AsyncClient, crew: Cast, table: LoansTable, body: str
) -> None:
    """An edit with a bad principal or months, or a body that is not an object, is 400 and writes nothing."""
    loan = await create(client, crew.agent, crew.customer)
    response = await _send(client, "PUT", f"/edit-loan/{loan['id']}", crew.agent, body)
    assert_error(response, 400, "validation_error")
    got = await client.get(f"{LOANS}/{loan['id']}", headers=crew.agent.headers)
    assert got.json()["data"] == loan
    assert await table.history_versions(loan["id"]) == [1]


def _calls(loan_id: str) -> list[tuple[str, str, str | None, str]]:
    """(method, path, body, who may call it) of each route that names a loan."""
    return [
        ("PUT", f"/approve-reject-loan/{loan_id}", json.dumps({"status": "APPROVED"}), "admin"),
        ("PUT", f"/edit-loan/{loan_id}", json.dumps({"months": 12}), "agent"),
        ("GET", f"/{loan_id}", None, "customer"),
        ("GET", f"/{loan_id}/history", None, "agent"),
        ("GET", f"/{loan_id}/schedule", None, "customer"),
    ]


async def test_unknown_loan_is_404_on_every_route(client: httpx.AsyncClient, crew: Cast) -> None:
    """A well-formed loan id that names no loan is 404 for decide, edit, get, history and schedule."""
    for method, path, body, who in _calls(str(uuid.uuid4())):
        callers = [getattr(crew, who)] + ([crew.admin] if method == "GET" else [])
        for person in callers:
            assert_error(await _send(client, method, path, person, body), 404, "not_found")


# An all-digit id is no longer malformed: it is the monolith's (design.md §13, tests/imports);
# a signed or decimal number still names nothing.
@pytest.mark.parametrize(
    "loan_id",
    ["x", "-1234", "12.5", "not-a-uuid", "00000000-0000-0000-0000-00000000000g", f"{uuid.uuid4()}0", "%20"],
)
async def test_malformed_path_id_is_404(client: httpx.AsyncClient, crew: Cast, loan_id: str) -> None:
    """A loan id in the path that is not a UUID names nothing: 404 on every route, whoever asks."""
    for method, path, body, _ in _calls(loan_id):
        for person in (crew.admin, crew.agent, crew.customer):
            assert_error(await _send(client, method, path, person, body), 404, "not_found")
