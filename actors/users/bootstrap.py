"""`loans admin create`: the first admin, written straight into the users schema as its role."""

from __future__ import annotations

import asyncpg

from actors.contracts.config import Settings
from actors.contracts.users import CreateAdmin, User
from actors.runtime.db import create_pool
from actors.users.accounts import clean_names, insert_user
from actors.users.actor import actor
from actors.users.passwords import Passwords, check_length


async def create_admin(settings: Settings, req: CreateAdmin) -> User:
    raw = check_length(req.password)
    clean_names(req.first_name, req.last_name)
    passwords = Passwords(settings.bcrypt_cost, 1)
    try:
        hashed = await passwords.hash(raw)
    finally:
        passwords.close()
    pool: asyncpg.Pool = await create_pool(settings, actor.name)
    try:
        async with pool.acquire() as con, con.transaction():
            return await insert_user(con, settings, req, hashed, "admin", "active")
    finally:
        await pool.close()
