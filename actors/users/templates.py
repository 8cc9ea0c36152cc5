"""What a notification says: its subject and its plain-text and HTML bodies, from its kind and the
facts its event carried (actors/users/notifications.py).

Only what the customer already sees of their own loan (its id, amounts, dates): no name, no
email address, nothing about the agent, so a mail read over someone's shoulder or forwarded
tells no more than the loan's own page. Notifications recorded before facts were kept (decisions
only) have none: their bodies leave the figures out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import NamedTuple
from uuid import UUID

Facts = Mapping[str, str]

SUBJECTS: dict[str, str] = {
    "loan_approved": "Your loan has been approved",
    "loan_rejected": "Your loan application was not approved",
    "repayment_due": "A repayment on your loan is due soon",
    "installment_overdue": "A repayment on your loan is overdue",
    "loan_closed": "Your loan is paid off",
}
SIGN_OFF = "You can read all your notifications in the app (GET /api/user/notifications)."


class Rendered(NamedTuple):
    subject: str
    text: str
    html: str


def _terms(facts: Facts) -> str:
    if "principal" not in facts:
        return ""
    return f" for {facts['principal']} over {facts['months']} months"


def _approved(loan: str, facts: Facts) -> list[str]:
    lines = [f"Your loan {loan}{_terms(facts)} has been approved."]
    if "emi" in facts:
        lines.append(f"Your monthly payment is {facts['emi']}.")
    return lines


def _rejected(loan: str, facts: Facts) -> list[str]:
    return [f"Your application for loan {loan}{_terms(facts)} was not approved."]


def _installment(loan: str, facts: Facts) -> str:
    number = f"Installment {facts['installment']}" if "installment" in facts else "An installment"
    return f"{number} of loan {loan}"


def _due(loan: str, facts: Facts) -> list[str]:
    on = f" on {facts['due_date']}" if "due_date" in facts else " soon"
    lines = [f"{_installment(loan, facts)} is due{on}."]
    if "amount" in facts:
        lines.append(f"Amount due: {facts['amount']}.")
    return lines


def _overdue(loan: str, facts: Facts) -> list[str]:
    due = f", due on {facts['due_date']}," if "due_date" in facts else ""
    unpaid = f"Still unpaid: {facts['amount']}. " if "amount" in facts else ""
    return [f"{_installment(loan, facts)}{due} is overdue.", f"{unpaid}Please pay it as soon as you can."]


def _closed(loan: str, facts: Facts) -> list[str]:
    on = f" on {facts['closed_on']}" if "closed_on" in facts else ""
    return [f"Loan {loan} was paid off{on}. Nothing more is owed on it. Thank you."]


_BODIES: dict[str, Callable[[str, Facts], list[str]]] = {
    "loan_approved": _approved,
    "loan_rejected": _rejected,
    "repayment_due": _due,
    "installment_overdue": _overdue,
    "loan_closed": _closed,
}


def render(kind: str, loan_id: UUID, facts: Facts) -> Rendered:
    """The notification as the customer reads it, in the listing (subject, text) and by mail."""
    paragraphs = ["Hello,", *_BODIES[kind](str(loan_id), facts), SIGN_OFF]
    text = "\n\n".join(paragraphs) + "\n"
    html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n'
        + "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
        + "\n</body></html>\n"
    )
    return Rendered(SUBJECTS[kind], text, html)
