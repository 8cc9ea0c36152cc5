"""Processes the bench starts: each in its own session (process group), always stopped by its pid.

Every `Proc` is registered in a `Procs` set; `Procs.stop_all` (called from the bench's `finally`)
sends SIGTERM to each group, waits, then SIGKILLs what is left. Nothing is found or killed by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path  # stderr, and stdout unless it has its own file
    stdout: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Procs:
    log_dir: Path
    started: list[Proc] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: Path | None = None,
        stdout: Path | None = None,
    ) -> Proc:
        """Start `argv`, its output in `<log_dir>/<name>.log` (stdout in `stdout`, when given)."""
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as err, stdout.open("ab") if stdout else log.open("ab") as out:
            popen = subprocess.Popen(
                list(argv), env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True
            )
        proc = Proc(name, popen, log, stdout)
        self.started.append(proc)
        return proc

    def stop(self, proc: Proc, grace: float = 10.0) -> None:
        if proc.alive():
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.popen.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.popen.wait(5)
        else:
            _signal_group(proc.pid, signal.SIGKILL)  # a child it left in its group, if any
        if proc in self.started:
            self.started.remove(proc)

    def stop_all(self, grace: float = 10.0) -> None:
        # Newest first: the edge before the workers it calls, the gateway before its service.
        procs = list(reversed(self.started))
        for proc in procs:
            if proc.alive():
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
        for proc in procs:
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(5)
        self.started.clear()


def _signal_group(pid: int, sig: int) -> None:
    # start_new_session makes the child the leader of a group whose id is its pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: Proc | Sequence[Proc], timeout: float = 60.0) -> None:
    """Until `url` answers 200; fails early (with the log) if a process it depends on dies."""
    watched = [proc] if isinstance(proc, Proc) else list(proc)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in watched:
            if not p.alive():
                raise RuntimeError(f"{p.name} exited ({p.popen.returncode}) while starting:\n{p.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.name}\n{p.tail()}" for p in watched)
    raise RuntimeError(f"{url} not ready after {timeout}s ({last})\n{tails}")
