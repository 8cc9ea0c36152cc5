"""design.md §11's invariants as a property over random sequences of repayments (small, more
than an installment, exactly the payoff, over it), reversals and closes of business, through the
real actor over NATS on a system of this module's own: after every step the stored books equal
the rules written again in tests/support/books_model.py (replayed from the repayments not
reversed), Σ allocations = Σ repayments not reversed, outstanding = principal − Σ principal
allocated, no installment allocated more than it owes, a payoff closes at 0.00, a reversal of the
last repayment restores the state before it, and days past due are judged at the business date.

The business date is one per system and only moves forward: each example opens a fresh loan
(started today, the approval's UTC date) and moves the date at most BUDGET days, so 25 examples
stay well inside its 60 months. Shrinking is off for the same reason (its hundreds of replays
would carry the date years on); a failure prints its steps (`note`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, event, example, given, note, settings
from hypothesis import strategies as st

from tests.support.books_model import Books, Refused, bucket
from tests.support.cob import business_date
from tests.support.people import Cast, cast
from tests.support.servicing import (
    OwnSystem,
    ServicingTable,
    assert_books_balance,
    close_business,
    money,
    open_account,
    own_system,
    payoff,
    repay,
    reverse,
    statement,
)

pytestmark = pytest.mark.anyio
BUDGET = 30  # days one example may move the business date
MONEY = ("status", "closed_on", "outstanding_principal", "paid_principal", "paid_interest", "waived_interest")


class Repay(NamedTuple):
    kind: str  # small | installments | payoff | over
    cents: int  # the small amount, or what goes over the payoff
    percent: int  # of the first installment's payment, for "installments"
    back: int  # paid_on this many per cent of the way back from the business date to the start


class Reverse(NamedTuple):
    pick: int  # which repayment not reversed (modulo their number)


class Cob(NamedTuple):
    days: int


STEPS = st.lists(
    st.one_of(
        st.builds(
            Repay,
            st.sampled_from(["small", "small", "installments", "installments", "payoff", "over"]),
            st.integers(1, 50_000),
            st.integers(100, 300),
            st.sampled_from([0, 0, 0, 50, 100]),
        ),
        st.builds(Reverse, st.integers(0, 20)),
        st.builds(Cob, st.integers(1, 20)),
    ),
    min_size=3,
    max_size=8,
)


@dataclass
class Run:
    """One example's loan, what was recorded on it, and the money state before each repayment."""

    system: OwnSystem
    crew: Cast
    loan: dict[str, Any]
    live: list[tuple[str, Decimal, date]] = field(default_factory=list)  # id, amount, paid_on
    before: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # id → money state
    reversed_since: set[str] = field(default_factory=set)  # ids recorded before some reversal
    judged: bool = False  # a write or COB has judged it (an account opened late is not, until then)
    moved: int = 0

    @property
    def id(self) -> str:
        return str(self.loan["id"])

    def expected(self, leaving_out: str | None = None) -> Books:
        return Books.replayed(self.loan, [(a, d) for i, a, d in self.live if i != leaving_out])


async def money_state(run: Run) -> tuple[Any, ...]:
    """The account's money columns and each installment's: what a reversal must restore."""
    table = ServicingTable(run.system.settings)
    account = await table.account(run.id)
    assert account is not None
    rows = await table.installments(run.id)
    lines = tuple((r["paid_interest"], r["paid_principal"], r["waived_interest"]) for r in rows)
    return tuple(account[c] for c in MONEY) + lines


async def check(run: Run) -> None:
    """The stored books, the statement and the payoff quote against the rules, at the business date."""
    s = run.system
    b = await business_date(s.settings)
    model = run.expected()
    table = ServicingTable(s.settings)
    account = await table.account(run.id)
    assert account is not None
    status = "CLOSED" if model.closed_on else "ACTIVE"
    sums = [
        sum((getattr(x, f) for x in model.lines), Decimal(0))
        for f in ("paid_principal", "paid_interest", "waived")
    ]
    assert tuple(account[c] for c in MONEY) == (status, model.closed_on, model.outstanding, *sums)
    rows = await table.installments(run.id)
    assert [(r["paid_interest"], r["paid_principal"], r["waived_interest"]) for r in rows] == [
        (x.paid_interest, x.paid_principal, x.waived) for x in model.lines
    ]
    stored = [t for t in await table.transactions(run.id) if not t["reversed"]]
    assert [str(t["id"]) for t in stored] == [i for i, _, _ in run.live]
    allocations = [
        [(a["installment"], money(a["interest"]), money(a["principal"])) for a in json.loads(t["allocation"])]
        for t in stored
    ]
    assert allocations == model.allocations  # allocated again, in order, after a reversal
    await assert_books_balance(s.settings, run.id)  # Σ allocations, outstanding, none over what is owed
    if model.closed_on is not None:
        assert (account["outstanding_principal"], account["status"]) == (Decimal("0.00"), "CLOSED")
    if run.judged:
        days = model.days_past_due(b)
        assert (account["days_past_due"], account["bucket"]) == (days, bucket(days)), b
        assert [r["status"] for r in rows] == [model.status(x, b) for x in model.lines], b
    quote = (await payoff(s.nc, run.crew.admin, run.id)).data
    assert money(quote["total"]) == (model.payoff(b) if model.closed_on is None else Decimal("0.00"))
    seen = (await statement(s.nc, run.crew.customer, run.id)).data
    assert (seen["status"], money(seen["outstanding_principal"]), seen["days_past_due"]) == (
        account["status"],
        account["outstanding_principal"],
        account["days_past_due"],
    )


async def step_repay(run: Run, step: Repay) -> None:
    s, b = run.system, await business_date(run.system.settings)
    start = date.fromisoformat(run.loan["start_date"])
    paid_on = b - timedelta(days=(b - start).days * step.back // 100)
    model = run.expected()
    first = Decimal(run.loan["rows"][0]["payment"])
    amount = {
        "small": Decimal(step.cents) / 100,
        "installments": (first * step.percent / 100).quantize(Decimal("0.01")),
        "payoff": model.payoff(paid_on),
        "over": model.payoff(paid_on) + Decimal(step.cents) / 100,
    }[step.kind]
    if amount == 0:  # a closed account's payoff: any amount is refused as loan_closed
        amount = Decimal("0.01")
    try:
        allocation = model.pay(amount, paid_on)
    except Refused as refused:
        event(f"repayment refused: {refused.code}")
        reply = await repay(s.nc, run.crew.agent, run.id, str(amount), paid_on, key=uuid.uuid4().hex)
        assert (reply.status, reply.code) == (409, refused.code), reply
        if refused.code == "overpayment":
            assert reply.details == {"payoff": str(refused.payoff)}
            if paid_on == b:  # the quote a client would have asked for first
                assert reply.details["payoff"] == (await payoff(s.nc, run.crew.admin, run.id)).data["total"]
        return
    state = await money_state(run)
    reply = await repay(s.nc, run.crew.agent, run.id, str(amount), paid_on, key=uuid.uuid4().hex)
    assert reply.status == 200, reply
    got = [(a["installment"], money(a["interest"]), money(a["principal"])) for a in reply.data["allocation"]]
    assert got == allocation
    run.live.append((reply.data["id"], amount, paid_on))
    run.before[reply.data["id"]] = state
    run.judged = True
    event(f"repayment: {step.kind}{', backdated' if paid_on < b else ''}")
    if step.kind == "payoff":
        assert model.closed_on == paid_on


async def step_reverse(run: Run, step: Reverse) -> None:
    if not run.live:
        return
    s = run.system
    chosen = run.live[step.pick % len(run.live)][0]
    try:
        run.expected(leaving_out=chosen)
    except Refused:  # the others no longer fit without it: refused, nothing changes
        reply = await reverse(s.nc, run.crew.admin, run.id, chosen, key=uuid.uuid4().hex)
        assert (reply.status, reply.code) == (409, "conflict"), reply
        event("reversal refused")
        return
    reply = await reverse(s.nc, run.crew.admin, run.id, chosen, key=uuid.uuid4().hex)
    assert reply.status == 200 and reply.data["reversed"] is True, reply
    last = chosen == run.live[-1][0]
    run.live = [t for t in run.live if t[0] != chosen]
    run.judged = True
    event("reversal of the last" if last else "reversal of an earlier one")
    if last and chosen not in run.reversed_since:
        event("reversal compared with the state before")
        assert await money_state(run) == run.before[chosen]  # exactly as before it was recorded
    run.reversed_since.update(i for i, _, _ in run.live)
    again = await reverse(s.nc, run.crew.admin, run.id, chosen, key=uuid.uuid4().hex)
    assert (again.status, again.code) == (409, "conflict")


async def step_cob(run: Run, step: Cob) -> None:
    if run.moved + step.days > BUDGET:
        return
    to = await business_date(run.system.settings) + timedelta(days=step.days)
    await close_business(run.system, run.crew.admin, to)
    run.moved += step.days
    run.judged = True
    event("close of business")


@pytest.fixture(scope="module")
async def system(
    server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OwnSystem]:
    async with own_system(server_urls, tmp_path_factory.mktemp("properties")) as own:
        yield own


@pytest.fixture(scope="module")
async def crew(system: OwnSystem) -> Cast:
    return await cast(system.client, system.settings)


@settings(
    max_examples=25,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    steps=[
        Repay("small", 12_345, 100, 0),
        Cob(20),
        Repay("installments", 0, 250, 0),
        Reverse(0),  # the earlier one: the later one allocated again
        Repay("over", 1, 100, 0),
        Repay("payoff", 0, 100, 0),
        Reverse(1),  # the payoff, the last: reopened, as before it
        Repay("payoff", 0, 100, 100),  # the payoff of the start date, paid on it
    ],
    principal="50000.00",
)
@given(steps=STEPS, principal=st.sampled_from(["50000.00", "12345.67", "250000.00"]))
async def test_random_repayments_reversals_and_closes_of_business_keep_the_books(
    system: OwnSystem, crew: Cast, steps: list[Repay | Reverse | Cob], principal: str
) -> None:
    """After every step the books are the repayments not reversed allocated by §11's rules, and
    each §11 invariant holds."""
    loan = await open_account(system.client, system.settings, crew, principal, 60)
    run = Run(system, crew, loan)
    await check(run)
    for step in steps:
        note(f"{step} on {await business_date(system.settings)}")
        if isinstance(step, Repay):
            await step_repay(run, step)
        elif isinstance(step, Reverse):
            await step_reverse(run, step)
        else:
            await step_cob(run, step)
        await check(run)
