"""Three nats-server processes as one JetStream cluster, started from deploy/nats-cluster.conf as an
operator would (each node's own values in its environment), on loopback ports of their own.

Each node can be killed alone. The component users and passwords of deploy/nats-authorization.conf
apply: every process connects as its component (`PASSWORDS`). Everything is TLS, as the deploy file
says: certificates made for the cluster (tests/support/certificates.py), clients on tls:// URLs
trusting its CA (`ca`, what LOANS_NATS_TLS_CA names).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.errors import APIError

from ops.embedded import EmbeddedNats, free_port
from tests.support.certificates import Certificates, make_certificates
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
        return f"tls://127.0.0.1:{self.port}"


@dataclass
class NatsCluster:
    dir: Path
    nodes: dict[str, Node] = field(default_factory=dict)
    route_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    tls: Certificates = field(init=False)

    def __post_init__(self) -> None:
        self.tls = make_certificates(self.dir / "tls")
        for name in NODES:
            store = self.dir / name
            store.mkdir(parents=True, exist_ok=True)
            self.nodes[name] = Node(name, free_port(), free_port(), store, store / "nats.log")

    @property
    def ca(self) -> str:
        """The CA file clients trust (LOANS_NATS_TLS_CA)."""
        return str(self.tls.ca)

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
            "LOANS_NATS_TLS_CERT": str(self.tls.cert),
            "LOANS_NATS_TLS_KEY": str(self.tls.key),
            "LOANS_NATS_TLS_CA": str(self.tls.ca),
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
            tls=ssl.create_default_context(cafile=self.ca),
            connect_timeout=2,
            allow_reconnect=True,
        )

    def tls_required(self) -> dict[str, bool]:
        """Per node: whether its client port asks for TLS before anything else (the INFO line a
        server sends first, read off a plain socket), and whether its route port is mutual TLS (a
        handshake that trusts the CA but shows no certificate of its own is refused)."""
        required = {}
        for node in self.nodes.values():
            with socket.create_connection(("127.0.0.1", node.port), timeout=5) as sock:
                line = sock.makefile("rb").readline()
            assert line.startswith(b"INFO "), line[:80]
            required[f"{node.name} clients"] = json.loads(line[5:]).get("tls_required") is True
            context = ssl.create_default_context(cafile=self.ca)
            try:
                with (
                    socket.create_connection(("127.0.0.1", node.route_port), timeout=5) as sock,
                    context.wrap_socket(sock, server_hostname="127.0.0.1") as tls,
                ):
                    tls.recv(1)  # TLS 1.3: the server's refusal arrives after the handshake
                required[f"{node.name} routes"] = False
            except ssl.SSLError as exc:
                required[f"{node.name} routes"] = "CERTIFICATE_REQUIRED" in str(exc).upper()
        return required

    def node_at(self, address: str) -> str:
        """The name of the node listening at "host:port"."""
        port = int(address.rsplit(":", 1)[1])
        return next(node.name for node in self.nodes.values() if node.port == port)
