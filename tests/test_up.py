"""`loans up` as a newcomer runs it: everything embedded, stopped and started again, nothing lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from ops.embedded import EmbeddedPostgres, free_port
from tests.support.local_up import local_up
from tests.support.people import PASSWORD, new_email


def test_loans_up_serves_the_api_and_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    """Signup through the first run; the second run (same data dir) still knows the user."""
    email = new_email("persist")
    data, port = tmp_path / "data", free_port()
    with local_up(data, port=port) as up:
        body = {
            "email": email,
            "password": PASSWORD,
            "first_name": "Per",
            "last_name": "Sist",
            "role": "customer",
        }
        signed_up = httpx.post(f"{up.url}/api/user/signup", json=body, timeout=10)
        assert signed_up.status_code == 201
        # every actor of the registry runs: the servicing worker answers its route
        token = signed_up.json()["data"]["access_token"]
        today = httpx.get(
            f"{up.url}/api/servicing/business-date", headers={"Authorization": f"Bearer {token}"}
        )
        assert today.status_code == 200, today.text
        assert (data / "runtime.json").exists()
    assert up.process.returncode == 0  # Ctrl-C is a clean stop
    assert not (data / "runtime.json").exists()
    with local_up(data, port=port) as up:
        login = httpx.post(
            f"{up.url}/api/user/login", json={"email": email, "password": PASSWORD}, timeout=10
        )
        assert login.status_code == 200
        token = login.json()["data"]["access_token"]
        profile = httpx.get(
            f"{up.url}/api/user/profile", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert profile.json()["data"]["email"] == email
        # the internal-tool path, finding the running system through the data dir
        done = up.tool("request", "users.profile", "{}", "--token", token)
        assert done.returncode == 0 and email in done.stdout
    assert up.process.returncode == 0


def test_loans_up_brings_over_a_data_dir_an_earlier_version_made(tmp_path: Path) -> None:
    """Trust-auth Postgres, 0755 folders and 0644 files (as before issue 12 H3): the data is kept, and
    from this start on Postgres wants a password and nothing is open to other users."""
    data = tmp_path / "data"
    with EmbeddedPostgres(data) as old:  # the earlier `loans up`: trust, no password
        asyncio.run(
            _execute(
                old.url,
                "CREATE TABLE left_from_before (v text); INSERT INTO left_from_before VALUES ('kept')",
            )
        )
    data.chmod(0o755)
    (data / "jwt").mkdir(mode=0o755)
    (data / "mail").mkdir(mode=0o755)
    (data / "mail" / "old.eml").write_text("Subject: hi\n\n")
    (data / "mail" / "old.eml").chmod(0o644)
    with local_up(data) as up:
        parts = urlsplit(up.runtime()["database_url"])
        with pytest.raises(asyncpg.InvalidPasswordError):
            asyncio.run(
                _execute(f"postgresql://postgres@{parts.netloc}/postgres?passfile=/nonexistent", "SELECT 1")
            )
        password = up.secret("postgres-superuser")
        rows = asyncio.run(
            _execute(
                f"postgresql://postgres:{password}@{parts.netloc}/postgres", "SELECT v FROM left_from_before"
            )
        )
        assert rows == "kept"
        for path in (data / "jwt", data / "mail", data / "mail" / "old.eml"):
            assert path.stat().st_mode & 0o077 == 0, path


async def _execute(url: str, sql: str) -> object:
    con = await asyncpg.connect(url)
    try:
        return await con.fetchval(sql) if sql.startswith("SELECT") else await con.execute(sql)
    finally:
        await con.close()
