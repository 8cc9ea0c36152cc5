"""What the console's browser tests stand on: `loans up` as a newcomer starts it, a REST client
to set the scene in other roles, headless Chromium through Playwright, and screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.local_up import LocalUp
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually_sync

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDE, NARROW = 1440, 375  # the two widths the console must read well at


def require_chromium() -> None:
    """Skip without Debian's chromium, unless LOANS_REQUIRE_TOOLS=1 (CI), where it must be there."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("LOANS_REQUIRE_TOOLS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


# `loans up` for the console's scenes: COB only when the admin runs it, and time travel allowed
CONSOLE_UP_ENV = {"LOANS_COB_AUTO": "0", "LOANS_ALLOW_FUTURE_BUSINESS_DATE": "1"}


def create_admin(up: LocalUp, email: str) -> None:
    """The bootstrap path a newcomer takes: `loans admin create --password-stdin`."""
    done = up.tool("admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr


@dataclass
class Api:
    """The REST API as the other people in a scene use it (the browser plays one role at a time)."""

    url: str
    admin_email: str

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.request(method, f"{self.url}{path}", headers=headers, timeout=15, **kwargs)
        assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()["data"]

    def login(self, email: str) -> str:
        data = self.call("POST", "/api/user/login", json={"email": email, "password": PASSWORD})
        return str(data["access_token"])

    def admin(self) -> str:
        return self.login(self.admin_email)

    def signup(self, role: str, first: str = "Test", last: str | None = None) -> dict[str, Any]:
        body = {
            "email": new_email(role),
            "password": PASSWORD,
            "first_name": first,
            "last_name": last or new_email("n").split("@")[0],
            "role": role,
        }
        user: dict[str, Any] = self.call("POST", "/api/user/signup", json=body)["user"]
        return user

    def approved_agent(self, lending_limit: str | None = None) -> tuple[dict[str, Any], str]:
        agent = self.signup("agent")
        body = {"is_approved": True, "lending_limit": lending_limit}
        self.call("PUT", f"/api/user/approve-delete/{agent['id']}", self.admin(), json=body)
        # approval reaches the loans actor's read model by an event (api.md: within 2 seconds)
        token = self.login(agent["email"])
        return agent, token

    def loan(self, agent_token: str, customer_id: str, principal: str, months: int) -> dict[str, Any]:
        body = {"customer_id": customer_id, "principal": principal, "months": months}

        def created() -> Any:
            answer = httpx.post(
                f"{self.url}/api/loan/customer-loan",
                json=body,
                headers={"Authorization": f"Bearer {agent_token}"},
                timeout=15,
            )
            # 403 agent_not_approved until the approval event has reached the loans actor
            return answer.json()["data"] if answer.status_code == 201 else None

        loan: dict[str, Any] = eventually_sync(created, timeout=10, what="the agent could not request")
        return loan

    def decide(self, loan_id: str, status: str) -> dict[str, Any]:
        loan: dict[str, Any] = self.call(
            "PUT", f"/api/loan/approve-reject-loan/{loan_id}", self.admin(), json={"status": status}
        )
        return loan

    def repay(self, token: str, loan_id: str, amount: str) -> dict[str, Any]:
        def recorded() -> Any:
            answer = httpx.post(
                f"{self.url}/api/loan/{loan_id}/repayments",
                json={"amount": amount},
                headers={"Authorization": f"Bearer {token}"},
                timeout=15,
            )
            # the account opens when servicing consumes the approval event: 409 until then
            return answer.json()["data"] if answer.status_code == 201 else None

        transaction: dict[str, Any] = eventually_sync(recorded, timeout=10, what="no repayment recorded")
        return transaction


def shoot(page: Any, folder: Path, name: str) -> None:
    """Screenshots of the page as it is, at 1440 and at 375 px wide (test artefacts, not committed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for width in (WIDE, NARROW):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(50)  # one frame for the layout to follow the new width
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDE, "height": 900})
