"""db/loans/0006: stored amounts of EMI × months become the schedule's sum, each with a history row."""

from __future__ import annotations

import json
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from actors.contracts.config import Settings, load_settings
from actors.loans import money
from actors.runtime.migrate import migrate
from ops.registry import ACTORS
from tests.support.databases import create_database, drop_database, with_database

pytestmark = pytest.mark.anyio

D = Decimal
MIGRATION = "0006_amount_is_what_is_paid.sql"
SYSTEM = uuid.UUID("00000000-0000-0000-0000-000000000006")  # the migration's changed_by
LOANS_DIR = Path(__file__).resolve().parents[2] / "db" / "loans"
INSERT = """
INSERT INTO loans (id, customer_id, customer_email, customer_name, agent_id, agent_email, principal,
                   interest, months, emi, amount, status, start_date, end_date, version,
                   created_at, modified_at)
VALUES ($1, $2, 'c@example.com', 'C', $3, 'a@example.com', $4, $5, $6, $7, $8, $9, $10, $11, $12,
        $13, $13)"""


@dataclass(frozen=True)
class Stored:
    """A loan as the older code stored it: amount = EMI × months."""

    id: uuid.UUID
    principal: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    status: str = "NEW"
    version: int = 1


def old_style(principal: str, months: int, *, emi: str | None = None, status: str = "NEW") -> Stored:
    terms = money.terms_for(D(principal), months)
    instalment = D(emi) if emi is not None else terms.emi
    return Stored(
        uuid.uuid4(),
        D(principal),
        months,
        instalment,
        instalment * months,
        status,
        2 if status != "NEW" else 1,
    )


@pytest.fixture
async def database(
    server_urls: tuple[str, str], tmp_path: Path
) -> AsyncIterator[tuple[Settings, asyncpg.Connection, Path]]:
    """A fresh database with the loans schema migrated up to 0005, and its migrations folder."""
    _, admin_url = server_urls
    run = uuid.uuid4().hex[:8]
    name = f"loans_amount_{run}"
    migrations = tmp_path / "db"
    (migrations / "loans").mkdir(parents=True)
    for path in sorted(LOANS_DIR.glob("*.sql")):
        if path.name < MIGRATION:
            shutil.copy(path, migrations / "loans" / path.name)
    settings = load_settings(
        {},
        database_url=with_database(admin_url, name),
        db_role_prefix=f"lm{run}_",
        data_dir=str(tmp_path / "data"),
        migrations_dir=str(migrations),
    )
    await create_database(admin_url, name)
    try:
        await migrate(settings, ["loans"])
        con = await asyncpg.connect(settings.database_url, server_settings={"search_path": "loans"})
        try:
            yield settings, con, migrations
        finally:
            await con.close()
    finally:
        await drop_database(admin_url, name, [settings.role_for(a) for a in ACTORS])


async def store(con: asyncpg.Connection, loans: list[Stored], at: datetime) -> None:
    await con.executemany(
        INSERT,
        [
            (
                loan.id, uuid.uuid4(), uuid.uuid4(), loan.principal, money.interest_rate_for(loan.principal),
                loan.months, loan.emi, loan.amount, loan.status,
                date(2025, 1, 31) if loan.status == "APPROVED" else None,
                money.add_months(date(2025, 1, 31), loan.months) if loan.status == "APPROVED" else None,
                loan.version, at,
            )
            for loan in loans
        ],
    )  # fmt: skip


async def apply_0006(settings: Settings, migrations: Path) -> None:
    shutil.copy(LOANS_DIR / MIGRATION, migrations / "loans" / MIGRATION)
    assert await migrate(settings, ["loans"]) == [f"loans/{MIGRATION}"]


async def test_old_amounts_become_the_schedule_sum_with_a_history_row(
    database: tuple[Settings, asyncpg.Connection, Path],
) -> None:
    settings, con, migrations = database
    fifty = old_style("50000", 12)  # the design's example: 52,317.96 stored, 52,317.98 paid
    approved = old_style("1000000", 60, status="APPROVED")
    one_month = old_style("10200", 1, emi="10271.82")  # the older EMI, a half cent short
    right = old_style("20000", 1)  # one month: EMI × 1 is already the one payment
    assert (fifty.amount, approved.amount, right.amount) == (D("52317.96"), D("1274822.40"), D("20140.83"))
    then = datetime(2025, 1, 31, 9, 30, tzinfo=UTC)
    await store(con, [fifty, approved, one_month, right], then)

    before = datetime.now(UTC)
    await apply_0006(settings, migrations)

    rows = {r["id"]: r for r in await con.fetch("SELECT id, emi, amount, version, modified_at FROM loans")}
    assert (rows[fifty.id]["amount"], rows[fifty.id]["version"]) == (D("52317.98"), 2)
    assert (rows[approved.id]["amount"], rows[approved.id]["version"]) == (D("1274822.84"), 3)
    assert (rows[one_month.id]["emi"], rows[one_month.id]["amount"]) == (D("10271.83"), D("10271.83"))
    assert (rows[right.id]["amount"], rows[right.id]["version"]) == (D("20140.83"), 1)  # untouched
    assert all(r["modified_at"] == then for r in rows.values())  # nobody changed the loans

    history = {
        r["loan_id"]: r
        for r in await con.fetch(
            "SELECT loan_id, version, change, changed_by, changed_at, fields FROM loan_history"
        )
    }
    assert set(history) == {fifty.id, approved.id, one_month.id}
    fields = {loan_id: json.loads(r["fields"]) for loan_id, r in history.items()}
    assert fields[fifty.id] == {"amount": {"old": "52317.96", "new": "52317.98"}}
    assert fields[approved.id] == {"amount": {"old": "1274822.40", "new": "1274822.84"}}
    assert fields[one_month.id] == {
        "amount": {"old": "10271.82", "new": "10271.83"},
        "emi": {"old": "10271.82", "new": "10271.83"},
    }
    for loan_id, row in history.items():
        assert (row["version"], row["change"], row["changed_by"]) == (
            rows[loan_id]["version"],
            "amount_recomputed",
            SYSTEM,
        )
        assert before - timedelta(seconds=5) < row["changed_at"] < datetime.now(UTC) + timedelta(seconds=5)


async def test_the_sql_sum_is_the_schedule_sum_of_money_py(
    database: tuple[Settings, asyncpg.Connection, Path],
) -> None:
    """The migration's own schedule (a recursive query) against money.py's, on loans of every tier
    and length, and on half cents of interest (1,000,000.20 at 10 %: 8,333.335 the first month)."""
    settings, con, migrations = database
    rng = random.Random(6)
    terms = [("1000000.20", 12), ("2500000.50", 480), ("10000.00", 480), ("100000000.00", 480)]
    for _ in range(300):
        principal = D(rng.randint(1_000_000, 10_000_000_000)).scaleb(-2)
        terms.append((str(principal), rng.choice([1, 2, 3, rng.randint(1, 480)])))
    loans = [old_style(principal, months) for principal, months in terms]
    await store(con, loans, datetime.now(UTC))

    await apply_0006(settings, migrations)

    amounts = {r["id"]: r["amount"] for r in await con.fetch("SELECT id, amount FROM loans")}
    for loan in loans:
        rows = money.schedule(loan.principal, money.interest_rate_for(loan.principal), loan.months)
        paid = sum((row.payment for row in rows), D(0))
        assert amounts[loan.id] == paid == money.terms_for(loan.principal, loan.months).amount, loan
