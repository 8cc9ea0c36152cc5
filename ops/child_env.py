"""What `loans up` hands each child process: what that component needs and nothing more (issue 12 M4).

A worker gets its own NATS user and password, its actor's server (a URL without credentials) and
its own role's password: never LOANS_DATABASE_URL (the login that creates roles), another role's
password or another component's NATS password. The edge gets its NATS user and no database at
all. The rest of `loans up`'s environment passes on (PATH, OTEL_*), except the LOANS_* variables
the operator set (rebuilt from the child's settings) and libpq's PGPASSWORD / PGPASSFILE, which
asyncpg would fall back on and which may hold the privileged login.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import msgspec

from actors.contracts.config import PREFIX, Settings, to_environ
from ops.registry import ACTORS

_DROPPED = frozenset({"PGPASSWORD", "PGPASSFILE"})


def without_credentials(url: str) -> str:
    """`url` with no user or password in it: where a server is, not how to log in to it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def child_settings(settings: Settings, component: str, nats_password: str | None) -> Settings:
    """`settings` as `component` ("edge" or an actor) may hold them; `nats_password`: its own NATS
    user's (embedded NATS), or None to keep the NATS login `loans up` was given."""
    confined = msgspec.structs.replace(
        settings, database_url=None, actor_database_urls={}, actor_db_passwords={}, db_role_password=None
    )
    if nats_password is not None:
        confined = msgspec.structs.replace(confined, nats_user=component, nats_password=nats_password)
    if component not in ACTORS:
        return confined
    own_password = settings.db_password_for(component)
    return msgspec.structs.replace(
        confined,
        actor_database_urls={component: without_credentials(settings.database_url_for(component))},
        actor_db_passwords={component: own_password} if own_password is not None else {},
    )


def child_environ(settings: Settings, component: str, nats_password: str | None) -> dict[str, str]:
    """The whole environment of `component`'s process."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(PREFIX) and k not in _DROPPED}
    return {**inherited, **to_environ(child_settings(settings, component, nats_password))}
