"""`loans request` and `loans cob` take the bearer token from stdin or $LOANS_TOKEN, so it need not
be on the command line (where every user of the machine sees it in the process list)."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

from actors.contracts.config import Settings
from tests.support.people import Cast
from tests.support.processes import LOANS, env_for

pytestmark = pytest.mark.anyio


def _loans(settings: Settings, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOANS, *args], input=stdin, env=env_for(settings, **env), capture_output=True, text=True, timeout=60
    )


async def test_request_reads_the_token_from_stdin(settings: Settings, people: Cast) -> None:
    """`--token-stdin`: the first line of stdin is the token; the profile is the caller's."""
    done = await asyncio.to_thread(
        _loans,
        settings,
        "request",
        "users.profile",
        "{}",
        "--token-stdin",
        stdin=f"{people.customer.token}\n",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["email"] == people.customer.email


async def test_request_reads_the_token_from_the_environment(settings: Settings, people: Cast) -> None:
    """No token option: $LOANS_TOKEN is sent."""
    assert people.customer.token is not None
    done = await asyncio.to_thread(
        _loans, settings, "request", "users.profile", "{}", LOANS_TOKEN=people.customer.token
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["email"] == people.customer.email


@pytest.mark.parametrize("how", ["stdin", "environment"])
async def test_cob_status_takes_the_token_without_the_command_line(
    settings: Settings, people: Cast, how: str
) -> None:
    """`loans cob status` as a customer, the token given off the command line: the servicing
    actor saw it (403 for the role), where no token at all is 401."""
    token = people.customer.token
    assert token is not None
    if how == "stdin":
        done = await asyncio.to_thread(_loans, settings, "cob", "status", "--token-stdin", stdin=token + "\n")
    else:
        done = await asyncio.to_thread(_loans, settings, "cob", "status", LOANS_TOKEN=token)
    assert done.returncode == 1 and "(403)" in done.stderr, done.stderr
    bare = await asyncio.to_thread(_loans, settings, "cob", "status")
    assert bare.returncode == 1 and "(401)" in bare.stderr, bare.stderr


async def test_token_and_token_stdin_are_exclusive(settings: Settings) -> None:
    """Both at once is a usage error, not a guess of which one wins."""
    done = await asyncio.to_thread(
        _loans, settings, "request", "users.profile", "--token", "x", "--token-stdin"
    )
    assert done.returncode == 2 and "not allowed with" in done.stderr, done.stderr
