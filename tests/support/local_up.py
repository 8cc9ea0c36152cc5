"""A real `loans up` process on a data dir of its own, as a newcomer runs it (everything embedded),
and the `loans` tools run beside it as its operator would (same data dir, no other settings)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.support.polling import eventually_sync

LOANS = [sys.executable, "-m", "ops.cli"]
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

    def runtime(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads((self.data_dir / "runtime.json").read_text())
        return found

    def secret(self, name: str) -> str:
        return (self.data_dir / "credentials" / name).read_text().strip()

    def children(self) -> list[psutil.Process]:
        """The worker and edge processes (`loans worker …`, `loans edge`)."""
        kids = psutil.Process(self.process.pid).children()
        return [p for p in kids if {"worker", "edge"} & set(p.cmdline())]

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
def local_up(data_dir: Path, port: int, *args: str) -> Iterator[LocalUp]:
    """`loans up --port PORT ARGS` on `data_dir`; yields once /ready says so, Ctrl-C at the end."""
    log = (data_dir.parent / f"{data_dir.name}-up.log").open("wb")
    process = subprocess.Popen(
        [*LOANS, "up", "--port", str(port), *args], env=operator_env(data_dir), stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                pytest.fail(f"loans up exited while starting; see {log.name}")
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200

        eventually_sync(
            ready, timeout=90, interval=0.3, what="loans up was not ready", ignoring=(httpx.TransportError,)
        )
        yield LocalUp(process, data_dir, url)
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
