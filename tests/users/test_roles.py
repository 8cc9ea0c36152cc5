"""Every user route × every kind of caller: the status api.md gives it, and refusals write nothing."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.people import PASSWORD, Cast, Person, bearer, new_email
from tests.support.users import USERS, assert_error, claims_for, sign, signup_body, snapshot

pytestmark = pytest.mark.anyio

# What each caller gets on each route (api.md, "User"). The callers:
#   anonymous  no Authorization header (and, on login, an email nobody has)
#   pending    an agent waiting for approval: signup gave it no token, so it calls without one
#              (a token minted for it anyway is refused too: see the test at the end)
#   rejected   an agent approved, logged in, then rejected: it calls with its still-valid token
#   deleted    an agent approved, logged in, then deleted: it calls with its old token
# On login each caller sends its own email and password; on signup, a fresh customer's body.
# 403n is 403 `agent_not_approved`; every other 403 is `forbidden`, every 401 `unauthenticated`.
TABLE = """
                 anonymous  customer  pending  agent  rejected  deleted  admin
signup           201        201       201      201    201       201      201
login            401        200       403n     200    403       401      200
profile          401        200       401      200    403       401      200
create-admin     401        403       401      403    403       401      201
list-agents      401        403       401      200    403       401      200
list-users       401        403       401      403    403       401      200
list-approvals   401        403       401      403    403       401      200
approve          401        403       401      403    403       401      200
delete           401        403       401      403    403       401      200
"""


def _rows() -> list[Any]:
    header, *rows = TABLE.strip().splitlines()
    callers = header.split()
    params = []
    for row in rows:
        route, *answers = row.split()
        assert len(answers) == len(callers), row
        params.append(pytest.param(route, dict(zip(callers, answers, strict=True)), id=route))
    return params


def _caller(people: Cast, who: str) -> Person | None:
    return {
        "anonymous": None,
        "customer": people.customer,
        "pending": people.pending_agent,
        "agent": people.agent,
        "rejected": people.rejected_agent,
        "deleted": people.deleted_agent,
        "admin": people.admin,
    }[who]


async def _call(client: httpx.AsyncClient, route: str, people: Cast, caller: Person | None) -> httpx.Response:
    headers = caller.headers if caller else {}
    if route == "signup":
        return await client.post(f"{USERS}/signup", json=signup_body(), headers=headers)
    if route == "login":
        email = caller.email if caller else new_email("nobody")
        return await client.post(f"{USERS}/login", json={"email": email, "password": PASSWORD})
    if route == "create-admin":
        body = {"email": new_email("admin"), "password": PASSWORD, "first_name": "A", "last_name": "B"}
        return await client.post(f"{USERS}/create-admin", json=body, headers=headers)
    if route == "approve":
        path = f"{USERS}/approve-delete/{people.pending_agent.id}"
        return await client.put(path, json={"is_approved": True}, headers=headers)
    if route == "delete":
        return await client.delete(f"{USERS}/approve-delete/{people.other_agent.id}", headers=headers)
    return await client.get(f"{USERS}/{route}", headers=headers)


@pytest.mark.parametrize(("route", "answers"), _rows())
async def test_route_answers_each_caller_as_api_md_says(
    client: httpx.AsyncClient, people: Cast, users_db: asyncpg.Pool, route: str, answers: dict[str, str]
) -> None:
    """Each caller gets its cell's status and code; a refused request changes nothing stored."""
    wrong = []
    for who, answer in answers.items():  # admin comes last: only its call may change the target
        before = await snapshot(users_db)
        response = await _call(client, route, people, _caller(people, who))
        assert "$2b$" not in response.text and '"password"' not in response.text
        status = int(answer.rstrip("n"))
        code = {401: "unauthenticated", 403: "forbidden"}.get(status)
        code = "agent_not_approved" if answer.endswith("n") else code
        body = response.json()
        got = (response.status_code, body["error"]["code"] if "error" in body else None)
        if got != (status, code) or body["success"] is not (status < 300):
            wrong.append(f"{route} as {who}: got {response.text}; the table says {answer}")
        elif status >= 300 and await snapshot(users_db) != before:
            wrong.append(f"{route} as {who}: refused with {status}, yet something was written")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("method", "route", "code"),
    [
        ("GET", "profile", "agent_not_approved"),
        ("GET", "list-agents", "agent_not_approved"),
        ("GET", "list-users", "forbidden"),
        ("GET", "list-approvals", "forbidden"),
        ("POST", "create-admin", "forbidden"),
        ("PUT", "approve-delete/{target}", "forbidden"),
        ("DELETE", "approve-delete/{target}", "forbidden"),
    ],
)
async def test_a_token_minted_for_a_pending_agent_is_refused(
    client: httpx.AsyncClient,
    people: Cast,
    settings: Settings,
    users_db: asyncpg.Pool,
    method: str,
    route: str,
    code: str,
) -> None:
    """Even holding a well-signed token, a pending agent is refused (403) everywhere and writes nothing."""
    token = sign(settings, claims_for(people.pending_agent.id, "agent"))
    before = await snapshot(users_db)
    body = {"is_approved": True} if method == "PUT" else None
    if method == "POST":
        body = {"email": new_email("admin"), "password": PASSWORD, "first_name": "A", "last_name": "B"}
    path = f"{USERS}/{route.format(target=people.other_agent.id)}"
    response = await client.request(method, path, json=body, headers=bearer(token))
    assert_error(response, 403, code)
    assert await snapshot(users_db) == before
