"""The users workers' mailer against a real SMTP server (aiosmtpd, tests/support/smtp.py): each
notification mailed once to its customer, through an outage, given up on a 5xx and tried again
after a 4xx, still once with several workers claiming (design.md §12)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from actors.bus.connection import connect
from actors.contracts.servicing import AccountChanged
from actors.runtime.worker import start_actor
from actors.users.mailer import LEASE_SECONDS, send_due_notifications
from ops.registry import deployable
from tests.support.batches import envelope
from tests.support.events import publish
from tests.support.isolated import Isolated, isolated_system
from tests.support.loans import create, decide
from tests.support.people import Person, admin, agent, signup
from tests.support.polling import eventually
from tests.support.smtp import Mail, SmtpServer, smtp_server

pytestmark = pytest.mark.anyio
SENDER = "Loan Actors <loans@mail.example.test>"
POLLS = 2.5  # a little over two of the mailer's polls (1 s apart, jittered by up to 20 %)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
async def system(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> AsyncIterator[Isolated]:
    """A system of its own whose users worker mails through the test server."""
    tmp = tmp_path_factory.mktemp("mailer")
    async with isolated_system(server_urls, Path(tmp), smtp_url=smtp.url, mail_from=SENDER) as iso:
        yield iso


@pytest.fixture(autouse=True)
def smtp_up(smtp: SmtpServer) -> Iterator[None]:
    """Every test starts (and leaves) the server running, whatever the one before did to it."""
    if not smtp.running:
        smtp.start()
    yield
    if not smtp.running:
        smtp.start()


async def cast(iso: Isolated, customers: int = 1) -> tuple[Person, Person, list[Person]]:
    boss = await admin(iso.client, iso.settings)
    broker = await agent(iso.client, boss)
    return boss, broker, [await signup(iso.client, "customer") for _ in range(customers)]


async def decided(iso: Isolated, boss: Person, broker: Person, customer: Person, n: int = 1) -> list[str]:
    """`n` loans requested for `customer` and approved; their ids."""
    ids = []
    for _ in range(n):
        loan = await create(iso.client, broker, customer)
        assert (await decide(iso.client, boss, loan["id"], "APPROVED")).status_code == 200
        ids.append(loan["id"])
    return ids


async def only_row(iso: Isolated, customer: Person) -> asyncpg.Record:
    """The customer's one notification (not yet recorded: an AssertionError, so `eventually` waits)."""
    rows = await log_of(iso, customer)
    assert len(rows) == 1, rows
    return rows[0]


async def log_of(iso: Isolated, customer: Person) -> list[asyncpg.Record]:
    """The delivery log of the customer's notifications, as the users role reads it."""
    rows: list[asyncpg.Record] = await iso.workers["users"].pool.fetch(
        """SELECT id, loan_id, attempts, last_error, delivered_at, failed, next_attempt_at
           FROM users.notifications WHERE user_id = $1""",
        uuid.UUID(customer.id),
    )
    return rows


async def delivered_log(system: Isolated, customer: Person, count: int) -> list[asyncpg.Record]:
    """The customer's log once `count` rows are logged as delivered: the SMTP server has a mail
    a moment before the mailer commits that it went, so a read right after can be too early."""

    async def logged() -> list[asyncpg.Record]:
        rows = await log_of(system, customer)
        assert sum(r["delivered_at"] is not None for r in rows) >= count, rows[:1]
        return rows

    return await eventually(logged, timeout=10, what="the deliveries were not logged")


async def mails_to(smtp: SmtpServer, customer: Person, count: int, timeout: float = 15) -> list[Mail]:
    async def arrived() -> list[Mail]:
        mails = smtp.recorder.to(customer.email)
        assert len(mails) >= count, f"{len(mails)} of {count}"
        return mails

    return await eventually(arrived, timeout=timeout, interval=0.1, what="the mails did not arrive")


def message_id(notification_id: uuid.UUID) -> str:
    return f"<{notification_id}@mail.example.test>"


async def test_a_decided_loan_mails_its_customer_once(system: Isolated, smtp: SmtpServer) -> None:
    """One approval → one mail from LOANS_MAIL_FROM to the customer, with the subject, a plain-text
    and an HTML body naming the loan, no personal data; logged as delivered on the first attempt."""
    boss, broker, (customer,) = await cast(system)
    (loan_id,) = await decided(system, boss, broker, customer)
    (mail,) = await mails_to(smtp, customer, 1)
    await asyncio.sleep(POLLS)
    assert len(smtp.recorder.to(customer.email)) == 1
    (row,) = await delivered_log(system, customer, 1)
    assert (row["attempts"], row["last_error"], row["failed"], row["next_attempt_at"]) == (
        1,
        None,
        False,
        None,
    )
    assert row["delivered_at"] is not None
    message = mail.message
    assert (message["To"], message["From"]) == (customer.email, SENDER)
    assert message["Subject"] == "Your loan has been approved"
    assert mail.message_id == message_id(row["id"])
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    for part in (text.get_content(), html.get_content()):
        assert loan_id in part
        assert customer.email not in part and "Ann" not in part and "Lee" not in part
    listed = await system.client.get("/api/user/notifications", headers=customer.headers)
    assert [i["delivered_at"] is not None for i in listed.json()["data"]] == [True]


@pytest.mark.slow
async def test_fifty_mails_wait_out_a_ten_second_outage_and_arrive_once(
    system: Isolated, smtp: SmtpServer
) -> None:
    """The SMTP server away for 10 s while 50 loans are decided: the mailer tries, logs why and
    backs off; once the server is back, exactly 50 mails, one per notification, none twice."""
    boss, broker, (customer,) = await cast(system)
    smtp.stop()
    stopped = time.monotonic()
    await decided(system, boss, broker, customer, 50)

    async def tried_while_away() -> bool:
        rows = await log_of(system, customer)
        assert len(rows) == 50 and all(r["attempts"] >= 1 and r["last_error"] for r in rows), rows[:1]
        return True

    await eventually(tried_while_away, timeout=10, what="the mailer did not try while the server was away")
    await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - stopped)))
    rows = await log_of(system, customer)
    assert all(r["delivered_at"] is None and not r["failed"] for r in rows)
    assert smtp.recorder.to(customer.email) == []
    smtp.start()

    await mails_to(smtp, customer, 50, timeout=40)
    await asyncio.sleep(POLLS)
    mails = smtp.recorder.to(customer.email)
    rows = await delivered_log(system, customer, 50)
    assert sorted(m.message_id for m in mails) == sorted(message_id(r["id"]) for r in rows)
    assert all(r["delivered_at"] is not None and r["next_attempt_at"] is None for r in rows)


async def test_a_5xx_recipient_is_given_up_with_why_and_others_still_mailed(
    system: Isolated, smtp: SmtpServer
) -> None:
    """A recipient the server refuses with 550: failed after one attempt, the answer kept, never
    tried again; another customer's mail decided at the same time still goes out."""
    boss, broker, (refused, fine) = await cast(system, 2)
    smtp.recorder.refused.add(refused.email.lower())
    await decided(system, boss, broker, refused)
    await decided(system, boss, broker, fine)

    async def given_up() -> asyncpg.Record:
        row = await only_row(system, refused)
        assert row["failed"], dict(row)
        return row

    row = await eventually(given_up, timeout=10, what="the refused notification was not given up")
    assert row["attempts"] == 1 and row["last_error"].startswith("550")
    assert row["delivered_at"] is None and row["next_attempt_at"] is None
    await mails_to(smtp, fine, 1)
    await asyncio.sleep(POLLS)
    (again,) = await log_of(system, refused)
    assert again["attempts"] == 1
    assert smtp.recorder.to(refused.email) == []


async def test_a_4xx_answer_is_tried_again_until_the_mail_goes(system: Isolated, smtp: SmtpServer) -> None:
    """451 for the recipient: kept for a later try with the answer logged; once the server takes
    it, delivered, on a later attempt."""
    boss, broker, (customer,) = await cast(system)
    smtp.recorder.deferred.add(customer.email.lower())
    await decided(system, boss, broker, customer)

    async def deferred() -> bool:
        row = await only_row(system, customer)
        assert row["last_error"] and row["last_error"].startswith("451"), dict(row)
        assert not row["failed"] and row["next_attempt_at"] is not None
        return True

    await eventually(deferred, timeout=10, what="the 451 was not logged")
    smtp.recorder.deferred.discard(customer.email.lower())
    await mails_to(smtp, customer, 1)

    (row,) = await delivered_log(system, customer, 1)
    assert row["attempts"] >= 2 and not row["failed"] and row["next_attempt_at"] is None


async def test_two_workers_and_more_claims_still_send_each_notification_once(
    system: Isolated, smtp: SmtpServer
) -> None:
    """A second users worker, 30 notifications made due at one moment, and four more claims run
    at that moment on the two workers' pools: one mail per notification."""
    boss, broker, (customer,) = await cast(system)
    first = system.workers["users"]
    async with AsyncExitStack() as stack:
        second = await start_actor(deployable("users"), system.settings, stack)
        smtp.stop()  # so that all 30 wait, then come due together
        await decided(system, boss, broker, customer, 30)

        async def waiting() -> bool:
            rows = await log_of(system, customer)
            assert len(rows) == 30 and all(r["attempts"] >= 1 for r in rows)
            return True

        await eventually(waiting, timeout=10, what="the notifications were not tried")
        smtp.start()
        # Make every waiting one due now, but not those a background poll has just claimed
        # (leased LEASE_SECONDS ahead, while its retries wait seconds): moving a live lease
        # would hand the same row to a second claim, which no worker does.
        await first.pool.execute(
            "UPDATE users.notifications SET next_attempt_at = now() WHERE user_id = $1"
            " AND delivered_at IS NULL AND next_attempt_at < now() + make_interval(secs => $2)",
            uuid.UUID(customer.id),
            LEASE_SECONDS / 2,
        )
        claims = [send_due_notifications(w.pool, system.settings, w.state) for w in (first, second) * 2]
        await asyncio.gather(*claims)
        await mails_to(smtp, customer, 30)
        await asyncio.sleep(POLLS)
    mails = smtp.recorder.to(customer.email)
    rows = await log_of(system, customer)
    assert sorted(m.message_id for m in mails) == sorted(message_id(r["id"]) for r in rows)


async def test_servicing_events_are_mailed(system: Isolated, smtp: SmtpServer) -> None:
    """A reminder, an overdue installment and the payoff published on the system's stream: a mail
    each to the loan's customer, with its subject and figures; a repayment received mails nothing."""
    _, broker, (customer,) = await cast(system)
    loan = uuid.uuid4()

    def event(event_type: str, version: int, **fields: Any) -> Any:
        data = AccountChanged(
            loan_id=loan,
            customer_id=uuid.UUID(customer.id),
            agent_id=uuid.UUID(broker.id),
            status="CLOSED" if event_type == "servicing.loan.closed" else "ACTIVE",
            business_date=date(2030, 5, 1),
            outstanding_principal=Decimal("0.00"),
            **fields,
        )
        return envelope(event_type, loan, version, data)

    nc = await connect(system.settings, "tests-mailer")
    try:
        for published in (
            event(
                "servicing.repayment.due", 2, installment=1, due_date=date(2030, 5, 4), amount=Decimal("512")
            ),
            event("servicing.repayment.received", 3, amount=Decimal("100.00")),
            event(
                "servicing.installment.overdue",
                4,
                installment=1,
                due_date=date(2030, 5, 4),
                amount=Decimal("412.00"),
            ),
            event("servicing.loan.closed", 5, closed_on=date(2030, 6, 1)),
        ):
            await publish(nc, system.settings, published)
    finally:
        await nc.drain()
    await mails_to(smtp, customer, 3)
    await asyncio.sleep(POLLS)
    mails = smtp.recorder.to(customer.email)
    by_subject = {m.message["Subject"]: m for m in mails}
    assert sorted(by_subject) == [
        "A repayment on your loan is due soon",
        "A repayment on your loan is overdue",
        "Your loan is paid off",
    ]
    assert len(mails) == 3

    def text(subject: str) -> str:
        part = by_subject[subject].message.get_body(("plain",))
        assert part is not None
        content: str = part.get_content()
        return content

    assert "2030-05-04" in text("A repayment on your loan is due soon")
    assert "512.00" in text("A repayment on your loan is due soon")
    assert "412.00" in text("A repayment on your loan is overdue")
    assert "2030-06-01" in text("Your loan is paid off")
