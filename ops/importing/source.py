"""The monolith's tables as Django made them, read with asyncpg (nothing here writes to them).

Its apps are labelled `user` and `loan`: `user_user` (AbstractUser plus is_customer, is_agent,
is_admin, is_approved), `loan_loan` and django-simple-history's `loan_historicalloan`. Loans are
read in id order, a page at a time (keyset: no OFFSET), with the history of each page.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Tables:
    users: str = "user_user"
    loans: str = "loan_loan"
    history: str = "loan_historicalloan"

    def __post_init__(self) -> None:
        for name in (self.users, self.loans, self.history):
            if not _NAME.match(name):  # names go into the SQL text: plain identifiers only
                raise ValueError(f"not a table name: {name!r}")


_LOAN_FIELDS = (
    "id, user_id, granted_by_id, principal, interest, emi, amount, months, status, "
    "start_date, end_date, created_at, modified_at"
)


async def users(con: asyncpg.Connection, tables: Tables) -> list[asyncpg.Record]:
    return await con.fetch(
        f"""SELECT id, email, password, first_name, last_name, is_active, date_joined,
                   is_customer, is_agent, is_admin, is_approved
            FROM {tables.users} ORDER BY id"""
    )


async def loan_count(con: asyncpg.Connection, tables: Tables) -> int:
    return int(await con.fetchval(f"SELECT count(*) FROM {tables.loans}"))


async def loan_pages(
    con: asyncpg.Connection, tables: Tables, size: int
) -> AsyncIterator[tuple[list[asyncpg.Record], dict[int, list[asyncpg.Record]]]]:
    """(loans, their history rows by loan id, oldest first) a page at a time, in id order."""
    after = -1
    while True:
        page = await con.fetch(
            f"SELECT {_LOAN_FIELDS} FROM {tables.loans} WHERE id > $1 ORDER BY id LIMIT $2", after, size
        )
        if not page:
            return
        after = page[-1]["id"]
        rows = await con.fetch(
            f"""SELECT {_LOAN_FIELDS}, history_id, history_date, history_type, history_user_id
                FROM {tables.history} WHERE id = ANY($1::bigint[])
                ORDER BY id, history_date, history_id""",
            [r["id"] for r in page],
        )
        history: dict[int, list[asyncpg.Record]] = {}
        for row in rows:
            history.setdefault(row["id"], []).append(row)
        yield page, history
