"""The mailer: every users worker sends the notifications that are due to their customer's email
over SMTP (design.md §12), when LOANS_SMTP_URL names a server; without one it does not run.

A claim is one statement: it takes up to BATCH due rows `FOR UPDATE SKIP LOCKED`, counts the
attempt and moves `next_attempt_at` a lease ahead, and commits at once. Another worker's claim
skips the rows being claimed and then finds them not due, so two workers never send one
notification in the normal case; a worker that dies mid-send leaves its rows to come due again
when the lease ends, so each is sent at least once. The mail goes out with no lock held, then one
statement records every outcome of the batch: delivered; tried again after a back-off (the
server away, a 4xx answer); or given up (a 5xx answer), with why. The Message-ID is the
notification's id, so a mail sent twice (a crash between sending and recording) can be spotted.

The loop polls (POLL_SECONDS): an idle poll reads the partial index of due rows, which is empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import NamedTuple
from urllib.parse import unquote, urlsplit
from uuid import UUID

import aiosmtplib
import asyncpg
import msgspec

from actors.contracts.config import Settings
from actors.runtime.background import Backoff
from actors.runtime.sql import Statement
from actors.users.actor import UsersState, actor
from actors.users.templates import render

log = logging.getLogger("actors.users.mailer")
POLL_SECONDS = 1.0
BATCH = 50
SMTP_TIMEOUT = 10.0  # per SMTP command; a server that stops answering ends the batch
LEASE_SECONDS = 120.0  # a claimed batch is sent or recorded well within it (SMTP_TIMEOUT per command)
RETRY = Backoff(initial=1.0, cap=600.0)  # by the notification's attempts: 1, 2, 4 … 10 min, for ever
ERROR_CHARS = 500

claim = Statement("""
WITH due AS (
    SELECT id FROM notifications WHERE next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT :batch FOR UPDATE SKIP LOCKED)
UPDATE notifications AS n
SET attempts = n.attempts + 1, next_attempt_at = now() + make_interval(secs => :lease::float8)
FROM due WHERE n.id = due.id
RETURNING n.id, n.kind, n.loan_id, n.facts, n.attempts,
    (SELECT email FROM users AS u WHERE u.id = n.user_id AND u.deleted_at IS NULL) AS email""")


class Outcome(NamedTuple):
    """What became of one claimed notification: record_outcomes takes a batch of them."""

    id: UUID
    outcome: str  # delivered | retry | failed
    error: str | None
    delay: float  # seconds until the next try (retry only)


record_outcomes = Statement(
    """
UPDATE notifications AS n SET
    delivered_at = CASE WHEN r.outcome = 'delivered' THEN now() END,
    failed = r.outcome = 'failed',
    last_error = COALESCE(r.error, n.last_error),
    next_attempt_at = CASE WHEN r.outcome = 'retry' THEN now() + make_interval(secs => r.delay) END
FROM unnest(:id::uuid[], :outcome::text[], :error::text[], :delay::float8[]) AS r(id, outcome, error, delay)
WHERE n.id = r.id AND n.delivered_at IS NULL""",
    Outcome,
)


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    use_tls: bool  # smtps://: TLS from the first byte; smtp:// uses STARTTLS when offered
    username: str | None
    password: str | None


def smtp_server(url: str) -> SmtpServer:
    parts = urlsplit(url)
    use_tls = parts.scheme == "smtps"
    return SmtpServer(
        hostname=parts.hostname or "127.0.0.1",
        port=parts.port or (465 if use_tls else 25),
        use_tls=use_tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


_facts = msgspec.json.Decoder(dict[str, str])


def message_for(row: asyncpg.Record, sender: str) -> EmailMessage:
    """The mail of one notification: plain text with an HTML alternative."""
    text = render(row["kind"], row["loan_id"], _facts.decode(row["facts"]))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "loans.localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["email"]
    message["Subject"] = text.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{row['id']}@{domain}>"
    message.set_content(text.text)
    message.add_alternative(text.html, subtype="html")
    return message


def _answer(code: int, message: str) -> str:
    return f"{code} {message}"[:ERROR_CHARS]


def _refused(row: asyncpg.Record, code: int, why: str) -> Outcome:
    """A server's answer to one mail: 5xx is final, anything else is worth trying again."""
    if code >= 500:
        return Outcome(row["id"], "failed", _answer(code, why), 0.0)
    return Outcome(row["id"], "retry", _answer(code, why), RETRY.pause(row["attempts"]))


async def deliver(server: SmtpServer, sender: str, rows: list[asyncpg.Record]) -> list[Outcome]:
    """Send a batch over one connection; a connection that fails leaves the rest to try again."""
    outcomes: list[Outcome] = []
    pending = [r for r in rows if r["email"] is not None]
    outcomes += [
        Outcome(r["id"], "failed", "the account no longer exists", 0.0) for r in rows if r["email"] is None
    ]
    try:
        async with aiosmtplib.SMTP(
            hostname=server.hostname,
            port=server.port,
            use_tls=server.use_tls,
            username=server.username,
            password=server.password,
            timeout=SMTP_TIMEOUT,
        ) as smtp:
            while pending:
                row = pending[0]
                try:
                    await smtp.send_message(message_for(row, sender))
                    outcomes.append(Outcome(row["id"], "delivered", None, 0.0))
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    first = exc.recipients[0]
                    outcomes.append(_refused(row, first.code, first.message))
                except aiosmtplib.SMTPResponseException as exc:
                    outcomes.append(_refused(row, exc.code, exc.message))
                pending.pop(0)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        why = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]  # the server is away: nothing final
        outcomes += [Outcome(r["id"], "retry", why, RETRY.pause(r["attempts"])) for r in pending]
    return outcomes


@actor.every("users-mailer", lambda settings: POLL_SECONDS if settings.smtp_url else None)
async def send_due_notifications(pool: asyncpg.Pool, settings: Settings, state: UsersState) -> None:
    """Claim and send due notifications, a batch at a time, until none is due or the server is away."""
    assert settings.smtp_url is not None  # the task only runs with one
    server = smtp_server(settings.smtp_url)
    while True:
        rows = await claim.fetch(pool, batch=BATCH, lease=LEASE_SECONDS)
        if not rows:
            return
        outcomes = await deliver(server, settings.mail_from, rows)
        await pool.execute(record_outcomes.sql, *record_outcomes.columns_of(outcomes))
        counts = {kind: sum(o.outcome == kind for o in outcomes) for kind in ("delivered", "retry", "failed")}
        log.info("mailer: %(delivered)d delivered, %(retry)d to retry, %(failed)d given up", counts)
        if counts["retry"] or len(rows) < BATCH:
            return  # the server is struggling (or nothing more is due): the next poll goes on
