"""Three nats-server processes as one JetStream cluster, started from deploy/nats-cluster.conf as an
operator would (each node's own values in its environment), on loopback ports of their own.

Each node can be killed alone. The component users and passwords of deploy/nats-authorization.conf
apply: every process connects as its component (`PASSWORDS`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import APIError

from ops.embedded import EmbeddedNats, free_port
from tests.support.polling import eventually

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nats-cluster.conf"
NODES = ("nats-a", "nats-b", "nats-c")
PASSWORDS = {user: uuid.uuid4().hex for user in ("edge", "users", "loans", "servicing", "tools")}


@dataclass
class Node:
    name: str
    port: int
    route_port: int
    store: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


@dataclass
class NatsCluster:
    dir: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    route_password: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        for name in NODES:
            store = self.dir / name
            store.mkdir(parents=True, exist_ok=True)
            self.nodes[name] = Node(name, free_port(), free_port(), store, store / "nats.log")

    @property
    def urls(self) -> str:
        """What LOANS_NATS_URL holds: every node."""
        return ",".join(node.url for node in self.nodes.values())

    def environ(self, node: Node) -> dict[str, str]:
        routes = {
            f"LOANS_NATS_ROUTE_{other.name[-1].upper()}": (
                f"nats-route://route:{self.route_password}@127.0.0.1:{other.route_port}"
            )
            for other in self.nodes.values()
        }
        return {
            **os.environ,
            "LOANS_NATS_NODE": node.name,
            "LOANS_NATS_LISTEN": f"127.0.0.1:{node.port}",
            "LOANS_NATS_STORE": str(node.store),
            "LOANS_NATS_CLUSTER_LISTEN": f"127.0.0.1:{node.route_port}",
            "LOANS_NATS_CLUSTER_PASSWORD": self.route_password,
            **routes,
            **{f"LOANS_NATS_{user.upper()}_PASSWORD": password for user, password in PASSWORDS.items()},
        }

    def start(self, name: str) -> None:
        node = self.nodes[name]
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                [EmbeddedNats.binary(), "-c", str(CONF)],
                env=self.environ(node),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        process = self.nodes[name].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()

    async def start_all(self, within: float = 30.0) -> None:
        """Every node up and JetStream's cluster with a leader (it answers $JS.API.INFO)."""
        for name in self.nodes:
            self.start(name)

        async def jetstream_answers() -> bool:
            for node in self.nodes.values():
                if node.process is None or node.process.poll() is not None:
                    pytest.fail(f"{node.name} exited; see {node.log}")
            try:
                nc = await self.connect("tools")
            except Exception:  # not listening yet
                return False
            try:
                await nc.jetstream().account_info()
                return True
            finally:
                await nc.close()

        await eventually(
            jetstream_answers,
            timeout=within,
            interval=0.25,
            what=f"no NATS cluster (logs in {self.dir})",
            ignoring=(APIError, TimeoutError, nats.errors.Error),
        )

    async def connect(self, user: str) -> Client:
        alive = [n.url for n in self.nodes.values() if n.process is not None and n.process.poll() is None]
        return await nats.connect(
            alive,
            user=user,
            password=PASSWORDS[user],
            inbox_prefix=f"_INBOX_{user}",  # the only inbox the user may read (nats-authorization.conf)
            connect_timeout=2,
            allow_reconnect=True,
        )

    def node_at(self, address: str) -> str:
        """The name of the node listening at "host:port"."""
        port = int(address.rsplit(":", 1)[1])
        return next(node.name for node in self.nodes.values() if node.port == port)
