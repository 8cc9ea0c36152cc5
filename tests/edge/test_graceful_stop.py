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


@pytest.fixture
async def slow_users(tmp_path: Path) -> AsyncIterator[str]:
    """A NATS server of its own, with a users "worker" whose users.jwks answers slowly."""
    server = EmbeddedNats(tmp_path)
    url = server.start()
    nc = await nats.connect(url)
    pending: set[asyncio.Task[None]] = set()

    async def answer_later(msg: Msg) -> None:
        await asyncio.sleep(SLOW_REPLY)
        await nc.publish(msg.reply, b'{"keys":[]}')

    async def jwks(msg: Msg) -> None:
        task = asyncio.create_task(answer_later(msg))  # answer each at once, not one after another
        pending.add(task)
        task.add_done_callback(pending.discard)

    await nc.subscribe("users.jwks", queue="users", cb=jwks)
    try:
        yield url
    finally:
        for task in pending:
            task.cancel()
        await nc.close()
        server.stop()


async def test_sigterm_finishes_requests_in_flight_and_refuses_new_connections(
    settings: Settings, slow_users: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    edge_settings = msgspec.structs.replace(settings, nats_url=slow_users, http_port=port)
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

            in_flight = [asyncio.create_task(http.get("/.well-known/jwks.json")) for _ in range(8)]
            await asyncio.sleep(0.4)  # all sent, none answered yet
            assert not any(task.done() for task in in_flight)
            stopped_at = time.monotonic()
            edge.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            async with httpx.AsyncClient(base_url=url, timeout=2) as newcomer:
                with pytest.raises(httpx.ConnectError):
                    await newcomer.get("/health")  # a new connection finds nobody listening
            answers = await asyncio.gather(*in_flight)
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"keys": []})] * 8
        code = await asyncio.to_thread(edge.wait, 15)
        assert code == 0
        assert time.monotonic() - stopped_at < SLOW_REPLY + 3  # it did not wait for its whole grace
    assert b"Waiting for connections to close" in (tmp_path / "edge.log").read_bytes()
