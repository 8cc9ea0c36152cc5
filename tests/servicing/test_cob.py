"""Close of business, on isolated systems (it moves the business date): overdue marking, days past
due and buckets as design.md §11 says, each event once, a second run to the same date doing
nothing, progress readable while it runs, future dates refused unless allowed, the automatic run,
and `loans cob status` / `loans cob run`."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.contracts.errors import BadRequest, NotFound
from actors.runtime.work_queue import work_subject
from tests.support.cob import (
    INTEREST,
    PART,
    Account,
    CobSystem,
    bucket_of,
    business_date,
    cob,
    cob_system,
    dpd_at,
    insert_accounts,
    run_to_done,
    servicing_connection,
    servicing_events,
    unpaid,
)
from tests.support.polling import eventually
from tests.support.processes import run_loans

pytestmark = pytest.mark.anyio
TODAY = datetime.now(UTC).date()
T = TODAY + timedelta(days=5)  # the COB date of most tests


@dataclass
class Model:
    """What COB must have done to one account, kept run after run: the rules written again here."""

    account: Account
    notified: set[int] = field(default_factory=set)
    reminded: set[int] = field(default_factory=set)
    bucket: str = "current"
    version: int = 1

    def judge(self, b: date, reminder_days: int = 3) -> list[tuple[str, int | None]]:
        """The events of a COB at b, in the order they are numbered (overdue, bucket, reminders)."""
        if self.account.closed:
            return []
        events: list[tuple[str, int | None]] = []
        for k, due in unpaid(self.account):
            if due < b and k not in self.notified:
                self.notified.add(k)
                events.append(("servicing.installment.overdue", k))
        new_bucket = bucket_of(dpd_at(self.account, b))
        if new_bucket != self.bucket:
            events.append(("servicing.loan.delinquency_changed", None))
            self.bucket = new_bucket
        for k, due in unpaid(self.account):
            if b <= due <= b + timedelta(days=reminder_days) and k not in self.reminded:
                self.reminded.add(k)
                events.append(("servicing.repayment.due", k))
        self.version += len(events)
        return events


def start_for(dpd: int, **kw: Any) -> Account:
    """An account (paid as `kw` says) whose days past due at T is `dpd`, found by trying starts."""
    for days in range(0, 800):
        account = Account(start=T - timedelta(days=days), **kw)
        if dpd_at(account, T) == dpd:
            return account
    raise AssertionError(f"no start gives {dpd} days past due")


def table() -> list[Account]:
    """Accounts covering every bucket, its edges, payments, reminders and a closed account."""
    accounts = [start_for(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 150)]
    accounts.append(Account(start=T - timedelta(days=10)))  # nothing due for weeks
    accounts.append(first_due_in(2))  # due in two days: reminded
    accounts.append(first_due_in(4))  # in four: reminded only at T+1
    accounts.append(first_due_in(0))  # due on T itself: not overdue yet, reminded
    accounts.append(start_for(10, paid=1))  # installment 1 paid: days counted from installment 2
    accounts.append(start_for(45, paid=1, partial=Decimal("50.00")))  # part paid, still overdue
    accounts.append(Account(start=T - timedelta(days=100), paid=3))  # paid up to date
    accounts.append(Account(start=T - timedelta(days=200), closed=True))  # not judged at all
    return accounts


def first_due_in(days: int) -> Account:
    for back in range(25, 35):
        account = Account(start=T + timedelta(days=days) - timedelta(days=back))
        if account.due_dates[0] == T + timedelta(days=days):
            return account
    raise AssertionError("no start found")


async def account_rows(s: CobSystem) -> dict[uuid.UUID, dict[str, Any]]:
    con = await servicing_connection(s.settings)
    try:
        rows = await con.fetch(
            "SELECT loan_id, days_past_due, bucket, cob_date, version, status FROM accounts"
        )
        installments = await con.fetch(
            "SELECT loan_id, number, status, overdue_notified, reminded FROM installments ORDER BY number"
        )
    finally:
        await con.close()
    found = {r["loan_id"]: {**dict(r), "installments": []} for r in rows}
    for i in installments:
        found[i["loan_id"]]["installments"].append(
            (i["number"], i["status"], i["overdue_notified"], i["reminded"])
        )
    return found


def expected_statuses(a: Account, b: date) -> list[str]:
    statuses = []
    for k, due in enumerate(a.due_dates, 1):
        interest, principal = a.installment_paid(k)
        if (interest, principal) == (INTEREST, PART):
            statuses.append("PAID")
        elif due < b and not a.closed:
            statuses.append("OVERDUE")
        else:
            statuses.append("PARTIALLY_PAID" if interest or principal else "DUE")
    return statuses


def check_run(
    rows: dict[uuid.UUID, dict[str, Any]],
    events: list[Any],
    models: list[Model],
    b: date,
    judged: dict[Any, Any],
) -> None:
    """Each account's columns and installments, and its events: each once, numbered in order."""
    by_account: dict[uuid.UUID, list[Any]] = {}
    for e in events:
        by_account.setdefault(e.loan_id, []).append(e)
    for model in models:
        a, row = model.account, rows[model.account.loan_id]
        expected = judged[a.loan_id]
        got = by_account.get(a.loan_id, [])
        assert [(e.type, e.data["installment"]) for e in got] == expected, a
        assert [e.version for e in got] == list(range(model.version - len(expected) + 1, model.version + 1))
        assert row["version"] == model.version
        assert row["cob_date"] == (None if a.closed else b)
        assert row["days_past_due"] == (0 if a.closed else dpd_at(a, b))
        assert row["bucket"] == model.bucket
        assert [s for _, s, _, _ in row["installments"]] == expected_statuses(a, b)
        for e in got:
            assert e.data["business_date"] == b.isoformat() and e.data["by"] is None
            if e.type == "servicing.loan.delinquency_changed":
                assert e.data["bucket_to"] == model.bucket and e.data["days_past_due"] == dpd_at(a, b)
            else:
                k = e.data["installment"]
                interest, principal = a.installment_paid(k)
                assert Decimal(e.data["amount"]) == INTEREST + PART - interest - principal
                assert e.data["due_date"] == a.due_dates[k - 1].isoformat()


async def test_cob_marks_overdue_and_judges_days_past_due_buckets_and_events_once(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """At T and then T+1: statuses, DPD, buckets, cob_date, versions, and each event exactly once."""
    accounts = table()
    assert {bucket_of(dpd_at(a, T)) for a in accounts} == {"current", "1-30", "31-60", "61-90", "90+"}
    models = [Model(a) for a in accounts]
    async with cob_system(server_urls, tmp_path, cob_batch_size=4) as s:
        await insert_accounts(s.settings, accounts)
        before = await servicing_events(s.nc, s.settings, settle=0.2)
        assert before == []
        done = await run_to_done(s.nc, s.token, T)
        active = sum(not a.closed for a in accounts)
        assert done == {
            "date": T.isoformat(),
            "status": "DONE",
            "batches": -(-active // 4),
            "batches_done": -(-active // 4),
            "accounts": active,
        }
        assert await business_date(s.settings) == T
        first = {m.account.loan_id: m.judge(T) for m in models}
        events = await servicing_events(s.nc, s.settings)
        check_run(await account_rows(s), events, models, T, first)
        assert any(first.values())
        # the next day: only what is new (a bucket moved, an installment newly due or late)
        await run_to_done(s.nc, s.token, T + timedelta(days=1))
        second = {m.account.loan_id: m.judge(T + timedelta(days=1)) for m in models}
        all_events = await servicing_events(s.nc, s.settings)
        check_run(await account_rows(s), all_events[len(events) :], models, T + timedelta(days=1), second)
        assert len(
            {(e.type, e.loan_id, e.data["installment"], e.data["bucket_to"]) for e in all_events}
        ) == len(all_events)


async def test_cob_to_the_same_date_again_or_a_redelivered_batch_changes_and_emits_nothing(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """A second run to the business date is DONE at once; a batch's item delivered again does nothing."""
    async with cob_system(server_urls, tmp_path, cob_batch_size=5) as s:
        await insert_accounts(s.settings, table())
        await run_to_done(s.nc, s.token, T)
        rows = await account_rows(s)
        events = await servicing_events(s.nc, s.settings)
        again = await cob(s.nc, s.token, "servicing.run_cob", T)
        assert again["status"] == "DONE" and again["batches"] == again["batches_done"] > 0
        item = msgspec.json.encode({"date": T.isoformat(), "number": 1})
        await s.nc.jetstream().publish(work_subject(s.settings, "servicing.cob"), item)

        async def taken_and_acked() -> bool:
            info = await s.nc.jetstream().stream_info(s.settings.work_stream)
            return info.state.messages == 0

        await eventually(taken_and_acked, timeout=10, what="the redelivered item was not taken")
        await asyncio.sleep(0.5)  # and give a wrong handling of it time to write or emit
        assert await account_rows(s) == rows
        assert await servicing_events(s.nc, s.settings) == events
        assert await business_date(s.settings) == T


async def test_progress_is_readable_while_a_run_is_held_and_after(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """cob_status says RUNNING with the batches done so far; the date moves only when all are."""
    accounts = [Account(start=TODAY - timedelta(days=40)) for _ in range(30)]
    last = max(a.loan_id for a in accounts)
    async with cob_system(server_urls, tmp_path, cob_batch_size=10) as s:
        await insert_accounts(s.settings, accounts)
        blocker = await servicing_connection(s.settings)
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM accounts WHERE loan_id = $1 FOR UPDATE", last)  # holds batch 3
        try:
            started = await cob(s.nc, s.token, "servicing.run_cob", T)
            assert started == {
                "date": T.isoformat(),
                "status": "RUNNING",
                "batches": 3,
                "batches_done": 0,
                "accounts": 30,
            }

            async def two_done() -> dict[str, Any] | None:
                status = await cob(s.nc, s.token, "servicing.cob_status", T)
                return status if status["batches_done"] == 2 else None

            held = await eventually(two_done, timeout=20, what="two batches done")
            assert held is not None and held["status"] == "RUNNING"
            assert await business_date(s.settings) == TODAY
            with pytest.raises(Exception) as refused:  # one run at a time
                await cob(s.nc, s.token, "servicing.run_cob", T + timedelta(days=1))
            assert getattr(refused.value, "code", None) == "cob_running"
        finally:
            await tx.rollback()
            await blocker.close()
        done = await run_to_done(s.nc, s.token, T)
        assert done["status"] == "DONE" and done["batches_done"] == 3
        assert await business_date(s.settings) == T


async def test_a_future_date_is_refused_unless_allowed_and_a_past_one_is_done_with_nothing_done(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """After today (UTC) → 400 field date; not after the business date → DONE, nothing written."""
    async with cob_system(server_urls, tmp_path, allow_future_business_date=False) as s:
        await insert_accounts(s.settings, [Account(start=TODAY - timedelta(days=60))])
        with pytest.raises(BadRequest) as refused:
            await cob(s.nc, s.token, "servicing.run_cob", TODAY + timedelta(days=1))
        assert refused.value.details == {"field": "date"}
        for past in (TODAY, TODAY - timedelta(days=3)):
            reply = await cob(s.nc, s.token, "servicing.run_cob", past)
            assert reply == {
                "date": past.isoformat(),
                "status": "DONE",
                "batches": 0,
                "batches_done": 0,
                "accounts": 0,
            }
        with pytest.raises(NotFound):
            await cob(s.nc, s.token, "servicing.cob_status", TODAY)
        con = await servicing_connection(s.settings)
        try:
            assert await con.fetchval("SELECT count(*) FROM cob_runs") == 0
            assert await con.fetchval("SELECT cob_date FROM accounts") is None
        finally:
            await con.close()
        assert await business_date(s.settings) == TODAY


async def test_no_active_account_is_done_at_once_and_moves_the_date(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """A run with nothing to judge is DONE in its reply, and the business date is moved."""
    async with cob_system(server_urls, tmp_path) as s:
        await insert_accounts(s.settings, [Account(start=TODAY - timedelta(days=90), closed=True)])
        reply = await cob(s.nc, s.token, "servicing.run_cob", T)
        assert reply == {
            "date": T.isoformat(),
            "status": "DONE",
            "batches": 0,
            "batches_done": 0,
            "accounts": 0,
        }
        assert await business_date(s.settings) == T


async def test_the_automatic_run_closes_business_up_to_today(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """With cob_auto, a business date behind today's UTC date is brought to it by a run of its own."""
    async with cob_system(server_urls, tmp_path, cob_auto=True, cob_auto_check_seconds=0.2) as s:
        account = Account(start=TODAY - timedelta(days=45))
        await insert_accounts(s.settings, [account])
        con = await servicing_connection(s.settings)
        try:
            await con.execute("UPDATE business_date SET business_date = $1", TODAY - timedelta(days=2))

            async def run_done() -> Any:
                return await con.fetchrow("SELECT * FROM cob_runs WHERE status = 'DONE'")

            run = await eventually(run_done, timeout=20, what="the automatic run done")
            assert run["business_date"] == TODAY and run["requested_by"] is None
            assert await con.fetchval("SELECT cob_date FROM accounts") == TODAY
            assert await con.fetchval("SELECT days_past_due FROM accounts") == dpd_at(account, TODAY)
        finally:
            await con.close()
        assert await business_date(s.settings) == TODAY


async def test_loans_cob_run_and_status_print_the_runs_progress(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """`loans cob run DATE` starts it, `loans cob status DATE` prints it; a date without a run → exit 1."""
    async with cob_system(server_urls, tmp_path) as s:
        await insert_accounts(s.settings, [Account(start=TODAY - timedelta(days=45)) for _ in range(3)])
        ran = await asyncio.to_thread(run_loans, s.settings, "cob", "run", T.isoformat(), "--token", s.token)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith(f"close of business to {T}: ")
        await run_to_done(s.nc, s.token, T)
        status = await asyncio.to_thread(
            run_loans, s.settings, "cob", "status", T.isoformat(), "--token", s.token
        )
        assert status.returncode == 0, status.stderr
        assert status.stdout.strip() == f"close of business to {T}: DONE, 1/1 batches (100 %), 3 accounts"
        missing = await asyncio.to_thread(
            run_loans, s.settings, "cob", "status", TODAY.isoformat(), "--token", s.token
        )
        assert missing.returncode == 1 and "no close of business" in missing.stderr
        anonymous = await asyncio.to_thread(run_loans, s.settings, "cob", "status", T.isoformat())
        assert anonymous.returncode == 1 and "(401)" in anonymous.stderr
