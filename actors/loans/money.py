"""Loan maths: the interest tier table, EMI, the amortization schedule and calendar-month steps.

Everything is Decimal under a local context, so results do not depend on the caller's context and no
float ever touches money. Amounts are returned as cents (exactly two decimal places).
"""

from __future__ import annotations

import calendar
import decimal
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

CENT = Decimal("0.01")
# Far more digits than cents need, so (1+r)^n for n = 480 loses nothing that rounding would show.
_PRECISION = 50

# The one place the tiers live (annual %), by lowest principal, ascending. The first bound is the
# minimum principal: below it a loan is refused rather than given some default rate.
TIERS: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal("10000.00"), Decimal("8.45")),
    (Decimal("1000000.00"), Decimal("10.00")),
    (Decimal("2500000.00"), Decimal("12.00")),
)
MIN_PRINCIPAL = TIERS[0][0]
MAX_PRINCIPAL = Decimal("100000000.00")
MIN_MONTHS = 1
MAX_MONTHS = 480


class OutOfRange(ValueError):
    """An input the loan rules refuse; the message is safe to show the caller."""


class Terms(NamedTuple):
    interest: Decimal
    emi: Decimal
    amount: Decimal


class ScheduleRow(NamedTuple):
    month: int
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


def _context() -> decimal.Context:
    return decimal.Context(prec=_PRECISION, rounding=ROUND_HALF_UP)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _monthly_rate(annual_rate: Decimal) -> Decimal:
    return annual_rate / 12 / 100


def _check_cents(value: Decimal, name: str) -> None:
    _, digits, exponent = value.as_tuple()
    # A non-int exponent means NaN or infinity, which would make later comparisons raise
    # InvalidOperation instead of a clear refusal.
    if not isinstance(exponent, int):
        raise OutOfRange(f"{name} must be a finite number")
    # Read the digits rather than quantize: no context, so no overflow on absurdly long inputs.
    extra = -exponent - 2
    if extra > 0 and any(digits[-extra:]):
        # Rounding silently would lend (or schedule) a different sum than the one asked for.
        raise OutOfRange(f"{name} must have at most two decimal places, got {value}")


def _check_principal(principal: Decimal) -> None:
    _check_cents(principal, "principal")
    if not MIN_PRINCIPAL <= principal <= MAX_PRINCIPAL:
        raise OutOfRange(
            f"principal must be between {MIN_PRINCIPAL:,} and {MAX_PRINCIPAL:,}, got {principal:,}"
        )


def _check_months(months: int) -> None:
    if not MIN_MONTHS <= months <= MAX_MONTHS:
        raise OutOfRange(f"months must be between {MIN_MONTHS} and {MAX_MONTHS}, got {months}")


def interest_rate_for(principal: Decimal) -> Decimal:
    """The annual interest rate (in %) of the principal's tier; OutOfRange outside the API limits."""
    _check_principal(principal)
    rate = TIERS[0][1]
    for lower, tier_rate in TIERS:
        if principal >= lower:
            rate = tier_rate
    return rate


def emi(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The equal monthly instalment, rounded half-up to cents."""
    if months < 1:
        raise OutOfRange(f"months must be at least 1, got {months}")
    with decimal.localcontext(_context()):
        r = _monthly_rate(annual_rate)
        if r == 0:
            return _cents(principal / months)
        growth = (1 + r) ** months
        return _cents(principal * r * growth / (growth - 1))


def total_payable(emi: Decimal, months: int) -> Decimal:
    """What the borrower is quoted to pay in all: the instalment times the number of months."""
    with decimal.localcontext(_context()):
        return _cents(emi * months)


def terms_for(principal: Decimal, months: int) -> Terms:
    """Rate, EMI and amount for a requested loan, after checking it against the API limits."""
    _check_months(months)
    rate = interest_rate_for(principal)
    instalment = emi(principal, rate, months)
    return Terms(interest=rate, emi=instalment, amount=total_payable(instalment, months))


def schedule(principal: Decimal, annual_rate: Decimal, months: int) -> list[ScheduleRow]:
    """The amortization table; every row pays the EMI except the last, which clears the balance.

    Each month's interest is rounded to cents on its own (what a statement shows), so the rounding of
    the EMI and of each interest line compounds; the last row takes up all of it, which on long
    high-rate loans can move the last payment away from the EMI by more than a cent.
    """
    _check_cents(principal, "principal")
    payment = emi(principal, annual_rate, months)
    rows: list[ScheduleRow] = []
    with decimal.localcontext(_context()):
        r = _monthly_rate(annual_rate)
        balance = _cents(principal)  # same value, but its exponent is -2 like every other cell
        for month in range(1, months + 1):
            interest = _cents(balance * r)
            if month == months:
                part = balance
            else:
                # Never repay more than is owed: only reachable with tiny principals outside the API
                # limits, where the EMI's half-cent rounding outweighs the whole loan.
                part = min(payment - interest, balance)
            balance -= part
            rows.append(ScheduleRow(month, interest + part, interest, part, balance))
    return rows


def add_months(d: date, n: int) -> date:
    """`d` moved by `n` calendar months, clamped to the last day of a shorter month (Jan 31 → Feb 28/29)."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last_day))
