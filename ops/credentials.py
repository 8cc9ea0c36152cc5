"""The secrets `loans up` makes for its own servers: one file each under `<data dir>/credentials/`.

Each is made on the first start that needs it and kept, so a restart uses the same ones; a file
removed is made afresh at the next start, which is how a secret is rotated (README, Security).
Files are 0600 in a 0700 folder, owned by whoever runs `loans up`: that user (and root) is the
local operator, and the tools (`loans request`, `stats`, `cob`, `admin create`, `migrate`) read
them as that user does (ops/runtime_file.py).

- `nats-<user>`: the password of each NATS user of deploy/nats-authorization.conf (embedded NATS);
- `postgres-superuser`: the embedded server's `postgres` login (scram-sha-256);
- `postgres-role-<actor>`: the password of an actor's own role, unless LOANS_<ACTOR>_DB_PASSWORD (or
  the older LOANS_DB_ROLE_PASSWORD) names one.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

FOLDER = "credentials"
# The users of deploy/nats-authorization.conf, one per component; `tools` is the operators' own.
NATS_USERS = ("edge", "users", "loans", "servicing", "tools")
TOOLS_USER = "tools"
SUPERUSER = "postgres"


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner may enter (0700), made if missing, tightened if older."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def tighten(data_path: Path) -> None:
    """Take group and other rights off everything under `data_path` (but Postgres' own folder, which
    the server keeps 0700 itself): a data dir an earlier version made had 0755 folders and 0644
    files (runtime.json, mails)."""
    for root, folders, files in os.walk(data_path):
        if Path(root) == data_path and "postgres" in folders:
            folders.remove("postgres")
        for name in folders + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            if mode & 0o077 and not path.is_symlink():
                path.chmod(mode & 0o700)


def new_secret() -> str:
    """256 random bits, URL-safe, starting with a letter."""
    return secrets.choice(string.ascii_letters) + secrets.token_urlsafe(32)


class Credentials:
    """The secrets of one data dir; `read` never makes one, the other methods make it if missing."""

    def __init__(self, data_path: Path) -> None:
        self.folder = data_path / FOLDER

    def read(self, name: str) -> str | None:
        try:
            return (self.folder / name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def get(self, name: str) -> str:
        """The secret called `name`, made now (random, 256 bits) if this data dir has none yet."""
        found = self.read(name)
        if found is not None:
            return found
        private_folder(self.folder)
        path = self.folder / name
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            # URL-safe letters only: it goes into URLs, SQL literals and nats-server's environment.
            # A letter first: nats-server reads a `$VARIABLE` in its config as a value of its own
            # syntax, so one starting with "-" is taken for a number and stops it.
            f.write(new_secret() + "\n")
        try:
            os.link(tmp, path)  # fails if another process made it meanwhile: then theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        value = self.read(name)
        assert value is not None
        return value

    def nats_password(self, user: str) -> str:
        return self.get(f"nats-{user}")

    def nats_passwords(self) -> dict[str, str]:
        """Every NATS user's password, by user name."""
        return {user: self.nats_password(user) for user in NATS_USERS}

    def superuser_password(self) -> str:
        return self.get("postgres-superuser")

    def role_password(self, actor: str) -> str:
        """The password of `actor`'s own role (not its role name: the prefix may change)."""
        return self.get(f"postgres-role-{actor}")
