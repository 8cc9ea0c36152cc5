"""The monolith's rows as the actors' import messages, or the reason they do not fit.

Money: Django's FloatField comes back as a float; it is read as the shortest decimal that float
prints as (what the monolith showed: 4359.825, not 4359.82499999…) and rounded half-up to cents.
Times: timestamptz as they are (UTC); naive ones (a monolith with USE_TZ off) are taken as UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import asyncpg

from actors.contracts import imports as im
from actors.contracts.users import email_problem
from actors.loans import money
from ops.importing.report import NOTE, SKIPPED, Report

CENT = Decimal("0.01")
STATUSES = frozenset({"NEW", "APPROVED", "REJECTED"})


def cents(value: float | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    return utc(value).date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class Person:
    """What a loan needs of its customer or agent."""

    id: Any
    role: str
    email: str
    name: str


def _role(row: asyncpg.Record) -> str | None:
    roles = [
        r
        for r, flag in (("admin", "is_admin"), ("agent", "is_agent"), ("customer", "is_customer"))
        if row[flag]
    ]
    return roles[0] if len(roles) == 1 else None


def user(row: asyncpg.Record, emails: dict[str, int], report: Report) -> im.ImportedUser | None:
    """The user to send, or None (reported): one role flag exactly, a valid email not seen before
    in another case; blank names are filled (and noted), as the users table wants both."""
    legacy_id, email = int(row["id"]), (row["email"] or "").strip()
    role = _role(row)
    if role is None:
        flags = [f for f in ("is_admin", "is_agent", "is_customer") if row[f]]
        report.add("users", legacy_id, SKIPPED, f"needs exactly one role flag, has {flags or 'none'}")
        return None
    if "@" not in email or len(email) > 254 or email_problem(email) is not None:
        report.add("users", legacy_id, SKIPPED, f"email {email!r} is not valid")
        return None
    folded = email.lower()
    if folded in emails:
        report.add("users", legacy_id, SKIPPED, f"duplicate email by case of user {emails[folded]} ({email})")
        return None
    emails[folded] = legacy_id
    first, last = (row["first_name"] or "").strip()[:100], (row["last_name"] or "").strip()[:100]
    if not first or not last:
        report.add("users", legacy_id, NOTE, "blank name filled from the email")
        first, last = first or email.split("@")[0][:100], last or "-"
    status = "active" if role != "agent" or row["is_approved"] else "pending"
    return im.ImportedUser(
        legacy_id=legacy_id,
        email=email,
        password_hash=row["password"] or "!",
        first_name=first,
        last_name=last,
        role=role,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        created_at=utc(row["date_joined"]),
        deleted=not row["is_active"],
    )


def _change(row: asyncpg.Record, before: str | None) -> im.ImportedChange | None:
    """A HistoricalLoan row as a history change; `-` (deleted) rows have no place on a live loan."""
    kind = row["history_type"]
    if kind == "-":
        return None
    status = row["status"]
    change = "created"
    if kind == "~":
        decided = before == "NEW" and status in ("APPROVED", "REJECTED")
        change = status.lower() if decided else "edited"
    user_id = row["history_user_id"]
    return im.ImportedChange(
        change=change,  # type: ignore[arg-type]
        changed_by=im.legacy_user_id(user_id) if user_id is not None else im.IMPORT_ACTOR,
        changed_at=utc(row["history_date"]),
        principal=cents(row["principal"]) or Decimal("0.00"),
        interest=cents(row["interest"]) or Decimal("0.00"),
        months=int(row["months"]),
        emi=cents(row["emi"]) or Decimal("0.00"),
        amount=cents(row["amount"]) or Decimal("0.00"),
        status=status,
        start_date=day(row["start_date"]),
        end_date=day(row["end_date"]),
    )


def _history(rows: list[asyncpg.Record]) -> list[im.ImportedChange]:
    changes, before = [], None
    for row in rows:
        change = _change(row, before)
        if change is not None:
            changes.append(change)
            before = change.status
    return changes


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _why_not(
    row: asyncpg.Record,
    principal: Decimal | None,
    interest: Decimal | None,
    customer: Person | None,
    agent: Person | None,
) -> str | None:
    """Why a loan does not fit, or None."""
    status, months = row["status"], int(row["months"])
    if principal is None or principal < money.MIN_PRINCIPAL:
        return f"principal {principal} is under the minimum of {money.MIN_PRINCIPAL}"
    if principal > money.MAX_PRINCIPAL or not money.MIN_MONTHS <= months <= money.MAX_MONTHS:
        return f"principal {principal} or months {months} outside the limits"
    if status not in STATUSES:
        return f"unknown status {status!r}"
    if interest is None or interest < 0 or interest >= 1000:
        return f"interest {interest} is not a rate"
    if customer is None or customer.role != "customer":
        return f"its customer (user {row['user_id']}) is not an imported customer"
    if agent is None or agent.role != "agent":
        return f"its agent (user {row['granted_by_id']}) is not an imported agent"
    if status == "APPROVED" and row["start_date"] is None:
        return "APPROVED without a start date"
    return None


def loan(
    row: asyncpg.Record, history: list[asyncpg.Record], people: dict[int, Person], report: Report
) -> im.ImportedLoan | None:
    """The loan to send, or None (reported) when it breaks a rule or names the wrong people."""
    legacy_id = int(row["id"])
    principal, interest = cents(row["principal"]), cents(row["interest"])
    status, months = row["status"], int(row["months"])
    customer, agent = people.get(row["user_id"]), people.get(row["granted_by_id"])
    start = day(row["start_date"])
    why = _why_not(row, principal, interest, customer, agent)
    if why is not None:
        report.add("loans", legacy_id, SKIPPED, why)
        return None
    assert principal is not None and interest is not None and customer is not None and agent is not None
    emi = money.emi(principal, interest, months)
    theirs = cents(row["emi"])
    if theirs is None or abs(emi - theirs) > CENT:
        report.add(
            "loans",
            legacy_id,
            NOTE,
            f"EMI recomputed {emi}, the monolith said {theirs} (kept in the loan's history)",
        )
    monolith = {
        "emi": _text(theirs),
        "amount": _text(cents(row["amount"])),
        "start_date": _text(day(row["start_date"])),
        "end_date": _text(day(row["end_date"])),
    }
    return im.ImportedLoan(
        legacy_id=legacy_id,
        customer_id=customer.id,
        customer_email=customer.email,
        customer_name=customer.name,
        agent_id=agent.id,
        agent_email=agent.email,
        principal=principal,
        interest=interest,
        months=months,
        status=status,
        start_date=start if status == "APPROVED" else None,
        created_at=utc(row["created_at"]),
        modified_at=utc(row["modified_at"]),
        history=_history(history),
        monolith=monolith,
    )
