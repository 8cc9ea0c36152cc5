"""An account's money after approval (design.md §11): allocation, payoff, delinquency.

Pure functions over Decimal, no I/O: the state of an account is its schedule and the repayments
not reversed, applied in the order they were recorded. A reversal is therefore nothing more than
applying the others again (`replay`), which is what makes "exactly as if the reversed one had
never been recorded" true by construction.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)


class Installment(NamedTuple):
    """Row k of the schedule, due on start_date + k calendar months."""

    number: int
    due_date: date
    interest: Decimal
    principal: Decimal

    @property
    def payment(self) -> Decimal:
        return self.interest + self.principal


class Allocation(NamedTuple):
    """What one repayment paid towards one installment."""

    installment: int
    interest: Decimal
    principal: Decimal


class Payoff(NamedTuple):
    """What closes the account on `on`: principal left, interest owed by then, their sum."""

    on: date
    outstanding_principal: Decimal
    interest: Decimal
    total: Decimal


class Overpayment(ValueError):
    """A repayment above the payoff amount of its date."""

    def __init__(self, payoff: Payoff) -> None:
        super().__init__(f"the payoff amount on {payoff.on} is {payoff.total}")
        self.payoff = payoff


class AccountClosed(ValueError):
    """The account is paid off: nothing more can be paid."""


class Repayment(NamedTuple):
    amount: Decimal
    paid_on: date


@dataclass(frozen=True)
class Terms:
    """What servicing knows of an approved loan."""

    principal: Decimal
    annual_rate: Decimal  # %, e.g. 8.45
    start_date: date
    installments: tuple[Installment, ...]

    @property
    def monthly_rate(self) -> Decimal:
        return self.annual_rate / 12 / 100


@dataclass
class Ledger:
    """The account's state: what each installment has been paid (and waived, on a payoff)."""

    terms: Terms
    paid_interest: list[Decimal] = field(default_factory=list)
    paid_principal: list[Decimal] = field(default_factory=list)
    waived_interest: list[Decimal] = field(default_factory=list)
    closed_on: date | None = None

    def __post_init__(self) -> None:
        n = len(self.terms.installments)
        for column in (self.paid_interest, self.paid_principal, self.waived_interest):
            column.extend([ZERO] * (n - len(column)))

    # --- what is owed -------------------------------------------------------------------------

    def unpaid_interest(self, i: int) -> Decimal:
        inst = self.terms.installments[i]
        return inst.interest - self.paid_interest[i] - self.waived_interest[i]

    def unpaid_principal(self, i: int) -> Decimal:
        return self.terms.installments[i].principal - self.paid_principal[i]

    def settled(self, i: int) -> bool:
        return self.unpaid_interest(i) == 0 and self.unpaid_principal(i) == 0

    @property
    def outstanding_principal(self) -> Decimal:
        return self.terms.principal - sum(self.paid_principal, ZERO)

    @property
    def closed(self) -> bool:
        return self.closed_on is not None

    def _interest_due_by(self, on: date) -> Decimal:
        """Unpaid interest of the installments due on or before `on`."""
        due = (
            self.unpaid_interest(i) for i, inst in enumerate(self.terms.installments) if inst.due_date <= on
        )
        return sum(due, ZERO)

    def _current_period(self, on: date) -> int | None:
        """Index of the installment whose period contains `on` (due after it), None past the last."""
        for i, inst in enumerate(self.terms.installments):
            if inst.due_date > on:
                return i
        return None

    def payoff(self, on: date) -> Payoff:
        """Outstanding principal + unpaid interest due by `on` + interest accrued in `on`'s period
        (pro rata by days, less what that period's installment has had), rounded once at the end."""
        due_interest = self._interest_due_by(on)
        principal = self.outstanding_principal
        accrued = Decimal(0)
        current = self._current_period(on)
        if current is not None and not self.closed:
            start = self.terms.installments[current - 1].due_date if current else self.terms.start_date
            end = self.terms.installments[current].due_date
            with decimal.localcontext(_CONTEXT):
                raw = principal * self.terms.monthly_rate * (on - start).days / (end - start).days
                accrued = max(raw - self.paid_interest[current], Decimal(0))
                # never more than the interest still scheduled from this period on (a borrower far
                # behind could otherwise accrue past it), so a payoff always allocates exactly
                later = sum((self.unpaid_interest(i) for i in range(current, len(self.paid_interest))), ZERO)
                accrued = min(accrued, later)
        total = cents(principal + due_interest + accrued)
        return Payoff(on=on, outstanding_principal=principal, interest=total - principal, total=total)

    # --- paying -------------------------------------------------------------------------------

    def apply(self, repayment: Repayment) -> list[Allocation]:
        """Allocate one repayment; raises Overpayment above the payoff, AccountClosed when paid off."""
        if self.closed:
            raise AccountClosed("the loan is paid off")
        payoff = self.payoff(repayment.paid_on)
        if repayment.amount > payoff.total:
            raise Overpayment(payoff)
        if repayment.amount == payoff.total:
            return self._pay_off(payoff)
        allocations = self._allocate_in_order(repayment.amount)
        if all(self.settled(i) for i in range(len(self.paid_interest))):
            self.closed_on = repayment.paid_on  # the last installment paid in the ordinary way
        return allocations

    def _allocate_in_order(self, amount: Decimal) -> list[Allocation]:
        """Installments in due order; within one, interest first, then principal; the rest flows on."""
        left = amount
        allocations = []
        for i, inst in enumerate(self.terms.installments):
            if left == 0:
                break
            interest = min(left, self.unpaid_interest(i))
            left -= interest
            principal = min(left, self.unpaid_principal(i))
            left -= principal
            if interest or principal:
                self.paid_interest[i] += interest
                self.paid_principal[i] += principal
                allocations.append(Allocation(inst.number, interest, principal))
        return allocations

    def _pay_off(self, payoff: Payoff) -> list[Allocation]:
        """Everything due by the payoff date, the accrued interest of its period, all principal;
        the interest of later periods is waived."""
        on = payoff.on
        accrued_left = payoff.total - payoff.outstanding_principal
        accrued_left -= self._interest_due_by(on)
        allocations = []
        for i, inst in enumerate(self.terms.installments):
            if inst.due_date <= on:
                interest = self.unpaid_interest(i)
            else:
                interest = min(accrued_left, self.unpaid_interest(i))
                accrued_left -= interest
            principal = self.unpaid_principal(i)
            self.paid_interest[i] += interest
            self.paid_principal[i] += principal
            self.waived_interest[i] += self.unpaid_interest(i)
            if interest or principal:
                allocations.append(Allocation(inst.number, interest, principal))
        self.closed_on = on
        return allocations

    # --- delinquency --------------------------------------------------------------------------

    def overdue(self, business_date: date) -> list[int]:
        """Numbers of the installments not fully paid whose due date is before the business date."""
        return [
            inst.number
            for i, inst in enumerate(self.terms.installments)
            if inst.due_date < business_date and not self.settled(i)
        ]

    def days_past_due(self, business_date: date) -> int:
        for i, inst in enumerate(self.terms.installments):
            if inst.due_date < business_date and not self.settled(i):
                return (business_date - inst.due_date).days
        return 0

    def status_of(self, i: int, business_date: date) -> str:
        if self.settled(i):
            return "PAID"
        if self.terms.installments[i].due_date < business_date:
            return "OVERDUE"
        if self.paid_interest[i] or self.paid_principal[i]:
            return "PARTIALLY_PAID"
        return "DUE"


def bucket(days_past_due: int) -> str:
    """The delinquency bucket of a number of days past due."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def replay(terms: Terms, repayments: Iterable[Repayment]) -> tuple[Ledger, list[list[Allocation]]]:
    """The ledger after `repayments` in order, and each one's allocation (the state an account
    has once a reversal has removed one of them)."""
    ledger = Ledger(terms)
    return ledger, [ledger.apply(r) for r in repayments]
