"""design.md §11's money rules written again for the tests, independently of
actors/servicing/ledger.py: what an account's books must be after its repayments not reversed,
applied one after another in recorded order.

- Payoff on d = outstanding principal + unpaid interest of installments due on or before d +
  interest accrued in d's period (outstanding × r × days elapsed ÷ days in the period, less what
  that period's installment has had of interest, never below zero), rounded half-up once.
- A repayment above the payoff → overpayment; exactly the payoff → everything due by d, the accrued
  interest to the installments after d in due order, all principal, the rest of the interest
  waived, closed on d; below it → installments in due order, interest first, then principal.
- Judged at b: an installment not settled with due date < b is OVERDUE; days past due = b − the
  due date of the oldest such one; bucket current, 1-30, 31-60, 61-90, 90+.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

D = Decimal
ZERO = D("0.00")


class Refused(Exception):
    """The rules refuse a repayment: `code` is overpayment (with the payoff) or loan_closed."""

    def __init__(self, code: str, payoff: Decimal | None = None) -> None:
        super().__init__(code, payoff)
        self.code, self.payoff = code, payoff


def cents(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def bucket(days: int) -> str:
    for top, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if days <= top:
            return name
    return "90+"


@dataclass
class Line:
    """One installment: what it owes and what it has had."""

    number: int
    due: date
    interest: Decimal
    principal: Decimal
    paid_interest: Decimal = ZERO
    paid_principal: Decimal = ZERO
    waived: Decimal = ZERO

    @property
    def unpaid_interest(self) -> Decimal:
        return self.interest - self.paid_interest - self.waived

    @property
    def settled(self) -> bool:
        return self.unpaid_interest == 0 and self.paid_principal == self.principal


@dataclass
class Books:
    principal: Decimal
    annual_rate: Decimal
    start: date
    lines: list[Line]
    closed_on: date | None = None
    allocations: list[list[tuple[int, Decimal, Decimal]]] = field(default_factory=list)

    @classmethod
    def of(cls, loan: dict[str, Any]) -> Books:
        """Fresh books of an approved loan (as the edge answers it, with its schedule's rows)."""
        lines = [
            Line(k, date.fromisoformat(r["due_date"]), D(r["interest"]), D(r["principal"]))
            for k, r in enumerate(loan["rows"], start=1)
        ]
        return cls(D(loan["principal"]), D(loan["interest"]), date.fromisoformat(loan["start_date"]), lines)

    @classmethod
    def replayed(cls, loan: dict[str, Any], repayments: list[tuple[Decimal, date]]) -> Books:
        """The books after `repayments` (amount, paid_on) in order; Refused if one no longer fits."""
        books = cls.of(loan)
        for amount, paid_on in repayments:
            books.allocations.append(books.pay(amount, paid_on))
        return books

    @property
    def outstanding(self) -> Decimal:
        return self.principal - sum((x.paid_principal for x in self.lines), ZERO)

    def payoff(self, on: date) -> Decimal:
        due_interest = sum((x.unpaid_interest for x in self.lines if x.due <= on), ZERO)
        later = [i for i, x in enumerate(self.lines) if x.due > on]
        accrued = D(0)
        if later and self.closed_on is None:
            i = later[0]
            begin = self.lines[i - 1].due if i else self.start
            with localcontext() as ctx:
                ctx.prec = 50
                raw = (
                    self.outstanding
                    * self.annual_rate
                    / 1200
                    * (on - begin).days
                    / (self.lines[i].due - begin).days
                )
                accrued = max(raw - self.lines[i].paid_interest, D(0))
        return cents(self.outstanding + due_interest + accrued)

    def pay(self, amount: Decimal, on: date) -> list[tuple[int, Decimal, Decimal]]:
        """Apply one repayment; its allocation [(installment, interest, principal)]."""
        if self.closed_on is not None:
            raise Refused("loan_closed")
        total = self.payoff(on)
        if amount > total:
            raise Refused("overpayment", total)
        if amount == total:
            return self._pay_off(total, on)
        left, parts = amount, []
        for x in self.lines:
            interest = min(left, x.unpaid_interest)
            principal = min(left - interest, x.principal - x.paid_principal)
            left -= interest + principal
            x.paid_interest += interest
            x.paid_principal += principal
            if interest or principal:
                parts.append((x.number, interest, principal))
        if all(x.settled for x in self.lines):
            self.closed_on = on
        return parts

    def _pay_off(self, total: Decimal, on: date) -> list[tuple[int, Decimal, Decimal]]:
        accrued = total - self.outstanding - sum((x.unpaid_interest for x in self.lines if x.due <= on), ZERO)
        parts = []
        for x in self.lines:
            interest = x.unpaid_interest if x.due <= on else min(accrued, x.unpaid_interest)
            if x.due > on:
                accrued -= interest
            principal = x.principal - x.paid_principal
            x.paid_interest += interest
            x.paid_principal += principal
            x.waived += x.unpaid_interest
            if interest or principal:
                parts.append((x.number, interest, principal))
        self.closed_on = on
        return parts

    def status(self, x: Line, b: date) -> str:
        if x.settled:
            return "PAID"
        if x.due < b:
            return "OVERDUE"
        return "PARTIALLY_PAID" if x.paid_interest or x.paid_principal else "DUE"

    def days_past_due(self, b: date) -> int:
        late = [x.due for x in self.lines if x.due < b and not x.settled]
        return (b - min(late)).days if late else 0
