"""The web console in headless Chromium against `loans up`: each role's whole flow, and the
safety rules (names stay text, an expired session goes back to sign-in, a 409 is said in words).

The tests share one `loans up` and run in file order; the admin's close of business, which
moves the business date forward for everyone, comes last. Expected figures come from design.md
§5 and §11 (EMI, amount, payoff), worked out here by hand, never read from the code.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.support.console import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CONSOLE_UP_ENV,
    Api,
    create_admin,
    require_chromium,
    shoot,
)
from tests.support.local_up import local_up
from tests.support.people import PASSWORD, new_email

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CENT = Decimal("0.01")
# The machine is shared: give each expectation room beyond Playwright's 5 s default.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    require_chromium()
    data_dir = tmp_path_factory.mktemp("console-up")
    with local_up(data_dir, env=CONSOLE_UP_ENV) as up:
        admin_email = new_email("admin")
        create_admin(up, admin_email)
        yield Api(up.url, admin_email)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots land in the run's basetemp: artefacts to look at, never committed."""
    return tmp_path_factory.getbasetemp() / "console-screenshots"


@pytest.fixture
def page(browser: Browser, api: Api) -> Iterator[Page]:
    """A fresh browser context (its own sessionStorage) on /console; no dialog, no CSP violation."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=api.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    dialogs: list[str] = []
    complaints: list[str] = []
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("pageerror", lambda error: complaints.append(str(error)))
    tab.on("console", lambda m: complaints.append(m.text) if "Content Security Policy" in m.text else None)
    tab.goto("/console")
    yield tab
    context.close()
    assert dialogs == [], "a script ran from data"
    assert complaints == [], "the page broke a rule or threw"


def sign_in(page: Page, email: str) -> None:
    page.goto("/console#/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def card(page: Page, heading: str) -> Locator:
    return page.locator("section.card", has=page.get_by_role("heading", name=heading, exact=True))


def figure(scope: Locator, label: str) -> Locator:
    return scope.locator(".figure", has=scope.page.get_by_text(label, exact=True)).locator("dd")


def row(scope: Page | Locator, text: str) -> Locator:
    return scope.get_by_role("row").filter(has_text=text)


def reload_until(page: Page, target: Locator, timeout: float = 20) -> None:
    """Events reach read models a moment later: reload until `target` shows."""
    for _ in range(int(timeout / 2)):
        page.reload()
        try:
            expect(target).to_be_visible(timeout=2000)
            return
        except AssertionError:
            continue
    expect(target).to_be_visible(timeout=2000)


def add_months(start: date, months: int) -> date:
    """design.md §11: a due date is start + k calendar months, clamped to the month's last day."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT, ROUND_HALF_UP):,.2f}"


def test_the_console_page_carries_a_strict_policy(api: Api) -> None:
    """No inline script or style is allowed, connections go to this origin only, no sniffing."""
    for path in ("/console", "/console/js/app.js", "/console/style.css"):
        answer = httpx.get(f"{api.url}{path}", timeout=10)
        assert answer.status_code == 200
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{api.url}/console/js/nothing.js", timeout=10).status_code == 404
    assert httpx.get(f"{api.url}/console/../pyproject.toml", timeout=10).status_code == 404


def test_a_name_with_markup_stays_text(page: Page, api: Api) -> None:
    """A customer named like an XSS payload shows as those characters; no element, no script."""
    payload = "<img src=x onerror=alert(document.domain)>"
    surname = f"<script>alert(1)</script>{new_email('x').split('@')[0]}"
    api.signup("customer", first=payload, last=surname)
    agent, _ = api.approved_agent()
    sign_in(page, agent["email"])
    page.get_by_label("Name or email").fill(surname)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name=f"{payload} {surname}", exact=True)).to_be_visible()
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0


def test_a_session_that_the_api_refuses_goes_back_to_sign_in(page: Page, api: Api) -> None:
    """A token the API answers 401 to sends the person to sign-in, told why; it never sat in a cookie."""
    customer = api.signup("customer", first="Tam")
    page.goto("/console#/signin")
    page.get_by_label("Email").click()
    page.keyboard.type(customer["email"])  # the keyboard alone: type, Tab to the password, Enter
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="My loans")).to_be_visible()
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("window.localStorage.length") == 0
    page.evaluate(
        """() => {
            const key = "loans.console.session";
            const saved = JSON.parse(sessionStorage.getItem(key));
            saved.token = saved.token.slice(0, -6) + "AAAAAA";  // the signature no longer matches
            sessionStorage.setItem(key, JSON.stringify(saved));
        }"""
    )
    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session has ended")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_customer_signs_up_and_follows_a_loan_to_its_payoff(page: Page, api: Api, screens: Path) -> None:
    """Sign up, see the loan an agent asked for once approved, its schedule, statement, a payoff
    quote for a later date, then the loan paid off and the notifications that said so."""
    shoot(page, screens, "sign-in")
    page.get_by_role("link", name="Create an account").click()
    email = new_email("cust")
    page.get_by_label("First name").fill("Cora")
    page.get_by_label("Last name").fill("Borrower")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("I am").select_option("customer")
    shoot(page, screens, "sign-up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("You have no loans yet")).to_be_visible()

    token = api.login(email)
    me = api.call("GET", "/api/user/profile", token)
    _, agent_token = api.approved_agent()
    loan = api.loan(agent_token, me["id"], "50000", 12)
    approved = api.decide(loan["id"], "APPROVED")

    page.reload()
    listed = row(page, loan["id"][:8])
    # design.md §5: P 50,000 over 12 months → 8.45 %, EMI 4,359.83, total payable 52,317.98
    for text in ("APPROVED", "50,000.00", "8.45 %", "4,359.83", "52,317.98"):
        expect(listed.get_by_role("cell", name=text, exact=True)).to_be_visible()
    assert (
        listed.get_by_role("cell", name="4,359.83").evaluate("c => getComputedStyle(c).textAlign") == "right"
    )
    shoot(page, screens, "customer-loans")

    listed.get_by_role("link").click()
    statement = card(page, "Statement")
    expect(figure(statement, "Account")).to_have_text("ACTIVE")
    schedule = card(page, "Schedule")
    schedule.get_by_text("12 monthly payments").click()  # folded once the statement has the rows
    expect(schedule.locator("tbody tr")).to_have_count(12)
    expect(schedule.locator("tbody tr").last.locator("td").last).to_have_text("0.00")

    # design.md §11: no payment yet, so the payoff ten days in is the principal plus the
    # period's interest accrued day by day: P · r · days elapsed ÷ days in the period.
    start = date.fromisoformat(approved["start_date"])
    on = start + timedelta(days=10)
    period = (add_months(start, 1) - start).days
    rate = Decimal("8.45") / 12 / 100
    expected = Decimal("50000") + Decimal("50000") * rate * 10 / period
    payoff = card(page, "Payoff quote")
    payoff.get_by_label("Pay off on").fill(on.isoformat())
    payoff.get_by_role("button", name="Get payoff quote").click()
    expect(figure(payoff, "Total to pay off")).to_have_text(money(expected))
    shoot(page, screens, "customer-loan")

    api.repay(agent_token, loan["id"], "50000.00")  # paid off on the start date: no interest yet
    reload_until(page, figure(card(page, "Statement"), "Account").filter(has_text="CLOSED"))
    expect(figure(card(page, "Statement"), "Outstanding principal")).to_have_text("0.00")

    page.get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    reload_until(page, page.get_by_role("cell", name="Your loan is paid off"))
    expect(page.get_by_role("cell", name="Your loan has been approved")).to_be_visible()
    shoot(page, screens, "customer-notifications")


def test_an_agent_signs_up_requests_edits_and_collects_a_loan(page: Page, api: Api, screens: Path) -> None:
    """Pending until approved; then find a customer, request with a live quote, edit it, hit the
    lending limit, record a repayment once approved, be told an overpayment is refused, pay off."""
    page.get_by_role("link", name="Create an account").click()
    email = new_email("agent")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Agent")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("I am").select_option("agent")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("waiting for an admin's approval")).to_be_visible()

    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("approve your agent account first")

    admin = api.admin()
    agent_id = api.call("GET", "/api/user/list-approvals", admin, params={"page_size": 100})
    agent_id = next(a["id"] for a in agent_id if a["email"] == email)
    body = {"is_approved": True, "lending_limit": "2000000.00"}
    api.call("PUT", f"/api/user/approve-delete/{agent_id}", admin, json=body)
    surname = new_email("Kim").split("@")[0]
    customer = api.signup("customer", first="Kit", last=surname)

    sign_in(page, email)
    page.get_by_label("Name or email").fill(surname)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name=customer["email"])).to_be_visible()
    shoot(page, screens, "agent-customers")
    page.get_by_role("button", name=f"Request a loan for Kit {surname}").click()
    expect(page.get_by_label("Customer id")).to_have_value(customer["id"])

    page.get_by_label("Principal").fill("50000")
    page.get_by_label("Months").fill("12")
    quote = page.get_by_test_id("quote")  # asked as the agent types: design.md §5's reference figures
    expect(figure(quote, "Monthly payment (EMI)")).to_have_text("4,359.83")
    expect(figure(quote, "Total payable")).to_have_text("52,317.98")
    expect(figure(quote, "Rate")).to_have_text("8.45 %")
    shoot(page, screens, "agent-request")
    page.get_by_role("button", name="Request loan").click()
    expect(page.get_by_role("heading", name="Edit the request")).to_be_visible()
    loan_id = page.url.rsplit("/", 1)[-1]

    edit = card(page, "Edit the request")
    edit.get_by_label("Principal").fill("1000000")
    edit.get_by_label("Months").fill("60")
    expect(figure(edit, "Monthly payment (EMI)")).to_have_text("21,247.04")  # P 1,000,000 / 60 → 10.00 %
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(figure(card(page, "Terms"), "EMI")).to_have_text("21,247.04")

    edit = card(page, "Edit the request")
    edit.get_by_label("Principal").fill("3000000")
    edit.get_by_role("button", name="Save changes").click()
    expect(edit.get_by_role("alert")).to_contain_text("raise your lending limit")

    page.get_by_role("link", name="My requests").click()
    expect(row(page, loan_id[:8]).get_by_role("cell", name="1,000,000.00")).to_be_visible()
    shoot(page, screens, "agent-requests")

    api.decide(loan_id, "APPROVED")
    page.goto(f"/console#/loan/{loan_id}")
    record = card(page, "Record a repayment")
    record.get_by_label("Amount").fill("21247.04")
    record.get_by_label("Reference (optional)").fill("first instalment")
    record.get_by_role("button", name="Record repayment").click()
    expect(page.get_by_text("Recorded a repayment of 21,247.04.")).to_be_visible()

    # design.md §11: interest first (1,000,000 · 10 % / 12 = 8,333.33), the rest to principal;
    # the same day's payoff is what is left of the principal, that period's interest being paid.
    left = Decimal("1000000") - (Decimal("21247.04") - Decimal("8333.33"))
    expect(figure(card(page, "Statement"), "Outstanding principal")).to_have_text(money(left))
    payoff = card(page, "Payoff quote")
    payoff.get_by_role("button", name="Get payoff quote").click()
    expect(figure(payoff, "Total to pay off")).to_have_text(money(left))

    record = card(page, "Record a repayment")
    record.get_by_label("Amount").fill(str(left + CENT))
    record.get_by_role("button", name="Record repayment").click()
    refused = record.get_by_role("alert")
    expect(refused).to_contain_text(f"more than the payoff of {left}")  # a 409, said in words
    expect(refused).to_contain_text("Pay at most the payoff amount")
    shoot(page, screens, "agent-loan")

    record.get_by_label("Amount").fill(str(left))
    record.get_by_role("button", name="Record repayment").click()
    expect(figure(card(page, "Statement"), "Account")).to_have_text("CLOSED")
    expect(page.get_by_role("heading", name="Record a repayment")).to_have_count(0)


def test_an_admin_works_the_inboxes_reverses_runs_cob_and_reads_the_portfolio(
    page: Page, api: Api, screens: Path
) -> None:
    """Approve (with a limit), reject and delete agents; approve a loan, be told another admin
    decided one first (409); reverse a repayment; close the books 40 days on; see the chart."""
    approve, reject, remove = (api.signup("agent", first=name) for name in ("Apple", "Rowan", "Dell"))
    sign_in(page, api.admin_email)
    inbox = card(page, "Waiting for approval (oldest first)")
    row(inbox, approve["email"]).get_by_label("Lending limit (empty: none)").fill("500000")
    shoot(page, screens, "admin-agents")
    row(inbox, approve["email"]).get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Apple {approve['last_name']} is approved.")).to_be_visible()
    row(inbox, reject["email"]).get_by_role("button", name="Reject").click()
    expect(page.get_by_text(f"Rowan {reject['last_name']} is rejected.")).to_be_visible()
    row(inbox, remove["email"]).get_by_role("button", name="Delete").click()
    expect(page.get_by_text("is deleted and can no longer sign in")).to_be_visible()
    everyone = card(page, "All agents")
    expect(row(everyone, approve["email"]).get_by_role("cell", name="500,000.00")).to_be_visible()
    expect(row(everyone, remove["email"])).to_have_count(0)
    rejected = httpx.post(f"{api.url}/api/user/login", json={"email": reject["email"], "password": PASSWORD})
    assert rejected.status_code == 403
    deleted = httpx.post(f"{api.url}/api/user/login", json={"email": remove["email"], "password": PASSWORD})
    assert deleted.status_code == 401

    agent_token = api.login(approve["email"])
    customer = api.signup("customer", first="Cas")
    first = api.loan(agent_token, customer["id"], "50000", 12)
    second = api.loan(agent_token, customer["id"], "50000", 12)
    page.get_by_role("link", name="Loans to decide").click()
    expect(row(page, first["id"][:8])).to_be_visible()
    shoot(page, screens, "admin-decisions")
    page.get_by_role("button", name=f"Approve loan {first['id'][:8]}").click()
    expect(page.get_by_text(f"Loan {first['id'][:8]} is approved.")).to_be_visible()
    expect(row(page, second["id"][:8])).to_be_visible()
    api.decide(second["id"], "APPROVED")  # another admin, behind this page's back
    page.get_by_role("button", name=f"Approve loan {second['id'][:8]}").click()
    expect(page.get_by_role("alert")).to_contain_text("Another admin decided it first")

    transaction = api.repay(agent_token, first["id"], "4359.83")
    page.goto(f"/console#/loan/{first['id']}")
    payments = card(page, "Repayments")
    expect(row(payments, "4,359.83")).to_be_visible()
    payments.get_by_label("Reason").fill("cheque bounced")
    payments.get_by_role("button", name="Reverse").click()
    expect(page.get_by_text("The repayment is reversed")).to_be_visible()
    expect(row(card(page, "Repayments"), "reversed: cheque bounced")).to_be_visible()
    expect(figure(card(page, "Statement"), "Outstanding principal")).to_have_text("50,000.00")
    assert transaction["amount"] == "4359.83"
    shoot(page, screens, "admin-loan")

    # 40 days on, the first installment (due one calendar month after the start) is overdue:
    # 9 to 12 days past due, bucket 1-30, for both loans (neither has a payment that counts).
    start = date.fromisoformat(api.call("GET", f"/api/loan/{first['id']}", agent_token)["start_date"])
    page.get_by_role("link", name="Close of business").click()
    page.get_by_label("Close the books up to").fill((start + timedelta(days=40)).isoformat())
    page.get_by_role("button", name="Run close of business").click()
    expect(page.get_by_text("is done.")).to_be_visible(timeout=60_000)
    expect(figure(card(page, "Today"), "Business date")).to_have_text(
        (start + timedelta(days=40)).isoformat()
    )
    shoot(page, screens, "admin-cob")

    page.get_by_role("link", name="Portfolio").click()
    bar = page.locator("svg.chart g[data-bucket='1-30']")
    expect(bar.locator("text.value")).to_have_text("100,000.00")
    expect(bar.locator("rect")).to_have_attribute("height", _tallest(page))
    expect(row(card(page, "Outstanding principal by delinquency bucket"), "1-30")).to_contain_text(
        "100,000.00"
    )
    shoot(page, screens, "admin-portfolio")


def _tallest(page: Page) -> str:
    """The height of the tallest bar: the 1-30 bucket holds everything outstanding here."""
    heights: list[Any] = page.eval_on_selector_all(
        "svg.chart rect", "rs => rs.map(r => r.getAttribute('height'))"
    )
    return str(max(heights, key=float))
