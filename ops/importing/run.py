"""`loans import django --source URL`: read the monolith, hand its users and loans to the actors
in batches over `users.import_batch` and `loans.import_batch` (never writing an actor's schema),
report what did not fit, and print the source's counts and sums against what the actors hold.

Every batch is sent on every run: the actors write only what they do not hold yet, so a run after
a kill resumes by starting again, and a second run writes and emits nothing. The figures at the
end come from the actors' replies (what they hold of each batch), not from what was sent.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec
from nats.aio.client import Client

from actors.bus.client import request
from actors.bus.connection import connect
from actors.contracts import imports as im
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError
from ops.importing import mapping, source
from ops.importing.mapping import Person
from ops.importing.progress import Progress
from ops.importing.report import REFUSED, Report
from ops.importing.source import Tables

BATCH_BYTES = 512 * 1024  # well under NATS' 1 MB max payload
_encode = msgspec.json.Encoder().encode
_reply = msgspec.json.Decoder(im.ImportReply).decode


@dataclass(frozen=True)
class Options:
    source: str
    report: Path
    dry_run: bool = False
    batch: int = 500
    in_flight: int = 4
    timeout: float = 60.0
    tables: Tables = field(default_factory=Tables)


class Sender:
    """Batches to one subject, a few in flight; each reply folded into the report."""

    def __init__(self, nc: Client | None, token: str | None, options: Options, report: Report) -> None:
        self.nc, self.token, self.options, self.report = nc, token, options, report
        self.slots = asyncio.Semaphore(options.in_flight)
        self.tasks: set[asyncio.Task[None]] = set()
        self.held: dict[str, set[int]] = {}  # legacy ids the actor holds, by table

    async def send(self, subject: str, key: str, items: list[bytes], progress: Progress) -> None:
        """Queue one batch (its items encoded already); waits only while `in_flight` are out."""
        if self.options.dry_run:
            progress.advance(len(items))
            return
        await self.slots.acquire()
        body = b'{"' + key.encode() + b'":[' + b",".join(items) + b"]}"
        task = asyncio.create_task(self._one(subject, key, body, len(items), progress))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _one(self, subject: str, key: str, body: bytes, n: int, progress: Progress) -> None:
        try:
            data = await request(self.nc, subject, body, timeout=self.options.timeout, token=self.token)
        finally:
            self.slots.release()
        reply = _reply(data)
        totals = self.report.users if key == "users" else self.report.loans
        totals.inserted += len(reply.inserted)
        totals.present += len(reply.present)
        totals.imported_principal += reply.principal
        for refused in reply.refused:
            self.report.add(key, refused.legacy_id, REFUSED, refused.reason)
        self.held.setdefault(key, set()).update(reply.inserted, reply.present)
        progress.advance(n)

    async def finish(self) -> None:
        while self.tasks:
            await asyncio.gather(*self.tasks)


def _batches(items: list[bytes], limit: int) -> list[list[bytes]]:
    """`items` cut into batches of at most `limit` items and BATCH_BYTES bytes."""
    batches: list[list[bytes]] = [[]]
    size = 0
    for item in items:
        if batches[-1] and (len(batches[-1]) >= limit or size + len(item) > BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += len(item) + 1
    return [b for b in batches if b]


async def _import_users(con: asyncpg.Connection, sender: Sender, options: Options) -> dict[int, Person]:
    report = sender.report
    rows = await source.users(con, options.tables)
    report.users.read = len(rows)
    emails: dict[str, int] = {}
    people: dict[int, Person] = {}
    items: list[bytes] = []
    for row in rows:
        user = mapping.user(row, emails, report)
        if user is None:
            continue
        report.users.expected += 1
        items.append(_encode(user))
        uid = im.legacy_user_id(user.legacy_id)
        people[user.legacy_id] = Person(uid, user.role, user.email, f"{user.first_name} {user.last_name}")
    progress = Progress("users", len(items))
    for batch in _batches(items, min(options.batch, im.MAX_BATCH)):
        await sender.send("users.import_batch", "users", batch, progress)
    await sender.finish()
    progress.close()
    if not options.dry_run:  # a loan can name only a user the users actor holds
        held = sender.held.get("users", set())
        people = {legacy_id: p for legacy_id, p in people.items() if legacy_id in held}
    return people


async def _import_loans(
    con: asyncpg.Connection, sender: Sender, options: Options, people: dict[int, Person]
) -> None:
    report = sender.report
    progress = Progress("loans", await source.loan_count(con, options.tables))
    size = min(options.batch, im.MAX_BATCH)
    async for page, history in source.loan_pages(con, options.tables, size):
        report.loans.read += len(page)
        items = []
        for row in page:
            loan = mapping.loan(row, history.get(row["id"], []), people, report)
            if loan is not None:
                report.loans.expected += 1
                report.loans.expected_principal += loan.principal
                items.append(_encode(loan))
        skipped = len(page) - len(items)
        if skipped:
            progress.advance(skipped)
        for batch in _batches(items, size):
            await sender.send("loans.import_batch", "loans", batch, progress)
    await sender.finish()
    progress.close()


async def run(settings: Settings, options: Options, token: str | None) -> int:
    """0 when the actors hold what the source had to give; 1 when they disagree; 2 on a failure
    (no source, no token, an actor refusing a batch whole)."""
    report = Report(options.report)
    if not options.dry_run and not token:
        print("loans: an admin's token is needed (--token-stdin, $LOANS_TOKEN or --token)", file=sys.stderr)
        return 2
    con = await asyncpg.connect(options.source)
    nc = None if options.dry_run else await connect(settings, "loans-import")
    sender = Sender(nc, token, options, report)
    try:
        async with con.transaction(isolation="repeatable_read", readonly=True):  # one consistent view
            people = await _import_users(con, sender, options)
            await _import_loans(con, sender, options, people)
    except ActorError as exc:
        print(f"loans: import stopped: {exc.message} ({exc.status})", file=sys.stderr)
        return 2
    finally:
        await con.close()
        if nc is not None:
            await nc.drain()
        report.write()
        report.print_summary(sys.stdout, options.dry_run)
    return 0 if report.agrees(options.dry_run) and not report.count(REFUSED) else 1
