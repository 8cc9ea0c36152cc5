"""design.md §11's money rules, against figures worked out by hand from the rules themselves.

The schedule here is made up (three installments of 100.00 principal at 1 % a month, interest on
the balance), so each expected figure can be checked with a pencil: 12 % a year on 300.00.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.servicing.ledger import (
    AccountClosed,
    Allocation,
    Installment,
    Ledger,
    Overpayment,
    Repayment,
    Terms,
    bucket,
    replay,
)

D = Decimal
START = date(2026, 1, 31)
TERMS = Terms(
    principal=D("300.00"),
    annual_rate=D("12.00"),
    start_date=START,
    installments=(
        Installment(1, date(2026, 2, 28), D("3.00"), D("100.00")),
        Installment(2, date(2026, 3, 31), D("2.00"), D("100.00")),
        Installment(3, date(2026, 4, 30), D("1.00"), D("100.00")),
    ),
)


def pay(*repayments: tuple[str, date]) -> tuple[Ledger, list[list[Allocation]]]:
    return replay(TERMS, [Repayment(D(amount), on) for amount, on in repayments])


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("50.00", [(1, "3.00", "47.00")]),  # partial: interest first
        ("2.00", [(1, "2.00", "0.00")]),  # less than the interest
        ("103.00", [(1, "3.00", "100.00")]),  # exactly one installment
        ("150.00", [(1, "3.00", "100.00"), (2, "2.00", "45.00")]),  # ahead, across installments
        ("250.00", [(1, "3.00", "100.00"), (2, "2.00", "100.00"), (3, "1.00", "44.00")]),
    ],
)
def test_allocation_runs_in_due_order_interest_before_principal(amount: str, expected: list[tuple]) -> None:
    _, [allocation] = pay((amount, date(2026, 2, 10)))
    assert allocation == [Allocation(n, D(i), D(p)) for n, i, p in expected]


def test_payoff_inside_the_first_period_accrues_by_days() -> None:
    """300.00 × 1 % × 10 days of 28 = 1.0714… → 301.07."""
    payoff = Ledger(TERMS).payoff(date(2026, 2, 10))
    assert (payoff.outstanding_principal, payoff.interest, payoff.total) == (
        D("300.00"),
        D("1.07"),
        D("301.07"),
    )


def test_payoff_on_a_due_date_owes_that_installment_and_nothing_of_the_next() -> None:
    assert Ledger(TERMS).payoff(date(2026, 2, 28)).total == D("303.00")


def test_payoff_in_a_later_period_counts_its_days_from_the_previous_due_date() -> None:
    """After installment 1 is paid: 200.00 × 1 % × 15 days of 31 = 0.9677… → 200.97."""
    ledger, _ = pay(("103.00", date(2026, 2, 28)))
    assert ledger.payoff(date(2026, 3, 15)).total == D("200.97")


def test_payoff_less_interest_already_paid_towards_the_period() -> None:
    """2.00 paid towards installment 1's interest: 1.07 accrued − 2.00 is below zero, so 0."""
    ledger, _ = pay(("2.00", date(2026, 2, 5)))
    assert ledger.payoff(date(2026, 2, 10)).total == D("300.00")


def test_paying_the_payoff_closes_and_waives_later_interest() -> None:
    ledger, [allocation] = pay(("301.07", date(2026, 2, 10)))
    assert allocation == [
        Allocation(1, D("1.07"), D("100.00")),
        Allocation(2, D("0.00"), D("100.00")),
        Allocation(3, D("0.00"), D("100.00")),
    ]
    assert ledger.closed_on == date(2026, 2, 10)
    assert ledger.outstanding_principal == D("0.00")
    assert sum(ledger.waived_interest) == D("4.93")  # 1.93 + 2.00 + 1.00
    with pytest.raises(AccountClosed):
        ledger.apply(Repayment(D("1.00"), date(2026, 2, 11)))


def test_more_than_the_payoff_is_refused_with_the_figure() -> None:
    with pytest.raises(Overpayment) as refused:
        pay(("301.08", date(2026, 2, 10)))
    assert refused.value.payoff.total == D("301.07")


def test_the_last_installment_paid_on_time_closes_with_nothing_waived() -> None:
    ledger, _ = pay(
        ("103.00", date(2026, 2, 28)), ("102.00", date(2026, 3, 31)), ("101.00", date(2026, 4, 30))
    )
    assert ledger.closed_on == date(2026, 4, 30)
    assert sum(ledger.waived_interest) == D("0.00")


def test_reversing_the_first_of_three_reallocates_the_other_two() -> None:
    first, second, third = (
        ("50.00", date(2026, 2, 10)),
        ("60.00", date(2026, 2, 20)),
        ("70.00", date(2026, 3, 5)),
    )
    _, before = pay(first, second, third)
    assert before[1] == [Allocation(1, D("0.00"), D("53.00")), Allocation(2, D("2.00"), D("5.00"))]
    ledger, after = pay(second, third)
    assert after == [
        [Allocation(1, D("3.00"), D("57.00"))],
        [Allocation(1, D("0.00"), D("43.00")), Allocation(2, D("2.00"), D("25.00"))],
    ]
    assert ledger.outstanding_principal == D("175.00")  # 300 − 57 − 43 − 25


@pytest.mark.parametrize(
    ("business_date", "overdue", "dpd", "expected_bucket"),
    [
        (date(2026, 2, 28), [], 0, "current"),  # due today is not yet overdue
        (date(2026, 3, 1), [1], 1, "1-30"),
        (date(2026, 3, 30), [1], 30, "1-30"),
        (date(2026, 3, 31), [1], 31, "31-60"),
        (date(2026, 5, 1), [1, 2, 3], 62, "61-90"),
        (date(2026, 5, 30), [1, 2, 3], 91, "90+"),
    ],
)
def test_days_past_due_count_from_the_oldest_unpaid_installment(
    business_date: date, overdue: list[int], dpd: int, expected_bucket: str
) -> None:
    ledger = Ledger(TERMS)
    assert ledger.overdue(business_date) == overdue
    assert ledger.days_past_due(business_date) == dpd
    assert bucket(dpd) == expected_bucket


def test_a_partly_paid_installment_stays_overdue_and_paid_ones_leave() -> None:
    ledger, _ = pay(("103.00", date(2026, 2, 28)), ("50.00", date(2026, 3, 20)))
    assert ledger.overdue(date(2026, 4, 10)) == [2]
    assert ledger.days_past_due(date(2026, 4, 10)) == 10
    assert [ledger.status_of(i, date(2026, 3, 25)) for i in range(3)] == ["PAID", "PARTIALLY_PAID", "DUE"]


# --- the invariants of §11 over random schedules and histories ---------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> Terms:
    n = draw(st.integers(1, 8))
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    parts = [D(draw(st.integers(100, 100_000))) / 100 for _ in range(n)]
    interests = [D(draw(st.integers(0, 5_000))) / 100 for _ in range(n)]
    dues, due = [], start
    for _ in range(n):
        due += timedelta(days=draw(st.integers(28, 31)))
        dues.append(due)
    installments = tuple(Installment(k + 1, dues[k], interests[k], parts[k]) for k in range(n))
    rate = D(draw(st.sampled_from(["0.00", "8.45", "10.00", "12.00"])))
    return Terms(
        principal=sum(parts, D("0.00")), annual_rate=rate, start_date=start, installments=installments
    )


operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(1, 2_000_000), st.integers(0, 400)),
        st.tuples(st.just("payoff"), st.just(0), st.integers(0, 400)),
        st.tuples(st.just("reverse"), st.integers(0, 20), st.just(0)),
    ),
    max_size=12,
)


def _snapshot(ledger: Ledger) -> tuple[object, ...]:
    return (ledger.paid_interest, ledger.paid_principal, ledger.waived_interest, ledger.closed_on)


@settings(max_examples=300, deadline=None)
@given(schedules(), operations)
def test_invariants_hold_over_any_history(terms: Terms, ops: list[tuple[str, int, int]]) -> None:
    kept: list[Repayment] = []
    for kind, number, days in ops:
        on = terms.start_date + timedelta(days=days)
        ledger, allocations = replay(terms, kept)
        if kind == "reverse":
            if kept:  # any of them, not only the last: the others are allocated again in order
                kept.pop(number % len(kept))
            continue
        if ledger.closed:
            continue
        amount = ledger.payoff(on).total if kind == "payoff" else D(number) / 100
        before = _snapshot(Ledger(terms, *map(list, _snapshot(ledger)[:3]), ledger.closed_on))
        try:
            new = ledger.apply(Repayment(amount, on))
        except Overpayment as refused:
            assert amount > refused.payoff.total
            assert _snapshot(ledger) == before  # a refusal changes nothing
            continue
        assert sum((a.interest + a.principal for a in new), D(0)) == amount
        kept.append(Repayment(amount, on))
        if kind == "payoff":
            assert ledger.closed and ledger.outstanding_principal == 0
        # the state after a repayment, reversed, is the state before it
        undone, _ = replay(terms, kept[:-1])
        assert _snapshot(undone) == before
    ledger, allocations = replay(terms, kept)
    allocated = [a for per in allocations for a in per]
    assert sum((a.interest + a.principal for a in allocated), D(0)) == sum((r.amount for r in kept), D(0))
    assert ledger.outstanding_principal == terms.principal - sum((a.principal for a in allocated), D(0))
    for i, inst in enumerate(terms.installments):
        got_interest = sum((a.interest for a in allocated if a.installment == inst.number), D(0))
        got_principal = sum((a.principal for a in allocated if a.installment == inst.number), D(0))
        assert 0 <= got_principal <= inst.principal
        assert 0 <= got_interest and got_interest + ledger.waived_interest[i] <= inst.interest
    if ledger.closed:
        assert ledger.outstanding_principal == 0
