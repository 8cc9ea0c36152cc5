"""Real `loans` processes for the tests that need one: started with the run's settings, always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from actors.contracts.config import Settings, to_environ

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
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
