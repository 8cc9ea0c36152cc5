"""Real `loans` processes for the tests that need one: started with the run's settings, always stopped;
and how a test waits for any server process it starts (`loans up`, Prometheus) and stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from actors.contracts.config import Settings, to_environ
from tests.support.polling import eventually_sync

LOANS = [sys.executable, "-m", "ops.cli"]


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOANS_")}
    return {**base, **to_environ(settings), **extra}


def run_loans(
    settings: Settings, *args: str, stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOANS, *args], input=stdin, env=env_for(settings), capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def loans_process(
    settings: Settings,
    *args: str,
    stdout: IO[bytes] | None = None,
    stderr: IO[bytes] | None = None,
    **extra_env: str,
) -> Iterator[subprocess.Popen[bytes]]:
    """`loans ARGS` running for the block (SIGTERM, so it drains, at the end); output may go to files."""
    process = subprocess.Popen(
        [*LOANS, *args], env=env_for(settings, **extra_env), stdout=stdout, stderr=stderr
    )
    try:
        yield process
    finally:
        stop(process, signal.SIGTERM, timeout=20)


def stop(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> int:
    """Ask `process` (by its pid) to end with `sig`, kill it if it has not within `timeout`
    seconds; its exit code (negative: the signal that ended it)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def wait_ready(
    process: subprocess.Popen[bytes], ready_url: str, log: Path, *, timeout: float, interval: float
) -> None:
    """Wait until `ready_url` answers 200; fail at once if `process` exits first (showing its `log`'s end)."""

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(
                f"{process.args!r} exited while starting; {log}:\n{log.read_text(errors='replace')[-2000:]}"
            )
        return httpx.get(ready_url, timeout=2).status_code == 200

    what = f"{ready_url} was not ready"
    eventually_sync(ready, timeout=timeout, interval=interval, what=what, ignoring=(httpx.TransportError,))
