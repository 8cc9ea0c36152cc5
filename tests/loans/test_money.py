"""Loan maths: reference values from the design, tier boundaries, and schedule invariants by property."""

from __future__ import annotations

import decimal
import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from actors.loans.money import (
    MAX_MONTHS,
    MAX_PRINCIPAL,
    MIN_MONTHS,
    MIN_PRINCIPAL,
    TIERS,
    OutOfRange,
    ScheduleRow,
    Terms,
    add_months,
    emi,
    interest_rate_for,
    quote,
    schedule,
    terms_for,
)

D = Decimal

# Tier edges are where an off-by-one-cent bug would hide, so hypothesis draws them often on purpose.
_EDGES = [MIN_PRINCIPAL, MAX_PRINCIPAL] + [t for lower, _ in TIERS for t in (lower - D("0.01"), lower)]
principals = st.one_of(
    st.sampled_from([p for p in _EDGES if MIN_PRINCIPAL <= p <= MAX_PRINCIPAL]),
    st.integers(int(MIN_PRINCIPAL * 100), int(MAX_PRINCIPAL * 100)).map(lambda c: D(c).scaleb(-2)),
)
months_st = st.one_of(st.sampled_from([MIN_MONTHS, 2, MAX_MONTHS - 1, MAX_MONTHS]), st.integers(1, 480))
# Each example builds up to 480 rows (~1.5 ms); a fixed deadline would only add flakiness on busy CI.
fast = settings(max_examples=200, deadline=None)


def two_places(value: Decimal) -> bool:
    return value.as_tuple().exponent == -2


def last_row_bound(annual_rate: Decimal, months: int) -> Decimal:
    """How far the last payment may drift from the EMI, derived rather than guessed.

    With E = E* + ε (EMI rounding, |ε| ≤ ½ cent) and each month's interest I_k = B_{k-1}·r + δ_k
    (|δ_k| ≤ ½ cent), the balance error obeys D_k = D_{k-1}(1+r) + δ_k − ε, and the last payment is
    B_{n-1}(1+r) + δ_n, so  last − E = Σ_{j=1..n} (δ_j − ε)(1+r)^(n−j), hence
    |last − E| ≤ 1 cent · Σ_{k<n} (1+r)^k. The errors compound like the debt itself: at 12 % over
    480 months the bound is 117.64 and drifts of ~58 are actually reached, so "within a cent" would
    be wrong.
    """
    with decimal.localcontext(decimal.Context(prec=50)):
        r = annual_rate / 12 / 100
        growth = sum(((1 + r) ** k for k in range(months)), D(0))
        return D("0.01") * growth


def half_up(value: Fraction) -> Decimal:
    """An exact value rounded half-up to cents."""
    return D(math.floor(value * 100 + Fraction(1, 2))).scaleb(-2)


def by_the_rules(principal: Decimal, months: int) -> tuple[Terms, list[ScheduleRow]]:
    """Terms and schedule as design §5 states them, in exact fractions, written apart from money.py.

    r = rate / 12 / 100; EMI = P·r·(1+r)^n / ((1+r)^n − 1) (P/n when r = 0), half-up to cents; each
    month's interest is the balance × r, half-up to cents; every month pays the EMI but the last,
    which pays what is left and its interest; the amount is the sum of the payments.
    """
    rate = next(rate for lower, rate in reversed(TIERS) if principal >= lower)
    r, p = Fraction(rate) / 12 / 100, Fraction(principal)
    instalment = half_up(p / months if r == 0 else p * r * (1 + r) ** months / ((1 + r) ** months - 1))
    rows, balance = [], principal
    for month in range(1, months + 1):
        interest = half_up(Fraction(balance) * r)
        payment = instalment if month < months else balance + interest
        balance -= payment - interest
        rows.append(ScheduleRow(month, payment, interest, payment - interest, balance))
    return Terms(rate, instalment, sum((row.payment for row in rows), D("0.00"))), rows


# ---- reference values from design §5 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "months", "rate", "instalment", "amount"),
    [
        # design §5 gives rate and EMI; the amount is the schedule's sum by the rules (by_the_rules)
        ("1000000", 60, "10.00", "21247.04", "1274822.84"),
        # design §5: EMI × 12 would say 52,317.96, two cents less than the schedule collects
        ("50000", 12, "8.45", "4359.83", "52317.98"),
        # one month: interest 10,200 × 8.45 / 1200 = 71.825 exactly, a half cent that goes up
        ("10200", 1, "8.45", "10271.83", "10271.83"),
    ],
)
def test_reference_terms(principal: str, months: int, rate: str, instalment: str, amount: str) -> None:
    expected = Terms(D(rate), D(instalment), D(amount))
    assert terms_for(D(principal), months) == expected
    assert by_the_rules(D(principal), months)[0] == expected
    assert quote(D(principal), months).terms == expected


def test_reference_amount_is_what_the_schedule_collects() -> None:
    rows = schedule(D("50000"), D("8.45"), 12)
    assert [row.payment for row in rows] == [D("4359.83")] * 11 + [D("4359.85")]
    assert sum((row.payment for row in rows), D(0)) == D("52317.98") == terms_for(D("50000"), 12).amount


def test_a_half_cent_of_interest_rounds_up_on_every_tier() -> None:
    # 1,000,000.20 × 10 / 1200 = 8,333.335 and 2,500,000.50 × 12 / 1200 = 25,000.005, exactly
    assert schedule(D("1000000.20"), D("10.00"), 12)[0].interest == D("8333.34")
    assert schedule(D("2500000.50"), D("12.00"), 12)[0].interest == D("25000.01")


def test_reference_schedule_ends_at_zero() -> None:
    rows = schedule(D("1000000"), D("10.00"), 60)
    assert len(rows) == 60
    assert rows[0] == ScheduleRow(1, D("21247.04"), D("8333.33"), D("12913.71"), D("987086.29"))
    assert rows[-1].balance == D("0.00")


# ---- tiers and limits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate"),
    [
        ("10000", "8.45"),
        ("10000.00", "8.45"),
        ("999999.99", "8.45"),
        ("1000000", "10.00"),
        ("2499999.99", "10.00"),
        ("2500000", "12.00"),
        ("100000000", "12.00"),
    ],
)
def test_tier_boundaries(principal: str, rate: str) -> None:
    got = interest_rate_for(D(principal))
    assert got == D(rate) and str(got) == rate


@pytest.mark.parametrize(
    "principal", ["9999.99", "0", "-10000", "100000000.01", "1E+80", "10000.001", "NaN", "Infinity"]
)
def test_principal_refused(principal: str) -> None:
    with pytest.raises(OutOfRange, match="principal"):
        interest_rate_for(D(principal))
    with pytest.raises(ValueError):  # OutOfRange is a ValueError, for callers that only know that
        terms_for(D(principal), 12)


def test_trailing_zero_decimals_are_still_cents() -> None:
    assert terms_for(D("10000.000"), 12) == terms_for(D("10000"), 12)


@pytest.mark.parametrize("months", [0, -1, 481])
def test_months_refused(months: int) -> None:
    with pytest.raises(OutOfRange, match="months"):
        terms_for(D("50000"), months)


@given(principals)
@fast
def test_rate_follows_the_table(principal: Decimal) -> None:
    expected = max((t for t in TIERS if t[0] <= principal), key=lambda t: t[0])[1]
    assert interest_rate_for(principal) == expected


# ---- EMI and schedule properties ---------------------------------------------------------------


@given(principals, months_st)
@fast
def test_terms_are_cents_and_amount_is_what_the_schedule_collects(principal: Decimal, months: int) -> None:
    terms = terms_for(principal, months)
    assert all(two_places(v) for v in (terms.interest, terms.emi, terms.amount))
    rows = schedule(principal, terms.interest, months)
    assert terms.amount == sum((row.payment for row in rows), D(0))
    assert terms.amount == terms.emi * (months - 1) + rows[-1].payment
    assert quote(principal, months) == (terms, rows)
    # Interest is never negative, so the payments repay at least what was lent.
    assert terms.amount >= principal


@given(principals, months_st)
@example(D("2500000"), 480)
@example(D("1000000.20"), 12)
@fast
def test_terms_and_schedule_follow_the_design_rules(principal: Decimal, months: int) -> None:
    terms, rows = quote(principal, months)
    assert (terms, rows) == by_the_rules(principal, months)
    # and the rules' consequences, stated on their own
    r = Fraction(terms.interest) / 1200
    balances = [principal] + [row.balance for row in rows]
    assert all(
        row.interest == half_up(Fraction(before) * r) for before, row in zip(balances[:-1], rows, strict=True)
    )
    assert str(rows[-1].balance) == "0.00"
    assert sum((row.principal for row in rows), D(0)) == principal
    assert terms.amount == sum((row.payment for row in rows), D(0))


@given(principals, months_st)
@example(D("2500000"), 480)
@example(D("100000000"), 480)
@example(D("10000"), 1)
@fast
def test_schedule_invariants(principal: Decimal, months: int) -> None:
    terms = terms_for(principal, months)
    rows = schedule(principal, terms.interest, months)

    assert [row.month for row in rows] == list(range(1, months + 1))
    for row in rows:
        assert all(two_places(v) for v in (row.payment, row.interest, row.principal, row.balance))
        assert row.payment == row.interest + row.principal
        assert row.principal >= 0 and row.interest >= 0
        assert row.balance >= 0
    assert str(rows[-1].balance) == "0.00"  # not merely == 0: "-0.00" must not reach a client
    assert sum((row.principal for row in rows), D(0)) == principal
    balances = [principal] + [row.balance for row in rows]
    assert all(a - row.principal == b for a, b, row in zip(balances[:-1], balances[1:], rows, strict=True))

    # Every row but the last pays exactly the EMI, so the whole difference between what the schedule
    # collects (the amount) and EMI × n is the last row's drift, and that drift is bounded.
    assert all(row.payment == terms.emi for row in rows[:-1])
    drift = rows[-1].payment - terms.emi
    assert terms.amount - terms.emi * months == drift
    assert abs(drift) <= last_row_bound(terms.interest, months)


def test_zero_rate_splits_evenly_and_last_row_takes_the_remainder() -> None:
    assert emi(D("1000.00"), D("0"), 3) == D("333.33")
    rows = schedule(D("1000.00"), D("0"), 3)
    assert [r.payment for r in rows] == [D("333.33"), D("333.33"), D("333.34")]
    assert all(r.interest == 0 for r in rows)


def test_half_cents_round_up() -> None:
    # Banker's rounding would give 1000.00 here: the design says half-up, and the cent is the borrower's.
    assert emi(D("10000.05"), D("0"), 10) == D("1000.01")


def test_tiny_loans_never_overpay() -> None:
    # Outside the API limits a rounded-up EMI can exceed what is left; the balance must still not go
    # below zero.
    rows = schedule(D("0.05"), D("0"), 10)
    assert all(r.balance >= 0 for r in rows)
    assert sum((r.principal for r in rows), D(0)) == D("0.05")
    assert rows[-1].balance == 0


def test_schedule_refuses_sub_cent_principal() -> None:
    with pytest.raises(OutOfRange):
        schedule(D("10000.005"), D("8.45"), 12)


def test_emi_refuses_zero_months() -> None:
    with pytest.raises(OutOfRange):
        emi(D("10000"), D("8.45"), 0)


# ---- calendar months --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2027, 1, 31), 1, date(2027, 2, 28)),
        (date(2027, 3, 31), 1, date(2027, 4, 30)),
        (date(2027, 12, 15), 1, date(2028, 1, 15)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),
        (date(2027, 1, 31), 0, date(2027, 1, 31)),
        (date(2027, 1, 31), 12, date(2028, 1, 31)),
        (date(2027, 1, 31), 480, date(2067, 1, 31)),
        (date(2028, 3, 31), -1, date(2028, 2, 29)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, n: int, expected: date) -> None:
    assert add_months(start, n) == expected


def test_due_dates_do_not_drift_after_a_short_month() -> None:
    # Each due date is counted from the start, not from the previous (clamped) one: Jan 31 → Feb 28 →
    # Mar 31, never Mar 28.
    start = date(2027, 1, 31)
    assert [add_months(start, k) for k in (1, 2, 3)] == [
        date(2027, 2, 28),
        date(2027, 3, 31),
        date(2027, 4, 30),
    ]
