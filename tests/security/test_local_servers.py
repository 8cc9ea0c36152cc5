"""`loans up` is not open to every local process (issue 12 H3): its NATS wants a component's user,
its Postgres a password, its files and folders are its owner's alone; its children hold only their
own logins (M4); and the operator's tools still work beside it."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import nats
import pytest

from tests.support.local_up import LocalUp, local_up
from tests.support.people import PASSWORD, new_email
from tests.support.polling import eventually

pytestmark = pytest.mark.slow
ACTOR_NAMES = ("users", "loans", "servicing")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalUp]:
    with local_up(tmp_path_factory.mktemp("up") / "data") as running:
        yield running


def nats_url(up: LocalUp) -> str:
    return str(up.runtime()["nats_url"])


def pg_address(up: LocalUp) -> tuple[str, int]:
    parts = urlsplit(up.runtime()["database_url"])
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


async def _connect_nats(url: str, **login: str) -> nats.aio.client.Client:
    return await nats.connect(
        url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **login
    )


@pytest.mark.anyio
async def test_nats_refuses_a_process_without_a_components_login(up: LocalUp) -> None:
    """No user, an unknown user, or a component's user with a wrong password: refused."""
    for login in ({}, {"user": "nobody", "password": "x"}, {"user": "tools", "password": "wrong"}):
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await _connect_nats(nats_url(up), **login)
    # the operator's login, read from the data dir, is let in
    tools = await _connect_nats(nats_url(up), user="tools", password=up.secret("nats-tools"))
    await tools.close()


@pytest.mark.anyio
async def test_a_components_login_reaches_only_its_own_subjects(up: LocalUp) -> None:
    """The loans worker's password does not read the edge's replies (tokens) nor ask users.login."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    nc = await nats.connect(
        nats_url(up),
        user="loans",
        password=up.secret("nats-loans"),
        inbox_prefix="_INBOX_loans",
        error_cb=on_error,
        allow_reconnect=False,
    )
    try:
        for verb, subject in (("subscription", "_INBOX_edge.>"), ("subscription", "_INBOX.>")):
            await nc.subscribe(subject)
            await nc.flush()
            await eventually(partial(_refused, subject, errors), timeout=5, what=f"{verb} to {subject}")
        for subject in ("users.login", "$JS.API.STREAM.PURGE.EVENTS"):
            await nc.publish(subject, b"{}")
            await nc.flush()
            await eventually(partial(_refused, subject, errors), timeout=5, what=f"publish to {subject}")
    finally:
        await nc.close()


def _refused(subject: str, errors: list[str]) -> bool:
    return any("permissions violation" in e and f'"{subject.lower()}"' in e for e in errors)


@pytest.mark.anyio
async def test_postgres_asks_every_login_for_its_password(up: LocalUp) -> None:
    """No password, a wrong one, another role's: refused; each login with its own: let in."""
    host, port = pg_address(up)
    connect = partial(
        asyncpg.connect,
        host=host,
        port=port,
        database="postgres",
        timeout=5,
        passfile=str(up.data_dir.parent / "no-pgpass"),
    )
    refusals = [
        {"user": "postgres"},
        {"user": "postgres", "password": "wrong"},
        {"user": "loans_loans"},
        {"user": "loans_loans", "password": up.secret("postgres-role-users")},
    ]
    for login in refusals:
        with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
            await connect(**login)
    for user, secret in [("postgres", "postgres-superuser")] + [
        (f"loans_{a}", f"postgres-role-{a}") for a in ACTOR_NAMES
    ]:
        con = await connect(user=user, password=up.secret(secret))
        assert await con.fetchval("SELECT current_user") == user
        await con.close()


def test_files_and_folders_are_the_owners_alone(up: LocalUp) -> None:
    """Nothing under the data dir is readable, writable or enterable by others; credentials 0600."""
    as_root = os.geteuid() == 0
    top = up.data_dir.stat().st_mode & 0o777
    # as root, the Postgres server runs as its own system user, which must get through to its data
    assert top == (0o710 if as_root else 0o700), oct(top)
    loose = []
    for path in up.data_dir.rglob("*"):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or stat.S_ISSOCK(mode):
            continue
        if mode & 0o077:
            loose.append(f"{path.relative_to(up.data_dir)} {oct(mode & 0o777)}")
    assert loose == []
    credentials = up.data_dir / "credentials"
    names = sorted(p.name for p in credentials.iterdir())
    expected = [f"nats-{u}" for u in ("edge", "loans", "servicing", "tools", "users")]
    assert set(expected) | {"postgres-superuser"} <= set(names)
    assert all((credentials / n).stat().st_mode & 0o777 == 0o600 for n in names)
    assert (up.data_dir / "runtime.json").stat().st_mode & 0o777 == 0o600
    assert (up.data_dir / "jwt" / "ed25519.pem").stat().st_mode & 0o777 == 0o600
    # the unix socket's folder (the postmaster's 5th line) is the server's alone
    socket_dir = Path((up.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[4])
    assert socket_dir.stat().st_mode & 0o777 == 0o700


def test_runtime_file_names_servers_and_holds_no_password(up: LocalUp) -> None:
    text = (up.data_dir / "runtime.json").read_text()
    secrets = [
        (up.data_dir / "credentials" / p.name).read_text().strip()
        for p in (up.data_dir / "credentials").iterdir()
    ]
    assert not [s for s in secrets if s in text]
    assert json.loads(text)["database_url"].startswith("postgresql://127.0.0.1:")


def test_each_child_holds_only_its_own_logins(up: LocalUp) -> None:
    """M4: no worker nor the edge has the privileged URL or the superuser's password; a worker has
    its own role's password and NATS user alone; the edge no database at all."""
    children = up.children()
    assert len(children) == len(ACTOR_NAMES) + 1
    superuser = up.secret("postgres-superuser")
    roles = {a: up.secret(f"postgres-role-{a}") for a in ACTOR_NAMES}
    nats_passwords = {u: up.secret(f"nats-{u}") for u in ("edge", "tools", *ACTOR_NAMES)}
    for child in children:
        argv = child.cmdline()
        component = argv[argv.index("worker") + 1] if "worker" in argv else "edge"
        env = child.environ()
        values = "\n".join(env.values())
        assert "LOANS_DATABASE_URL" not in env and "LOANS_DB_ROLE_PASSWORD" not in env, component
        assert superuser not in values, component
        assert env["LOANS_NATS_USER"] == component and env["LOANS_NATS_PASSWORD"] == nats_passwords[component]
        others = [pw for user, pw in nats_passwords.items() if user != component]
        assert not [pw for pw in others if pw in values], component
        database_vars = sorted(k for k in env if k.endswith(("_DATABASE_URL", "_DB_PASSWORD")))
        if component == "edge":
            assert database_vars == [] and not [pw for pw in roles.values() if pw in values]
            continue
        assert database_vars == [
            f"LOANS_{component.upper()}_DATABASE_URL",
            f"LOANS_{component.upper()}_DB_PASSWORD",
        ]
        assert env[f"LOANS_{component.upper()}_DB_PASSWORD"] == roles[component]
        assert "@" not in env[f"LOANS_{component.upper()}_DATABASE_URL"]  # no login in the URL
        assert not [pw for a, pw in roles.items() if a != component and pw in values], component


def test_the_operators_tools_work_beside_it(up: LocalUp) -> None:
    """`loans admin create`, `loans request`, `loans cob status`, `loans stats`: each finds the
    servers and its logins through the data dir alone."""
    email = new_email("localadmin")
    created = up.tool("admin", "create", "--email", email, "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    login = httpx.post(f"{up.url}/api/user/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    token = login.json()["data"]["access_token"]
    profile = up.tool("request", "users.profile", "{}", "--token-stdin", stdin=token + "\n")
    assert profile.returncode == 0 and email in profile.stdout, profile.stderr
    cob = up.tool("cob", "status", LOANS_TOKEN=token)
    assert cob.returncode in (0, 1) and "configuration" not in cob.stderr, cob.stderr
    assert "not authorized" not in cob.stderr.lower() and "timeout" not in cob.stderr.lower(), cob.stderr
    stats = up.tool("stats")
    assert stats.returncode == 0 and "users.login" in stats.stdout, stats.stderr
    migrated = up.tool("migrate")  # the superuser's login, from the data dir
    assert migrated.returncode == 0, migrated.stderr


def test_an_actor_role_reads_no_other_schema(up: LocalUp) -> None:
    """Logged in with its own password, the loans role is refused the users schema."""
    host, port = pg_address(up)

    async def check() -> None:
        con = await asyncpg.connect(
            host=host,
            port=port,
            database="postgres",
            user="loans_loans",
            password=up.secret("postgres-role-loans"),
        )
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await con.fetch("SELECT * FROM users.users LIMIT 1")
        finally:
            await con.close()

    asyncio.run(check())


def test_nothing_it_prints_holds_a_password(up: LocalUp) -> None:
    """`loans up`'s own output (the URLs it lists, the children's logs) names no secret."""
    printed = up.log.read_text(errors="replace")
    assert "loan-actors is up" in printed
    folder = up.data_dir / "credentials"
    secrets = [(folder / p.name).read_text().strip() for p in folder.iterdir()]
    assert [s for s in secrets if s in printed] == []
