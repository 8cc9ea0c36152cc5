"""The embedded servers really start, accept connections, keep data across restarts and stop cleanly."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg
import pytest

from ops.embedded import FAST_SETTINGS, EmbeddedNats, EmbeddedPostgres, free_port, pid_alive

pytestmark = pytest.mark.slow


def read_info(url: str) -> dict[str, object]:
    host, port = url.removeprefix("nats://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        line = sock.makefile("rb").readline()
    assert line.startswith(b"INFO ")
    info: dict[str, object] = json.loads(line[5:])
    return info


def test_nats_starts_with_jetstream_and_stops(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path) as nats:
        assert nats.url.startswith("nats://127.0.0.1:")
        pid = nats.pid
        assert pid is not None and pid_alive(pid)
        info = read_info(nats.url)
        assert info["jetstream"] is True
        assert (tmp_path / "nats" / "nats.log").read_text().count("Server is ready") == 1
    assert not pid_alive(pid)
    assert nats.pid is None


def test_nats_on_a_given_port_restarts_on_the_same_dir(tmp_path: Path) -> None:
    port = free_port()
    for _ in range(2):
        with EmbeddedNats(tmp_path, port=port) as nats:
            assert nats.url == f"nats://127.0.0.1:{port}"
            assert read_info(nats.url)["port"] == port


def test_nats_port_taken_fails_with_the_log(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        nats = EmbeddedNats(tmp_path, port=busy.getsockname()[1])
        with pytest.raises(RuntimeError, match="did not start") as err:
            nats.start(timeout=5)
    assert "address already in use" in str(err.value)
    assert nats.pid is None


async def query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def test_postgres_keeps_data_across_restarts(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path, settings=FAST_SETTINGS)
    url = pg.start()
    try:
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        first_pid = pg.pid
        assert first_pid is not None and pid_alive(first_pid)
        assert asyncio.run(query(url, "SELECT 1 AS one"))[0]["one"] == 1
        assert asyncio.run(query(url, "SHOW max_connections"))[0][0] == "200"
        asyncio.run(query(url, "CREATE TABLE t (v text)"))
        asyncio.run(query(url, "INSERT INTO t VALUES ($1)", "kept"))
    finally:
        pg.stop()
    assert not pid_alive(first_pid)
    assert pg.pid is None

    with EmbeddedPostgres(tmp_path) as again:
        assert again.pid not in (None, first_pid)
        rows = asyncio.run(query(again.url, "SELECT v FROM t"))
        assert [r["v"] for r in rows] == ["kept"]
        second_pid = again.pid
    assert second_pid is not None and not pid_alive(second_pid)
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()


def test_postgres_stops_a_server_left_running_on_its_dir(tmp_path: Path) -> None:
    port = free_port()
    leftover = EmbeddedPostgres(tmp_path)
    leftover.start()  # never stopped by its owner, as after `kill -9 loans up`
    old_pid = leftover.pid
    assert old_pid is not None
    with EmbeddedPostgres(tmp_path, port=port) as pg:
        assert not pid_alive(old_pid)
        assert pg.url == f"postgresql://postgres@127.0.0.1:{port}/postgres"
        leftover.stop()  # its owner waking up late must not stop the newer server
        assert pg.pid is not None and pid_alive(pg.pid)
        assert asyncio.run(query(pg.url, "SELECT 1"))[0][0] == 1


NATS_PASSWORDS = {
    user: f"pw-{user}-{free_port()}" for user in ("edge", "users", "loans", "servicing", "tools")
}


def test_nats_with_passwords_lets_in_the_deploy_users_only(tmp_path: Path) -> None:
    """deploy/nats-authorization.conf with the given passwords: no anonymous login; files private."""
    import nats

    async def logins(url: str) -> None:
        with pytest.raises(Exception, match=r"(?i)authorization"):
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0)
        edge = await nats.connect(
            url, user="edge", password=NATS_PASSWORDS["edge"], inbox_prefix="_INBOX_edge"
        )
        await edge.close()

    with EmbeddedNats(tmp_path, passwords=NATS_PASSWORDS) as server:
        asyncio.run(logins(server.url))
        assert (tmp_path / "nats").stat().st_mode & 0o777 == 0o700
        assert (tmp_path / "nats" / "nats.log").stat().st_mode & 0o777 == 0o600


async def refused_without_password(url: str) -> None:
    parts = urlsplit(url)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=parts.hostname,
            port=parts.port,
            user="postgres",
            database="postgres",
            passfile="/nonexistent",
        )


def test_postgres_made_with_trust_asks_for_the_password_once_given_one(tmp_path: Path) -> None:
    """A data dir an earlier version made (trust) keeps its data and, from this start on, wants the
    password over TCP; pg_hba.conf is ours, the socket's folder is the server's alone."""
    with EmbeddedPostgres(tmp_path, settings=FAST_SETTINGS) as old:
        asyncio.run(query(old.url, "CREATE TABLE kept (v text)"))
        asyncio.run(query(old.url, "INSERT INTO kept VALUES ('from trust days')"))
    password = "s3cret/with:odd@chars"
    with EmbeddedPostgres(tmp_path, settings=FAST_SETTINGS, password=password) as pg:
        assert password not in pg.url  # quoted in the URL
        rows = asyncio.run(query(pg.url, "SELECT v FROM kept"))
        assert [r["v"] for r in rows] == ["from trust days"]
        asyncio.run(refused_without_password(pg.url))
        hba = (tmp_path / "postgres" / "pg_hba.conf").read_text()
        assert "trust" not in hba and hba.count("scram-sha-256") == 3
        socket_dir = Path((tmp_path / "postgres" / "postmaster.pid").read_text().splitlines()[4])
        assert socket_dir.stat().st_mode & 0o777 == 0o700
    # a new password (a rotation: the credentials file changed) is the server's at the next start
    with EmbeddedPostgres(tmp_path, settings=FAST_SETTINGS, password="rotated") as again:
        assert asyncio.run(query(again.url, "SELECT 1"))[0][0] == 1
        old_url = again.url.replace("rotated", quote(password, safe=""))
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(query(old_url, "SELECT 1"))
