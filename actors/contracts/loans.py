"""Requests and replies of the `loans.*` subjects. Imports only msgspec: the edge imports it too."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from actors.contracts.base import Message, Page, PageSize

# Range and decimals are the loan rules' to check (money.py), so the message says *which* rule failed.
Principal = Decimal
Months = Annotated[int, msgspec.Meta(ge=1, le=480)]
Status = Literal["NEW", "APPROVED", "REJECTED"]
Decision = Literal["APPROVED", "REJECTED"]


class Loan(Message):
    id: UUID
    customer_id: UUID
    customer_email: str
    customer_name: str
    agent_id: UUID
    agent_email: str
    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    status: Status
    start_date: date | None
    end_date: date | None
    version: int
    created_at: datetime
    modified_at: datetime


class CreateLoan(Message):
    customer_id: UUID
    principal: Principal
    months: Months


class DecideLoan(Message):
    loan_id: UUID
    status: Decision


class EditLoan(Message):
    loan_id: UUID
    principal: Principal | None = None
    months: Months | None = None


class LoanId(Message):
    loan_id: UUID


class ListLoans(Message):
    page: Page = 1
    page_size: PageSize = 20
    status: Status | None = None
    customer_id: UUID | None = None
    agent_id: UUID | None = None


class ListMyLoans(Message):
    page: Page = 1
    page_size: PageSize = 20
    status: Status | None = None


class LoanPage(Message):
    data: list[Loan]
    count: int
    page: int
    page_size: int


class FieldChange(Message):
    old: str | int | None
    new: str | int | None


class HistoryRow(Message):
    version: int
    # amount_recomputed: db/loans/0006 made a stored amount the schedule's sum (no one asked for it);
    # imported: the loan came from the monolith, fields holding its figures where ours differ (§13)
    change: Literal["created", "edited", "approved", "rejected", "amount_recomputed", "imported"]
    changed_by: UUID
    changed_at: datetime
    fields: dict[str, FieldChange]


class LoanHistory(Message):
    loan_id: UUID
    page: Page = 1
    page_size: PageSize = 100


class HistoryPage(Message):
    data: list[HistoryRow]
    count: int
    page: int
    page_size: int


class ScheduleRow(Message):
    month: int
    due_date: date | None
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


class Schedule(Message):
    loan_id: UUID
    rows: list[ScheduleRow]


class QuoteLoan(Message):
    """The terms a loan would have: the same principal and months a create takes."""

    principal: Principal
    months: Months


class Quote(Message):
    """Terms and schedule of a loan not made (due dates null: there is no start date)."""

    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    rows: list[ScheduleRow]


class LoanChanged(Message):
    """The data of every `loans.*` event: the loan as it is after the change, and who changed it."""

    loan_id: UUID
    customer_id: UUID
    agent_id: UUID
    status: Status
    principal: Decimal
    interest: Decimal
    months: int
    emi: Decimal
    amount: Decimal
    start_date: date | None
    end_date: date | None
    by: UUID
    # loans.loan.approved only: the schedule with its due dates (servicing opens the account from it)
    schedule: list[ScheduleRow] | None = None
    # true on the one event of a loan imported from the monolith (design.md §13): read models and
    # accounts follow it, but nobody is notified of a decision taken long ago
    imported: bool = False


# Events the loans actor publishes (subject `<prefix>.<type>`), each with its data Struct.
EVENTS: dict[str, type[Message]] = {
    "loans.loan.created": LoanChanged,
    "loans.loan.edited": LoanChanged,
    "loans.loan.approved": LoanChanged,
    "loans.loan.rejected": LoanChanged,
}
