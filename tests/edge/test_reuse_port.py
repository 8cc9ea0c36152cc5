"""LOANS_HTTP_REUSE_PORT: two `loans edge` processes share one port; either carries it alone."""

from __future__ import annotations

import asyncio
import signal
import subprocess
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
from tests.support.processes import loans_process, stop

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
async def own_nats(tmp_path: Path) -> AsyncIterator[str]:
    """A NATS server of its own, with a stand-in users worker that answers users.jwks at once: the
    session's workers see none of these edges' requests."""
    server = EmbeddedNats(tmp_path)
    url = server.start()
    nc = await nats.connect(url)

    async def jwks(msg: Msg) -> None:
        await nc.publish(msg.reply, b'{"keys":[]}')

    await nc.subscribe("users.jwks", queue="users", cb=jwks)
    try:
        yield url
    finally:
        await nc.close()
        server.stop()


def _listening(port: int) -> int:
    """Sockets in LISTEN on `port` (IPv4): one per edge once its start is done."""
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    return sum(1 for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A")


async def _started(port: int, edges: list[subprocess.Popen[bytes]], listeners: int) -> None:
    async def ready() -> bool:
        if any(edge.poll() is not None for edge in edges):
            pytest.fail("an edge exited while starting")
        return _listening(port) == listeners

    await eventually(ready, timeout=60, interval=0.1, what=f"{listeners} edges did not listen on {port}")


async def _answers(port: int) -> int:
    async with httpx.AsyncClient(timeout=5) as http:  # a new connection each time
        return (await http.get(f"http://127.0.0.1:{port}/health")).status_code


async def test_two_edges_share_a_port_and_one_carries_on_when_the_other_stops(
    settings: Settings, own_nats: str, tmp_path: Path
) -> None:
    port = free_port()
    shared = msgspec.structs.replace(settings, nats_url=own_nats, http_port=port, http_reuse_port=True)
    with (
        (tmp_path / "edge-1.log").open("wb") as log1,
        (tmp_path / "edge-2.log").open("wb") as log2,
        loans_process(shared, "edge", stdout=log1, stderr=log1) as first,
        loans_process(shared, "edge", stdout=log2, stderr=log2) as second,
    ):
        await _started(port, [first, second], listeners=2)  # both bound it, both listen
        assert [await _answers(port) for _ in range(10)] == [200] * 10
        assert stop(first, signal.SIGTERM, timeout=30) == 0
        assert _listening(port) == 1
        # new connections: each could have gone to either edge before
        assert [await _answers(port) for _ in range(20)] == [200] * 20
        assert second.poll() is None


async def test_without_it_a_second_edge_on_a_taken_port_fails_to_start(
    settings: Settings, own_nats: str, tmp_path: Path
) -> None:
    port = free_port()
    alone = msgspec.structs.replace(settings, nats_url=own_nats, http_port=port)
    with (
        (tmp_path / "edge-1.log").open("wb") as log1,
        (tmp_path / "edge-2.log").open("wb") as log2,
        loans_process(alone, "edge", stdout=log1, stderr=log1) as first,
    ):
        await _started(port, [first], listeners=1)
        with loans_process(alone, "edge", stdout=log2, stderr=log2) as second:
            assert await asyncio.to_thread(second.wait, 60) != 0
        assert first.poll() is None and await _answers(port) == 200
