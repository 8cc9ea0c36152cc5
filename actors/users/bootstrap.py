"""`loans admin create`: the first admin, written straight into the users schema as its role."""

from __future__ import annotations

import uuid

import asyncpg

from actors.config import Settings
from actors.db import create_pool
from actors.errors import Conflict
from actors.users import queries as q
from actors.users.handlers import clean_names, to_user
from actors.users.messages import CreateAdmin, User
from actors.users.passwords import Passwords, check_length


async def create_admin(settings: Settings, req: CreateAdmin) -> User:
    raw = check_length(req.password)
    first, last = clean_names(req.first_name, req.last_name)
    passwords = Passwords(settings.bcrypt_cost, 1)
    try:
        hashed = await passwords.hash(raw)
    finally:
        passwords.close()
    pool: asyncpg.Pool = await create_pool(settings, "users")
    try:
        row = await pool.fetchrow(
            q.insert_user,
            uuid.uuid4(),
            req.email.strip(),
            hashed,
            first,
            last,
            "admin",
            "active",
        )
    finally:
        await pool.close()
    if row is None:
        raise Conflict("a user with this email already exists", code="email_taken")
    return to_user(row)
