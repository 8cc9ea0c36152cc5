"""Loan maths: the interest tier table, EMI, the amortization schedule and calendar-month steps.

Money is worked in whole cents and the monthly rate as an exact fraction, so each rounding is
exactly the design's "half-up to cents" (no precision to run out of, no half cent missed because
rate / 1200 seldom has a finite decimal), results do not depend on any Decimal context and no
float ever touches money. Amounts are returned as Decimals with exactly two decimal places.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

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
    amount: Decimal  # what the customer pays in all: the sum of the schedule's payments


class ScheduleRow(NamedTuple):
    month: int
    payment: Decimal
    interest: Decimal
    principal: Decimal
    balance: Decimal


class Quote(NamedTuple):
    """A loan's terms and its schedule, worked out together (the schedule gives the amount)."""

    terms: Terms
    rows: list[ScheduleRow]


# Cents as integers: (month, payment, interest, principal, balance) of one schedule row.
_CentsRow = tuple[int, int, int, int, int]


def _half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (both ≥ 0, denominator > 0) rounded half-up to an integer."""
    return (2 * numerator + denominator) // (2 * denominator)


def _money(cents: int) -> Decimal:
    """Cents as a Decimal with two places (12345 → 123.45, 0 → 0.00), needing no context."""
    whole, part = divmod(abs(cents), 100)
    return Decimal(f"{'-' if cents < 0 else ''}{whole}.{part:02d}")  # from text: exact, no context


@lru_cache(64)  # a handful of tier rates: building the fraction costs more than a short schedule
def _monthly_rate(annual_rate: Decimal) -> tuple[int, int]:
    """r = annual_rate / 12 / 100 as an exact fraction (numerator, denominator)."""
    r = Fraction(annual_rate) / 1200
    return r.numerator, r.denominator


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


def _emi_cents(principal: Decimal, annual_rate: Decimal, months: int) -> int:
    if months < 1:
        raise OutOfRange(f"months must be at least 1, got {months}")
    p, q = _monthly_rate(annual_rate)
    top, bottom = principal.as_integer_ratio()  # P = top / bottom, exactly
    if p == 0:
        return _half_up(100 * top, bottom * months)
    # With r = p/q: P·r·(1+r)^n / ((1+r)^n − 1) = P·p·(q+p)^n / (q·((q+p)^n − q^n)), in integers.
    growth, base = (q + p) ** months, q**months
    return _half_up(100 * top * p * growth, bottom * q * (growth - base))


def emi(principal: Decimal, annual_rate: Decimal, months: int) -> Decimal:
    """The equal monthly instalment, rounded half-up to cents."""
    return _money(_emi_cents(principal, annual_rate, months))


def _schedule_cents(principal: Decimal, annual_rate: Decimal, months: int) -> tuple[int, list[_CentsRow]]:
    """The EMI and the rows of the schedule, in cents (principal already checked to be cents)."""
    payment = _emi_cents(principal, annual_rate, months)
    p, q = _monthly_rate(annual_rate)
    # interest = half_up(balance · p / q) = (2·balance·p + q) // 2q, with the constants hoisted
    twice_p, twice_q = 2 * p, 2 * q
    top, bottom = principal.as_integer_ratio()
    balance = 100 * top // bottom  # exact: at most two decimal places
    rows: list[_CentsRow] = []
    for month in range(1, months):
        interest = (balance * twice_p + q) // twice_q
        # Never repay more than is owed: only reachable with tiny principals outside the API
        # limits, where the EMI's half-cent rounding outweighs the whole loan.
        part = min(payment - interest, balance)
        balance -= part
        rows.append((month, interest + part, interest, part, balance))
    interest = (balance * twice_p + q) // twice_q
    rows.append((months, interest + balance, interest, balance, 0))  # the last row clears the rest
    return payment, rows


def _total(rows: list[_CentsRow]) -> int:
    """What the schedule collects, in cents: EMI × (n − 1) plus the last payment."""
    return sum(row[1] for row in rows)


def _as_rows(rows: list[_CentsRow]) -> list[ScheduleRow]:
    return [ScheduleRow(m, _money(pay), _money(i), _money(part), _money(b)) for m, pay, i, part, b in rows]


def schedule(principal: Decimal, annual_rate: Decimal, months: int) -> list[ScheduleRow]:
    """The amortization table; every row pays the EMI except the last, which clears the balance.

    Each month's interest is rounded to cents on its own (what a statement shows), so the rounding of
    the EMI and of each interest line compounds; the last row takes up all of it, which on long
    high-rate loans can move the last payment away from the EMI by more than a cent.
    """
    _check_cents(principal, "principal")
    _, rows = _schedule_cents(principal, annual_rate, months)
    return _as_rows(rows)


def terms_for(principal: Decimal, months: int) -> Terms:
    """Rate, EMI and amount for a requested loan, after checking it against the API limits.

    The amount is what the schedule collects, the last payment absorbing the rounding, so it is
    worked out row by row (in integers: about 25 µs for 60 months, 150 µs for 480).
    """
    return _quote_cents(principal, months)[0]


def quote(principal: Decimal, months: int) -> Quote:
    """Terms and schedule of a requested loan, from one pass over the schedule (loans.quote)."""
    terms, rows = _quote_cents(principal, months)
    return Quote(terms, _as_rows(rows))


def _quote_cents(principal: Decimal, months: int) -> tuple[Terms, list[_CentsRow]]:
    _check_months(months)
    rate = interest_rate_for(principal)
    payment, rows = _schedule_cents(principal, rate, months)
    return Terms(interest=rate, emi=_money(payment), amount=_money(_total(rows))), rows


def add_months(d: date, n: int) -> date:
    """`d` moved by `n` calendar months, clamped to the last day of a shorter month (Jan 31 → Feb 28/29)."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last_day))
