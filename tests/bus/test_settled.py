"""`settled`: once it returns, the server has processed what the connection sent before it, a SUB
among them, so another connection's publish finds the subscription (nats-py's one flush does not
promise it; see actors/bus/connection.py)."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from actors.bus.connection import settled
from ops.embedded import EmbeddedNats, free_port
from tests.support.polling import eventually_sync

pytestmark = pytest.mark.anyio


@pytest.fixture
def traced_nats(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain nats-server of this test's own that logs every protocol line it reads, in order."""
    port, log = free_port(), tmp_path / "trace.log"
    process = subprocess.Popen(
        [EmbeddedNats.binary(), "-a", "127.0.0.1", "-p", str(port), "-DV", "-l", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually_sync(
            lambda: "Server is ready" in log.read_text(),
            timeout=10,
            what="the traced nats-server did not start",
            ignoring=(FileNotFoundError,),
        )
        yield f"nats://127.0.0.1:{port}", log
    finally:
        process.terminate()
        process.wait(10)


def _read_by(log: Path, name: str) -> list[str]:
    """The protocol lines the server read from connection `name`, in the order it read them."""
    cids = set(re.findall(rf"cid:(\d+) - <<- \[CONNECT [^\n]*\"name\": \"{name}\"", log.read_text()))
    [cid] = cids
    return re.findall(rf"cid:{cid} - .*<<- \[(\w+)", log.read_text())


async def test_a_subscription_is_on_the_server_when_settled_returns(traced_nats: tuple[str, Path]) -> None:
    """The server read a PING after the SUB (the PONG `settled` waited for answered it), and
    nothing of the connection's after that PING: the SUB was in before `settled` returned."""
    url, log = traced_nats
    name = f"settled-{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(url, name=name, allow_reconnect=False)
    try:
        await nc.subscribe(f"test.settled.{name}")
        await settled(nc)
        read = _read_by(log, name)
    finally:
        await nc.close()
    assert read[0] == "CONNECT"
    assert "SUB" in read
    assert "PING" in read[read.index("SUB") + 1 :]
    assert read[-1] == "PING"  # the last thing read before the answer `settled` waited for
