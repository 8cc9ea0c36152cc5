"""Agents' lending limits through the edge: setting one, and an agent approved with one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.people import Person, login, signup

USERS = "/api/user"


def limit_path(user_id: str) -> str:
    return f"{USERS}/agents/{user_id}/lending-limit"


async def set_limit(
    client: httpx.AsyncClient, who: Person | None, user_id: str, limit: Any, **headers: str
) -> httpx.Response:
    """PUT the agent's limit (a money string, a JSON number, or None for none) as `who`."""
    sent = {**(who.headers if who else {}), **headers}
    return await client.put(limit_path(user_id), json={"lending_limit": limit}, headers=sent)


async def approve(client: httpx.AsyncClient, boss: Person, user_id: str, **body: Any) -> httpx.Response:
    """Approve an agent; `body` may add lending_limit (or anything else the approve body takes)."""
    return await client.put(
        f"{USERS}/approve-delete/{user_id}", json={"is_approved": True, **body}, headers=boss.headers
    )


async def limited_agent(client: httpx.AsyncClient, boss: Person, limit: str | None) -> Person:
    """A new agent approved with this lending limit, logged in."""
    person = await signup(client, "agent")
    response = await approve(client, boss, person.id, lending_limit=limit)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["lending_limit"] == limit, response.text
    person.token = await login(client, person.email)
    return person
