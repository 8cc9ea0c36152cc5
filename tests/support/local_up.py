"""A real `loans up` process on a data dir of its own, as a newcomer runs it (everything embedded),
and the `loans` tools run beside it as its operator would (same data dir, no other settings).
The one way the tests start `loans up`; a test that needs more (COB by hand, time travel) passes
the LOANS_* settings for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from ops.embedded import free_port
from tests.support.processes import LOANS, stop, wait_ready

# asyncpg and libpq would log in with these; the operator's own shell may hold them
_NOT_PASSED = ("PGPASSWORD", "PGPASSFILE")


def operator_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """An environment that names the data dir and nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOANS_") and k not in _NOT_PASSED}
    return {**env, "LOANS_DATA_DIR": str(data_dir), "LOANS_BCRYPT_COST": "4", **extra}


@dataclass
class LocalUp:
    process: subprocess.Popen[bytes]
    data_dir: Path
    url: str
    log: Path  # what `loans up` printed (stdout and stderr), kept beside the data dir

    def runtime(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.data_dir / "runtime.json").read_text())
        return found

    def secret(self, name: str) -> str:
        return (self.data_dir / "credentials" / name).read_text().strip()

    def children(self) -> list[psutil.Process]:
        """The live worker and edge processes (`loans worker …`, `loans edge`)."""
        found = []
        for kid in psutil.Process(self.process.pid).children():
            try:
                if kid.status() != psutil.STATUS_ZOMBIE and {"worker", "edge"} & set(kid.cmdline()):
                    found.append(kid)
            except psutil.NoSuchProcess:
                continue  # gone meanwhile (a killed worker `loans up` has reaped)
        return found

    def workers(self) -> dict[int, str]:
        """The live `loans worker ACTOR` children: pid → actor."""
        found = {}
        for kid in self.children():
            try:
                argv = kid.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "worker" in argv:
                found[kid.pid] = argv[argv.index("worker") + 1]
        return found

    def tool(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        """`loans ARGS` as the operator runs it beside this `loans up`."""
        return subprocess.run(
            [*LOANS, *args],
            input=stdin,
            env=operator_env(self.data_dir, **env),
            capture_output=True,
            text=True,
            timeout=60,
        )


@contextmanager
def local_up(
    data_dir: Path, *args: str, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[LocalUp]:
    """`loans up --port PORT ARGS` on `data_dir` (a free port unless one is given), with the LOANS_*
    settings in `env`; yields once /ready says so, Ctrl-C at the end (the exit code is then in
    `process.returncode`)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = data_dir.parent / f"{data_dir.name}-up.log"
    with log_path.open("ab") as log:  # append: a test may start the same data dir twice
        process = subprocess.Popen(
            [*LOANS, "up", "--port", str(port), *args],
            env=operator_env(data_dir, **(env or {})),
            stdout=log,
            stderr=log,
        )
        try:
            wait_ready(process, f"{url}/ready", log_path, timeout=90, interval=0.3)
            yield LocalUp(process, data_dir, url, log_path)
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)  # a test may have paused the supervisor
            stop(process, signal.SIGINT, timeout=60)  # SIGINT: what Ctrl-C does
