"""`loans import django` against a real monolith database made by Django and django-simple-history
(tests/imports/monolith/): dry run, a run killed half-way and resumed, a rerun; then old passwords,
old integer ids on the old paths, and every loan field as design.md's rules say it must be."""

from __future__ import annotations

import asyncio
import calendar
import csv
import json
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from nats.aio.client import Client

from actors.contracts.config import Settings
from tests.support.databases import create_database, drop_database, with_database
from tests.support.people import Person, admin
from tests.support.polling import eventually
from tests.support.processes import LOANS, env_for, run_loans

pytestmark = pytest.mark.anyio
NAMESPACE = uuid.UUID("6f1d3c52-9a4e-5b8f-8c2d-1e0f4a7b9c3d")  # as actors/contracts/imports.py fixes it
CENT = Decimal("0.01")


def user_id(n: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"user:{n}"))


def loan_id(n: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"loan:{n}"))


def half_up(value: Fraction | Decimal | str) -> Decimal:
    exact = Fraction(value) if not isinstance(value, Fraction) else value
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def design_terms(principal: Decimal, rate: Decimal, months: int) -> tuple[Decimal, Decimal]:
    """(EMI, amount) by design.md §5: EMI half-up to cents; amount the sum of the schedule's
    payments, each month's interest half-up, the last payment clearing the balance."""
    r = Fraction(rate) / 1200
    growth = (1 + r) ** months
    emi = (
        half_up(Fraction(principal) * r * growth / (growth - 1))
        if r
        else half_up(Fraction(principal) / months)
    )
    balance, paid = principal, Decimal("0.00")
    for month in range(1, months + 1):
        interest = half_up(Fraction(balance) * r)
        part = balance if month == months else min(emi - interest, balance)
        paid += interest + part
        balance -= part
    return emi, paid


def plus_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass
class Monolith:
    url: str
    facts: dict[str, Any]
    report: Path
    runs: list[subprocess.CompletedProcess[str]]


async def _snapshot(settings: Settings, legacy_loans: list[int]) -> tuple[Any, ...]:
    """Users imported; count and principal of this monolith's loans and their history rows (only
    theirs: the session's database holds other tests' loans and history too)."""
    con = await asyncpg.connect(settings.database_url)
    try:
        return (
            await con.fetchval("SELECT count(*) FROM users.users WHERE legacy_id IS NOT NULL"),
            tuple(
                await con.fetchrow(
                    "SELECT count(*), sum(principal) FROM loans.loans WHERE legacy_id = ANY($1::bigint[])",
                    legacy_loans,
                )
            ),
            await con.fetchval(
                "SELECT count(*) FROM loans.loan_history h JOIN loans.loans l ON l.id = h.loan_id"
                " WHERE l.legacy_id = ANY($1::bigint[])",
                legacy_loans,
            ),
        )
    finally:
        await con.close()


async def _history_by_loan(settings: Settings, legacy_loans: list[int]) -> dict[int, int]:
    con = await asyncpg.connect(settings.database_url)
    try:
        rows = await con.fetch(
            "SELECT l.legacy_id, count(*) AS n FROM loans.loan_history h JOIN loans.loans l"
            " ON l.id = h.loan_id WHERE l.legacy_id = ANY($1::bigint[]) GROUP BY l.legacy_id",
            legacy_loans,
        )
        return {r["legacy_id"]: r["n"] for r in rows}
    finally:
        await con.close()


async def _source(url: str, query: str, *args: Any) -> list[Any]:
    con = await asyncpg.connect(url)
    try:
        return [r[0] for r in await con.fetch(query, *args)]
    finally:
        await con.close()


async def _loan_events(nc: Client, settings: Settings) -> int:
    info = await nc.jetstream().stream_info(
        settings.events_stream, subjects_filter=f"{settings.events_prefix}.loans.>"
    )
    return sum((info.state.subjects or {}).values())


async def _import(
    settings: Settings, url: str, report: Path, token: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """The import as a process of its own; in a thread, so the in-process workers keep answering."""
    args = ("import", "django", "--source", url, "--report", str(report), "--token-stdin", *extra)
    return await asyncio.to_thread(run_loans, settings, *args, stdin=token + "\n", timeout=60)


@pytest.fixture(scope="module")
async def boss(client: httpx.AsyncClient, settings: Settings) -> Person:
    return await admin(client, settings)


@pytest.fixture(scope="module")
async def monolith(
    server_urls: tuple[str, str],
    settings: Settings,
    boss: Person,
    nc: Client,
    client: httpx.AsyncClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Monolith]:
    """The monolith built by Django, imported: a dry run, a run killed half-way, the resumed run."""
    name = f"monolith_{uuid.uuid4().hex[:8]}"
    url = with_database(server_urls[1], name)
    await create_database(server_urls[1], name)
    built = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.imports.monolith.build", "60", "150"],
        env={**env_for(settings), "MONOLITH_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    facts = json.loads(built.stdout)
    # Side by side: someone signed up here with a monolith user's email before the import.
    taken = facts["customers"][59]
    signed_up = {"email": "cust59@monolith.example", "password": "a-new-password", "role": "customer"}
    answer = await client.post("/api/user/signup", json={**signed_up, "first_name": "N", "last_name": "E"})
    assert answer.status_code == 201, answer.text
    con = await asyncpg.connect(url)
    try:
        facts["taken"] = taken
        facts["all_loans"] = [r["id"] for r in await con.fetch("SELECT id FROM loan_loan")]
        facts["taken_loans"] = [
            r["id"] for r in await con.fetch("SELECT id FROM loan_loan WHERE user_id = $1", taken)
        ]
    finally:
        await con.close()
    report = tmp_path_factory.mktemp("import") / "report.csv"
    ours = facts["all_loans"]
    before, events_before = await _snapshot(settings, ours), await _loan_events(nc, settings)
    dry = await _import(settings, url, report, "", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing was sent or written" in dry.stdout
    assert await _snapshot(settings, ours) == before

    # Killed half-way: small batches, SIGKILL as soon as some loans are in.
    args = ("import", "django", "--source", url, "--report", str(report), "--token-stdin", "--batch", "5")
    killed = await asyncio.create_subprocess_exec(
        *LOANS,
        *args,
        env=env_for(settings),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert killed.stdin is not None
    killed.stdin.write(f"{boss.token}\n".encode())
    killed.stdin.close()

    async def some_loans_in() -> bool:
        return (await _snapshot(settings, ours))[1][0] > 0 or killed.returncode is not None

    await eventually(some_loans_in, timeout=30, interval=0.005, what="the import never started writing")
    killed.send_signal(signal.SIGKILL)
    await killed.wait()
    half = (await _snapshot(settings, ours))[1]
    resumed = await _import(settings, url, report, str(boss.token))
    # exit 1: the users actor refused the user whose email is taken here (and their loans stayed out)
    assert resumed.returncode == 1, resumed.stdout + resumed.stderr
    # the good ones and the one whose EMI is off; not those of the user whose email was taken
    facts["good_loans"] = [n for n in facts["loans"] if n not in facts["taken_loans"]] + [facts["emi_off"]]
    imported_loans = len(facts["good_loans"])

    async def one_event_a_loan() -> bool:
        return await _loan_events(nc, settings) - events_before == imported_loans

    await eventually(one_event_a_loan, timeout=15, what="not one event per imported loan")
    facts["half"] = half[0]
    yield Monolith(url, facts, report, [dry, resumed])
    await drop_database(server_urls[1], name, [])


async def test_killed_half_way_and_resumed_writes_each_loan_once(
    monolith: Monolith, settings: Settings
) -> None:
    """The kill left part of the loans; the resumed run wrote the rest, each once, with its history."""
    assert 0 < monolith.facts["half"] < len(monolith.facts["loans"]), "the kill did not land half-way"
    users, (loans, principal), history = await _snapshot(settings, monolith.facts["all_loans"])
    assert loans == len(monolith.facts["good_loans"])
    assert users == 1 + 6 + 59  # not: the duplicate email, the user with no role, the email taken
    expected = sum(
        Decimal(str(p)).quantize(CENT, rounding=ROUND_HALF_UP)
        for p in await _source(
            monolith.url, "SELECT principal FROM loan_loan WHERE id = ANY($1)", monolith.facts["good_loans"]
        )
    )
    assert principal == expected
    assert f"imported {expected:,.2f}" in monolith.runs[-1].stdout
    assert f"loan principal: source {expected:,.2f}" in monolith.runs[-1].stdout
    con = await asyncpg.connect(monolith.url)
    try:
        source_history = {
            r["id"]: r["n"]
            for r in await con.fetch(
                "SELECT id, count(*) AS n FROM loan_historicalloan WHERE id = ANY($1::bigint[]) GROUP BY id",
                monolith.facts["good_loans"],
            )
        }
    finally:
        await con.close()
    # each loan: the monolith's rows and one 'imported', no more
    want = {n: source_history.get(n, 0) + 1 for n in monolith.facts["good_loans"]}
    assert await _history_by_loan(settings, monolith.facts["all_loans"]) == want
    assert history == sum(want.values())
    assert "DISAGREEMENT" in monolith.runs[-1].stdout  # 66 users held where the source had 67


async def test_the_report_lists_every_bad_row_with_its_reason(monolith: Monolith) -> None:
    with monolith.report.open(newline="") as f:
        rows = {(r["table"], int(r["legacy_id"])): (r["outcome"], r["reason"]) for r in csv.DictReader(f)}
    bad, facts = monolith.facts["bad_loans"], monolith.facts
    assert rows[("loans", bad["small"])] == ("skipped", "principal 5000.00 is under the minimum of 10000.00")
    assert rows[("loans", bad["status"])] == ("skipped", "unknown status 'PENDING'")
    assert rows[("loans", bad["not_customer"])][1].startswith("its customer (user 3) is not")
    assert rows[("users", facts["duplicate"])][1].startswith("duplicate email by case of user 8")
    assert rows[("users", facts["no_role"])][0] == "skipped"
    assert rows[("loans", facts["emi_off"])] == (
        "note",
        "EMI recomputed 4359.83, the monolith said 4364.83 (kept in the loan's history)",
    )
    assert rows[("users", facts["taken"])] == ("refused", "email cust59@monolith.example is taken")
    for n in facts["taken_loans"]:
        assert rows[("loans", n)][1] == f"its customer (user {facts['taken']}) is not an imported customer"
    assert len(rows) == 7 + len(facts["taken_loans"])  # nothing else: every good row went in as it was


async def test_a_rerun_changes_nothing_and_emits_nothing(
    monolith: Monolith, settings: Settings, boss: Person, nc: Client
) -> None:
    ours = monolith.facts["all_loans"]
    before, events = await _snapshot(settings, ours), await _loan_events(nc, settings)
    again = await _import(settings, monolith.url, monolith.report, str(boss.token))
    assert again.returncode == 1, again.stdout + again.stderr  # the taken email, refused again
    assert await _snapshot(settings, ours) == before
    await asyncio.sleep(0.5)  # an event written would be published by now
    assert await _loan_events(nc, settings) == events
    loans_line = next(line for line in again.stdout.splitlines() if line.startswith("loans "))
    assert loans_line.split()[3] == "0"  # inserted


async def test_every_loan_field_follows_the_rules(
    monolith: Monolith, client: httpx.AsyncClient, boss: Person
) -> None:
    """Each imported loan read over REST: the monolith's values, money half-up to cents, EMI and
    amount by design.md's rules, the end date start + months; its history ends with 'imported'."""
    con = await asyncpg.connect(monolith.url)
    try:
        rows = await con.fetch(
            "SELECT * FROM loan_loan WHERE id = ANY($1::bigint[]) ORDER BY id",
            monolith.facts["good_loans"],
        )
        history = {
            r["id"]: r["n"]
            for r in await con.fetch("SELECT id, count(*) AS n FROM loan_historicalloan GROUP BY id")
        }
        people = {
            r["id"]: r for r in await con.fetch("SELECT id, email, first_name, last_name FROM user_user")
        }
    finally:
        await con.close()
    for row in rows:
        got = (await client.get(f"/api/loan/{loan_id(row['id'])}", headers=boss.headers)).json()["data"]
        principal = Decimal(str(row["principal"])).quantize(CENT, rounding=ROUND_HALF_UP)
        rate = Decimal(str(row["interest"])).quantize(CENT)
        emi, amount = design_terms(principal, rate, row["months"])
        start = row["start_date"].astimezone(UTC).date() if row["start_date"] else None
        expected = {
            "id": loan_id(row["id"]),
            "customer_id": user_id(row["user_id"]),
            "agent_id": user_id(row["granted_by_id"]),
            "principal": f"{principal:.2f}",
            "interest": f"{rate:.2f}",
            "months": row["months"],
            "emi": f"{emi:.2f}",
            "amount": f"{amount:.2f}",
            "status": row["status"],
            "start_date": start.isoformat() if start else None,
            "end_date": plus_months(start, row["months"]).isoformat() if start else None,
            "version": history[row["id"]] + 1,
        }
        assert {k: got[k] for k in expected} == expected
        assert datetime.fromisoformat(got["created_at"]) == row["created_at"]
        assert datetime.fromisoformat(got["modified_at"]) == row["modified_at"]
        customer, agent = people[row["user_id"]], people[row["granted_by_id"]]
        assert got["customer_email"] == customer["email"]
        assert got["customer_name"] == f"{customer['first_name']} {customer['last_name']}"
        assert got["agent_email"] == agent["email"]
    assert len(rows) == len(monolith.facts["good_loans"])
    off = (
        await client.get(f"/api/loan/{loan_id(monolith.facts['emi_off'])}/history", headers=boss.headers)
    ).json()["data"]
    assert [h["change"] for h in off] == ["created", "edited", "imported"]
    assert off[-1]["fields"]["emi"] == {"old": "4364.83", "new": "4359.83"}


async def test_old_passwords_log_in_once_then_bcrypt(
    monolith: Monolith, client: httpx.AsyncClient, settings: Settings
) -> None:
    cust = monolith.facts["customers"][3]
    email, password = "cust3@monolith.example", "old-cust3-pw"
    wrong = await client.post("/api/user/login", json={"email": email, "password": "not-it-at-all"})
    assert wrong.status_code == 401
    ok = await client.post("/api/user/login", json={"email": email, "password": password})
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["user"]["id"] == user_id(cust)
    con = await asyncpg.connect(settings.database_url)
    try:
        hashed = await con.fetchval(
            "SELECT password_hash FROM users.users WHERE id = $1", uuid.UUID(user_id(cust))
        )
    finally:
        await con.close()
    assert hashed.startswith("$2b$")
    again = await client.post("/api/user/login", json={"email": email, "password": password})
    assert again.status_code == 200


async def test_old_integer_ids_work_on_the_old_paths(
    monolith: Monolith, client: httpx.AsyncClient, boss: Person
) -> None:
    new_loan = next(n for i, n in enumerate(monolith.facts["loans"]) if i % 3 == 0)
    decided = await client.put(
        f"/api/loan/approve-reject-loan/{new_loan}", json={"status": "APPROVED"}, headers=boss.headers
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["data"]["id"] == loan_id(new_loan)
    pending = monolith.facts["agents"][5]
    approved = await client.put(
        f"/api/user/approve-delete/{pending}", json={"is_approved": True}, headers=boss.headers
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["id"] == user_id(pending)
    schedule = await client.get(f"/api/loan/{new_loan}/schedule", headers=boss.headers)
    assert schedule.status_code == 200
    assert (await client.get("/api/loan/999999", headers=boss.headers)).status_code == 404


async def test_approved_loans_have_servicing_accounts(
    monolith: Monolith, client: httpx.AsyncClient, boss: Person
) -> None:
    approved = next(n for i, n in enumerate(monolith.facts["loans"]) if i % 3 == 1)

    async def statement() -> bool:
        answer = await client.get(f"/api/loan/{approved}/statement", headers=boss.headers)
        return answer.status_code == 200 and answer.json()["data"]["status"] == "ACTIVE"

    await eventually(statement, timeout=10, what="no account for an imported approved loan")
