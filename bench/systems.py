"""The servers (NATS, Postgres) and the three architectures under test, started side by side.

Process policy, the same for every architecture: each Python server is ONE OS process with the
product's defaults: HTTP servers on uvicorn with uvloop + httptools and no access log (the
settings of `loans edge`, edge/server.py, used by every HTTP process), workers as `loans worker`
runs them, asyncpg pools of 2..10 per process that talks to Postgres with the reset query off,
bcrypt cost 12 on 2 threads, 64 requests at once per worker, nothing tuned for the bench.

- loan-actors: `loans edge` + a `loans worker` of each actor + nats-server (+ Postgres)
- direct:      bench.direct_app --mode direct (+ Postgres)
- http-hop:    bench.http_hop (gateway) + bench.direct_app --mode service (+ Postgres)
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from actors.contracts.config import Settings, to_environ
from bench.cpu import Scope
from bench.procs import Proc, Procs, free_port, wait_http

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
ARCHS = ("loan-actors", "direct", "http-hop")


@dataclass
class Arch:
    name: str
    port: int
    database: str
    procs: dict[str, Proc] = field(default_factory=dict)  # role → process
    extra_roots: dict[str, int] = field(default_factory=dict)  # e.g. nats-server, not started here
    ready_urls: list[str] = field(default_factory=list)  # each answers 200 once the arch can serve
    listeners: int = 1  # processes listening on `port` once it can (the edges sharing it)

    def scope(self, postmaster: int | None) -> Scope:
        return Scope(roots=self.components(), postmaster=postmaster, database=self.database)

    def components(self) -> dict[str, int]:
        return {**{k: p.pid for k, p in self.procs.items()}, **self.extra_roots}


def child_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANS_")}
    env.update(to_environ(settings))
    env["PYTHONPATH"] = os.pathsep.join(x for x in (str(REPO), env.get("PYTHONPATH", "")) if x)
    return env


def start_loan_actors(
    procs: Procs,
    settings: Settings,
    database: str,
    nats_pid: int | None,
    *,
    tag: str = "la",
    env: dict[str, str] | None = None,
    stdout_suffix: str | None = None,
    loans_workers: int = 1,
    edges: int = 1,
) -> Arch:
    """The edge and a worker of each actor; `tag` names their logs, `env` adds variables (OTEL_*, say), and
    `stdout_suffix` gives each process's stdout a file of its own (`<tag>-edge<suffix>`). With
    `loans_workers` or `edges` above one, that many of them (the edges share one port,
    LOANS_HTTP_REUSE_PORT): the bench's scale-out mode."""
    port = free_port()
    s = msgspec.structs.replace(settings, http_port=port, http_reuse_port=edges > 1)
    environ = {**child_env(s), **(env or {})}
    cli = [PY, "-m", "ops.cli"]
    arch = Arch("loan-actors", port, database)
    roles = [
        ("users-worker", ["worker", "users"]),
        *((_nth("loans-worker", n), ["worker", "loans"]) for n in range(loans_workers)),
        # the edge's /ready waits for every actor it routes to, servicing's too (idle here)
        ("servicing-worker", ["worker", "servicing"]),
        *((_nth("edge", n), ["edge"]) for n in range(edges)),
    ]
    for role, args in roles:
        out = procs.log_dir / f"{tag}-{role}{stdout_suffix}" if stdout_suffix else None
        arch.procs[role] = procs.start(f"{tag}-{role}", [*cli, *args], environ, REPO, stdout=out)
    # /ready: NATS connected and both actors answer $SRV.PING. An edge listens only once its own
    # start is done, so once every edge listens (wait_ready counts them), each is ready.
    arch.ready_urls = [f"http://127.0.0.1:{port}/ready"]
    arch.listeners = edges
    if nats_pid is not None:
        arch.extra_roots["nats-server"] = nats_pid
    return arch


def _nth(role: str, n: int) -> str:
    return role if n == 0 else f"{role}-{n + 1}"


def start_direct(procs: Procs, settings: Settings, database: str) -> Arch:
    port = free_port()
    arch = Arch("direct", port, database)
    argv = [PY, "-m", "bench.direct_app", "--port", str(port), "--mode", "direct"]
    arch.procs["app"] = procs.start("direct", argv, child_env(settings), REPO)
    arch.ready_urls = [f"http://127.0.0.1:{port}/health"]
    return arch


def start_http_hop(procs: Procs, settings: Settings, database: str, client: str | None) -> Arch:
    port, service_port = free_port(), free_port()
    arch = Arch("http-hop", port, database)
    env = child_env(settings)
    service = [PY, "-m", "bench.direct_app", "--port", str(service_port), "--mode", "service"]
    arch.procs["service"] = procs.start("hop-service", service, env, REPO)
    gateway = [
        PY,
        "-m",
        "bench.http_hop",
        "--port",
        str(port),
        "--upstream",
        f"http://127.0.0.1:{service_port}",
    ]
    if client:
        gateway += ["--client", client]
    arch.procs["gateway"] = procs.start("hop-gateway", gateway, env, REPO)
    arch.ready_urls = [f"http://127.0.0.1:{p}/health" for p in (service_port, port)]
    return arch


def wait_ready(arch: Arch, timeout: float = 90.0) -> None:
    for url in arch.ready_urls:
        wait_http(url, list(arch.procs.values()), timeout)
    # wrk opens its connections once, at the start: an edge not listening by then gets none
    deadline = time.monotonic() + timeout
    while _listening(arch.port) < arch.listeners:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{_listening(arch.port)} of {arch.listeners} edges listen on {arch.port}")
        time.sleep(0.1)


def _listening(port: int) -> int:
    """Sockets in LISTEN on `port` (IPv4, /proc/net/tcp): one per edge sharing it."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    fields = (line.split() for line in lines)
    return sum(1 for f in fields if f[1].endswith(f":{port:04X}") and f[3] == "0A")
