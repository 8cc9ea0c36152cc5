"""SIGTERM on a real `loans edge` process: it stops accepting, finishes what is in flight, exits 0."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import nats
import pytest
from nats.aio.msg import Msg

from actors.contracts.config import Settings
from ops.embedded import EmbeddedNats, free_port
from tests.support.polling import eventually
from tests.support.processes import loans_process

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SLOW_REPLY = 1.5  # seconds the stand-in users worker takes to answer users.jwks


class SlowUsers(msgspec.Struct):
    """Where the stand-in users worker listens, and how many users.jwks requests it has had."""

    url: str
    asked: int = 0


@pytest.fixture
async def slow_users(tmp_path: Path) -> AsyncIterator[SlowUsers]:
    """A NATS server of its own, with a users "worker" whose users.jwks answers slowly."""
    server = EmbeddedNats(tmp_path)
    users = SlowUsers(server.start())
    nc = await nats.connect(users.url)
    pending: set[asyncio.Task[None]] = set()

    async def answer_later(msg: Msg) -> None:
        await asyncio.sleep(SLOW_REPLY)
        await nc.publish(msg.reply, b'{"keys":[]}')

    async def jwks(msg: Msg) -> None:
        users.asked += 1
        task = asyncio.create_task(answer_later(msg))  # answer each at once, not one after another
        pending.add(task)
        task.add_done_callback(pending.discard)

    await nc.subscribe("users.jwks", queue="users", cb=jwks)
    try:
        yield users
    finally:
        for task in pending:
            task.cancel()
        await nc.close()
        server.stop()


async def test_sigterm_finishes_requests_in_flight_and_refuses_new_connections(
    settings: Settings, slow_users: SlowUsers, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    edge_settings = msgspec.structs.replace(settings, nats_url=slow_users.url, http_port=port)
    with (
        (tmp_path / "edge.log").open("wb") as log,
        loans_process(edge_settings, "edge", stdout=log, stderr=log) as edge,
    ):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:

            async def healthy() -> bool:
                if edge.poll() is not None:
                    pytest.fail("the edge exited while starting")
                return (await http.get("/health")).status_code == 200

            await eventually(
                healthy,
                timeout=30,
                interval=0.1,
                what="the edge did not start",
                ignoring=(httpx.TransportError,),
            )

            asked_before = slow_users.asked  # the edge's own key loads count too
            in_flight = [asyncio.create_task(http.get("/.well-known/jwks.json")) for _ in range(8)]
            # A fixed sleep was not always long enough on a loaded CI machine: wait until the
            # worker has all eight, so that SIGTERM surely finds them in flight.
            await eventually(
                lambda: slow_users.asked - asked_before >= len(in_flight),
                timeout=SLOW_REPLY * 0.6,
                what="the edge did not pass all eight requests on",
            )
            assert not any(task.done() for task in in_flight)
            stopped_at = time.monotonic()
            edge.send_signal(signal.SIGTERM)

            async def nobody_listens() -> bool:
                async with httpx.AsyncClient(base_url=url, timeout=2) as newcomer:
                    try:
                        await newcomer.get("/health")
                    except httpx.ConnectError:
                        return True  # a new connection finds nobody listening
                return False  # it was still answering: the socket is not closed yet

            await eventually(
                nobody_listens,
                timeout=SLOW_REPLY * 0.6,
                what="a new connection still reached the stopping edge",
            )
            answers = await asyncio.gather(*in_flight)
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"keys": []})] * 8
        code = await asyncio.to_thread(edge.wait, 15)
        assert code == 0
        assert time.monotonic() - stopped_at < SLOW_REPLY + 3  # it did not wait for its whole grace
    assert b"Waiting for connections to close" in (tmp_path / "edge.log").read_bytes()
