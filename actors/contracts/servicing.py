"""Requests, replies and events of the `servicing.*` subjects (design.md §11, api.md "Servicing").

Imports only msgspec: the edge imports it too. Money is Decimal (a JSON string with two decimals
on the wire), dates are business dates (`date`), times UTC.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from actors.contracts.base import Message, Page, PageSize

AccountStatus = Literal["ACTIVE", "CLOSED"]
InstallmentStatus = Literal["DUE", "PARTIALLY_PAID", "PAID", "OVERDUE"]
Bucket = Literal["current", "1-30", "31-60", "61-90", "90+"]
CobStatus = Literal["RUNNING", "DONE"]
Reference = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


# --- repayments -------------------------------------------------------------------------------


class Allocation(Message):
    """What one transaction paid towards one installment."""

    installment: int
    interest: Decimal
    principal: Decimal


class Transaction(Message):
    id: UUID
    loan_id: UUID
    type: Literal["repayment"]
    amount: Decimal
    paid_on: date
    reference: str | None
    allocation: list[Allocation]
    recorded_by: UUID
    recorded_at: datetime
    reversed: bool
    reversal_reason: str | None


class RecordRepayment(Message):
    """`amount` > 0 with at most two decimals (the handler says which rule failed)."""

    loan_id: UUID
    amount: Decimal
    paid_on: date | None = None  # default: the business date
    reference: Reference | None = None


class ListRepayments(Message):
    loan_id: UUID
    page: Page = 1
    page_size: PageSize = 20


class TransactionPage(Message):
    data: list[Transaction]
    count: int
    page: int
    page_size: int


class ReverseRepayment(Message):
    loan_id: UUID
    transaction_id: UUID
    reason: Reason


# --- what the account stands at ---------------------------------------------------------------


class AccountId(Message):
    loan_id: UUID


class InstallmentLine(Message):
    number: int
    due_date: date
    payment: Decimal
    interest: Decimal
    principal: Decimal
    paid_interest: Decimal
    paid_principal: Decimal
    status: InstallmentStatus


class NextDue(Message):
    date: date
    amount: Decimal  # what is still unpaid of that installment


class Statement(Message):
    loan_id: UUID
    status: AccountStatus
    business_date: date
    principal: Decimal
    outstanding_principal: Decimal
    paid_principal: Decimal
    paid_interest: Decimal
    waived_interest: Decimal
    days_past_due: int
    bucket: Bucket
    next_due: NextDue | None
    closed_on: date | None
    installments: list[InstallmentLine]


class PayoffQuery(Message):
    loan_id: UUID
    on: date | None = None  # default: the business date; not before it


class PayoffQuote(Message):
    on: date
    outstanding_principal: Decimal
    interest: Decimal
    total: Decimal


# --- business date and close of business ------------------------------------------------------


class BusinessDate(Message):
    business_date: date


class RunCloseOfBusiness(Message):
    date: date


class CloseOfBusinessDate(Message):
    date: date


class CloseOfBusiness(Message):
    """A COB run's progress: it is DONE when every batch is, and then the business date is `date`."""

    date: date
    status: CobStatus
    batches: int
    batches_done: int
    accounts: int


class CloseOfBusinessWork(Message):
    """One work item on the COB work queue: batch `number` of the run closing to `date`."""

    date: date
    number: int


# --- portfolio --------------------------------------------------------------------------------


class PortfolioQuery(Message):
    """`format` is the edge's business (CSV is streamed from `servicing.portfolio_accounts`)."""

    format: Literal["json", "csv"] = "json"


class BucketLine(Message):
    bucket: Bucket
    accounts: int
    outstanding_principal: Decimal


class Portfolio(Message):
    business_date: date
    active: int
    closed: int
    outstanding_principal: Decimal
    collected_principal: Decimal
    collected_interest: Decimal
    buckets: list[BucketLine]


class PortfolioAccounts(Message):
    """One page of accounts in loan id order, after `after` (keyset: a million rows page cheaply)."""

    after: UUID | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 1000


class AccountLine(Message):
    loan_id: UUID
    customer_id: UUID
    agent_id: UUID
    status: AccountStatus
    principal: Decimal
    outstanding_principal: Decimal
    paid_principal: Decimal
    paid_interest: Decimal
    days_past_due: int
    bucket: Bucket
    closed_on: date | None


class AccountLines(Message):
    data: list[AccountLine]
    next: UUID | None  # pass as `after` for the next page; None: this was the last


# --- events -----------------------------------------------------------------------------------


class AccountChanged(Message):
    """The data of every `servicing.*` event: the account after the change, and what changed.

    One shape for all of them (as loans' LoanChanged), so a consumer reads any; the fields that
    only some events carry are None in the others. `by` is None for what COB did.
    """

    loan_id: UUID
    customer_id: UUID
    agent_id: UUID
    status: AccountStatus
    business_date: date
    outstanding_principal: Decimal
    by: UUID | None = None
    transaction_id: UUID | None = None  # repayment.received / repayment.reversed
    amount: Decimal | None = None  # the repayment's; repayment.due / installment.overdue: what is owed
    paid_on: date | None = None
    reason: str | None = None  # repayment.reversed
    installment: int | None = None  # installment.overdue / repayment.due
    due_date: date | None = None
    bucket_from: Bucket | None = None  # loan.delinquency_changed
    bucket_to: Bucket | None = None
    days_past_due: int | None = None
    closed_on: date | None = None  # loan.closed


# Events the servicing actor publishes (subject `<prefix>.<type>`), each with its data Struct.
EVENTS: dict[str, type[Message]] = {
    "servicing.repayment.received": AccountChanged,
    "servicing.repayment.reversed": AccountChanged,
    "servicing.installment.overdue": AccountChanged,
    "servicing.loan.delinquency_changed": AccountChanged,
    "servicing.repayment.due": AccountChanged,
    "servicing.loan.closed": AccountChanged,
}
