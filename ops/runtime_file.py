"""Where a running `loans up` says its servers are, so other `loans` commands find them.

`<data dir>/runtime.json` (0600) holds URLs without passwords, and whether the servers are
`loans up`'s own; the passwords of its own servers are read from `<data dir>/credentials/`
(ops/credentials.py), as the operator who started it can. A tool logs in to NATS as `tools` and to
Postgres as the superuser (`loans migrate`) or an actor's role (`loans admin create`); a worker or
edge started by hand beside it takes its own component's logins only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from actors.contracts.config import Settings, load_settings
from ops.credentials import SUPERUSER, TOOLS_USER, Credentials
from ops.registry import ACTORS

FILE_NAME = "runtime.json"


def write(
    settings: Settings,
    nats_url: str,
    database_url: str,
    http_url: str,
    *,
    own_nats: bool = False,
    own_postgres: bool = False,
) -> Path:
    """Record the servers; `own_*`: embedded, with their passwords under the data dir."""
    path = settings.data_path / FILE_NAME
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        record = {"nats_url": nats_url, "database_url": database_url, "http_url": http_url}
        json.dump({**record, "own_nats": own_nats, "own_postgres": own_postgres}, f)
    os.replace(tmp, path)
    return path


def remove(settings: Settings) -> None:
    (settings.data_path / FILE_NAME).unlink(missing_ok=True)


def settings_with_running_system(component: str | None = None) -> Settings:
    """The environment's settings, filling what is unset from a `loans up` running on this data dir.

    `component`: None for a tool (an operator's logins), "edge" or an actor's name for a process of
    that component (its own logins alone), "up" for `loans up` itself (nothing: it starts them).
    """
    settings = load_settings()
    path = settings.data_path / FILE_NAME
    if component == "up" or not path.exists():
        return settings
    running: dict[str, Any] = json.loads(path.read_text())
    credentials = Credentials(settings.data_path)
    values: dict[str, Any] = {}
    if settings.nats_url is None:
        values["nats_url"] = running.get("nats_url")
        if running.get("own_nats") and settings.nats_user is None:
            user = component or TOOLS_USER
            values["nats_user"] = user
            values["nats_password"] = credentials.read(f"nats-{user}")
    url = running.get("database_url")
    if url and component is None and settings.database_url is None:
        password = credentials.read("postgres-superuser") if running.get("own_postgres") else None
        values["database_url"] = _logged_in(url, SUPERUSER, password) if password else url
    if url and component in ACTORS and settings.database_url is None:
        values["actor_database_urls"] = {component: url, **settings.actor_database_urls}
    # the roles' passwords `loans up` made (an operator's LOANS_<ACTOR>_DB_PASSWORD comes first)
    made = {a: pw for a in ACTORS if (pw := credentials.read(f"postgres-role-{a}")) is not None}
    if component is not None:
        made = {a: pw for a, pw in made.items() if a == component}
    if made:
        values["actor_db_passwords"] = {**made, **settings.actor_db_passwords}
    return load_settings(**values)


def _logged_in(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    auth = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return urlunsplit((parts.scheme, f"{auth}@{host}", parts.path, parts.query, parts.fragment))
