"""`loans cob status [DATE]` and `loans cob run DATE`: the close of business, over NATS.

They speak to the servicing workers as any internal tool does (`servicing.cob_status`,
`servicing.run_cob`), with an admin's token (`--token-stdin`, `$LOANS_TOKEN` or `--token`, as `loans
request` takes it)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime

import msgspec

from actors.bus.client import exchange
from actors.bus.connection import connect
from actors.contracts import servicing as m
from actors.contracts.base import ErrorReply
from actors.contracts.config import Settings

_progress = msgspec.json.Decoder(m.CloseOfBusiness).decode


def describe(run: m.CloseOfBusiness) -> str:
    """One line a person reads: the run's date, status, batches done and accounts."""
    share = f" ({100 * run.batches_done // run.batches} %)" if run.batches else ""
    return (
        f"close of business to {run.date}: {run.status}, "
        f"{run.batches_done}/{run.batches} batches{share}, {run.accounts} accounts"
    )


async def command(settings: Settings, action: str, on: date | None, token: str | None, timeout: float) -> int:
    """Print the run's progress; exit 0, or 1 with the error (none to that date, 400, 403...)."""
    body: msgspec.Struct
    if action == "status":
        subject, body = "servicing.cob_status", m.CloseOfBusinessDate(date=on or datetime.now(UTC).date())
    else:
        assert on is not None  # the parser requires DATE for `run`
        subject, body = "servicing.run_cob", m.RunCloseOfBusiness(date=on)
    nc = await connect(settings, "loans-cob")
    try:
        _, error, data = await exchange(nc, subject, msgspec.json.encode(body), timeout=timeout, token=token)
    finally:
        await nc.drain()
    if error is not None:
        message = error.message
        try:
            message = msgspec.json.decode(data, type=ErrorReply).message
        except msgspec.DecodeError:
            pass
        print(f"loans: {message} ({error.status})", file=sys.stderr)
        return 1
    print(describe(_progress(data)))
    return 0
