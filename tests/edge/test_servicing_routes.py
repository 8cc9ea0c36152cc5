"""The servicing routes at the edge: a date in the path, the status the actor's reply picks, and
the portfolio streamed as CSV page by page."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.contracts import servicing as m
from actors.contracts.config import Settings
from actors.contracts.errors import ActorError, NotFound
from actors.contracts.headers import ERROR_CODE_HEADER, ERROR_HEADER
from edge.app import EdgeApp, create_app
from edge.context import Edge
from edge.csv_pages import csv_pages
from edge.endpoint import Endpoint, path_date
from edge.routes import servicing as routes
from ops.discovery import gather
from tests.support.isolated import isolated_system
from tests.support.loans import LOANS, create, decide
from tests.support.people import Cast, Person, admin, agent, signup
from tests.support.polling import eventually

pytestmark = pytest.mark.anyio
RUN_COB = next(ep for ep in routes.BOOK_ENDPOINTS if ep.subject == "servicing.run_cob")
COB_STATUS = next(ep for ep in routes.BOOK_ENDPOINTS if ep.subject == "servicing.cob_status")
COLUMNS = list(m.AccountLine.__struct_fields__)


@pytest.mark.parametrize("value", ["2030-01-31", "2028-02-29"])
def test_a_path_date_is_forwarded_as_the_date(value: str) -> None:
    assert path_date("date", value) == value
    assert msgspec.json.decode(COB_STATUS.payload({"date": value}, {}, b"")) == {"date": value}


@pytest.mark.parametrize(
    "value", ["2030-02-30", "2029-02-29", "2030-13-01", "2030-1-31", "20300131", "today"]
)
def test_a_path_date_that_is_no_date_is_not_found(value: str) -> None:
    with pytest.raises(NotFound):
        COB_STATUS.payload({"date": value}, {}, b"")


def test_only_a_date_typed_field_makes_a_date_parameter() -> None:
    assert COB_STATUS.date_params == {"date"}
    assert all(not ep.date_params for ep in routes.LOAN_ENDPOINTS)


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (b'{"date":"2030-01-31","status":"RUNNING","batches":3,"batches_done":0,"accounts":2500}', 202),
        (b'{"date":"2030-01-31","status":"DONE","batches":0,"batches_done":0,"accounts":0}', 200),
        (b'{"status":"SOMETHING_NEW"}', 202),  # a status the table does not name: the route's own
        (b"not json", 202),
    ],
)
def test_the_reply_picks_the_status_of_close_of_business(reply: bytes, status: int) -> None:
    assert RUN_COB.status_for(reply) == status


def test_a_route_without_a_status_table_always_answers_its_status() -> None:
    record = next(ep for ep in routes.LOAN_ENDPOINTS if ep.subject == "servicing.record_repayment")
    assert record.status_for(b'{"status":"DONE"}') == 201


def test_every_servicing_route_is_answered_by_the_fast_path_but_the_portfolio(settings: Settings) -> None:
    app = create_app(settings)
    assert isinstance(app, EdgeApp) and app.fast is not None
    for prefix, ep in routes.FORWARDED:
        path = prefix + ep.path.replace("{date}", "2030-01-31")
        for name in ep.path_params:
            path = path.replace(f"{{{name}}}", str(uuid.uuid4()))
        found = app.fast._match(ep.method, path)
        assert found is not None and found[0].ep is ep, path
    assert app.fast._match("GET", "/api/servicing/close-of-business/tomorrow") is None  # Litestar: 404
    assert app.fast._match("GET", "/api/servicing/portfolio") is None  # it may stream: Litestar's


@pytest.mark.parametrize(
    "path", ["/api/servicing/close-of-business/tomorrow", "/api/servicing/close-of-business/2030-02-30"]
)
async def test_a_non_date_in_the_path_is_404_on_both_paths(
    client: httpx.AsyncClient, people: Cast, path: str
) -> None:
    response = await client.get(path, headers=people.admin.headers)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_the_openapi_document_shows_dates_both_statuses_and_csv(settings: Settings) -> None:
    from litestar.testing import TestClient

    with TestClient(create_app(settings, startup_wait=0.05)) as http:
        doc = http.get("/schema/openapi.json").json()
    status = doc["paths"]["/api/servicing/close-of-business/{date}"]["get"]
    assert status["parameters"][0]["schema"] == {"type": "string", "format": "date"}
    assert {"200", "202"} <= set(doc["paths"]["/api/servicing/close-of-business"]["post"]["responses"])
    portfolio = doc["paths"]["/api/servicing/portfolio"]["get"]["responses"]["200"]["content"]
    assert set(portfolio) == {"application/json", "text/csv"}


# --- CSV over pages, against a stand-in on NATS that pages as the actor does ------------------


def _line(n: int) -> m.AccountLine:
    closed = n % 3 == 0
    return m.AccountLine(
        loan_id=uuid.UUID(int=n),
        customer_id=uuid.uuid4(),
        agent_id=uuid.uuid4(),
        status="CLOSED" if closed else "ACTIVE",
        principal=Decimal("10000.00"),
        outstanding_principal=Decimal("0.00") if closed else Decimal(f"{n}000.50"),
        paid_principal=Decimal("1.50") * n,
        paid_interest=Decimal("12.30"),
        days_past_due=n,
        bucket="1-30",
        closed_on=date(2030, 1, n) if closed else None,
    )


def _expected_row(line: m.AccountLine) -> list[str]:
    """The CSV row of `line`: JSON's text of each value, empty for null."""
    plain: dict[str, Any] = msgspec.to_builtins(line)
    return ["" if plain[c] is None else str(plain[c]) for c in COLUMNS]


@dataclass
class Pager:
    """An Endpoint on a subject of the test's own, answered with keyset pages of `lines`."""

    ep: Endpoint
    lines: list[m.AccountLine]
    asked: list[dict[str, Any]] = field(default_factory=list)  # each request's body
    refuse_after: set[str | None] = field(default_factory=set)  # these `after`s are answered 503


@pytest.fixture
async def pager(nc: Client) -> AsyncIterator[Pager]:
    subject = f"test{uuid.uuid4().hex}.accounts"
    ep = Endpoint("GET", "/x", subject, "Accounts", m.PortfolioAccounts, m.AccountLines)
    pages = Pager(ep, [_line(n) for n in range(1, 8)])

    async def answer(msg: Msg) -> None:
        query = msgspec.json.decode(msg.data)
        pages.asked.append(query)
        if query.get("after") in pages.refuse_after:
            error = {ERROR_CODE_HEADER: "503", ERROR_HEADER: "down"}
            await nc.publish(msg.reply, b'{"code":"service_unavailable","message":"down"}', headers=error)
            return
        after = uuid.UUID(query["after"]) if "after" in query else None
        rest = [line for line in pages.lines if after is None or line.loan_id > after]
        page = rest[: query["limit"]]
        following = page[-1].loan_id if len(rest) > len(page) else None
        await msg.respond(msgspec.json.encode(m.AccountLines(data=page, next=following)))

    sub = await nc.subscribe(subject, cb=answer)
    try:
        yield pages
    finally:
        await sub.unsubscribe()


def _edge(settings: Settings, nc: Client) -> Edge:
    edge = Edge.build(settings)
    edge.bus.nc = nc
    return edge


async def _read(chunks: AsyncIterator[bytes]) -> tuple[list[list[str]], int]:
    body, count = b"", 0
    async for chunk in chunks:
        body, count = body + chunk, count + 1
    return list(csv.reader(io.StringIO(body.decode()))), count


async def test_every_page_becomes_rows_under_one_header(settings: Settings, nc: Client, pager: Pager) -> None:
    """Seven lines in pages of three: a header row and the seven rows in order, one chunk per page,
    each page asked for after the last line of the one before."""
    rows, chunks = await _read(await csv_pages(_edge(settings, nc), pager.ep, {}, page_size=3))
    assert rows == [COLUMNS, *(_expected_row(line) for line in pager.lines)]
    assert chunks == 1 + 3
    third, sixth = str(pager.lines[2].loan_id), str(pager.lines[5].loan_id)
    assert pager.asked == [{"limit": 3}, {"limit": 3, "after": third}, {"limit": 3, "after": sixth}]


async def test_a_refused_first_page_fails_before_anything_is_sent(
    settings: Settings, nc: Client, pager: Pager
) -> None:
    """The first page is asked for before the answer starts: its error is raised, not streamed."""
    pager.refuse_after.add(None)
    with pytest.raises(ActorError) as raised:
        await csv_pages(_edge(settings, nc), pager.ep, {}, page_size=3)
    assert raised.value.status == 503


async def test_a_later_page_that_fails_breaks_the_stream(
    settings: Settings, nc: Client, pager: Pager
) -> None:
    """The third page is refused: the stream raises after the rows it had, so the download is
    broken rather than complete but short."""
    pager.refuse_after.add(str(pager.lines[5].loan_id))
    chunks = await csv_pages(_edge(settings, nc), pager.ep, {}, page_size=3)
    got: list[bytes] = []
    with pytest.raises(ActorError) as raised:
        async for chunk in chunks:
            got.append(chunk)
    assert raised.value.status == 503
    rows = list(csv.reader(io.StringIO(b"".join(got).decode())))
    assert rows == [COLUMNS, *(_expected_row(line) for line in pager.lines[:6])]


# --- through the real servicing worker --------------------------------------------------------


async def _approved_loan(client: httpx.AsyncClient, agent: Person, customer: Person, boss: Person) -> str:
    """An approved loan whose account is open (its statement answers)."""

    async def made() -> dict[str, Any]:
        # the agent's approval reaches the loans actor by an event: until then loans are refused
        return await create(client, agent, customer, "50000", 12)

    loan = await eventually(made, timeout=15, what="the approved agent could not request a loan")
    assert (await decide(client, boss, loan["id"], "APPROVED")).status_code == 200

    async def account_open() -> bool:
        statement = await client.get(f"{LOANS}/{loan['id']}/statement", headers=boss.headers)
        assert statement.status_code == 200, statement.text
        return True

    await eventually(account_open, timeout=15, what="the account did not open")
    return str(loan["id"])


async def _served(nc: Client, subject: str) -> int:
    stats = [msgspec.json.decode(raw) for raw in await gather(nc, "$SRV.STATS.servicing", 0.3)]
    return sum(e["num_requests"] for s in stats for e in s["endpoints"] if e["subject"] == subject)


async def test_the_portfolio_csv_streams_every_account_in_pages(
    client: httpx.AsyncClient, nc: Client, people: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages of two accounts: one header row, then every account once in loan id order (as many
    as the JSON summary counts), ours among them as their statements say; several pages asked."""
    monkeypatch.setattr(routes, "CSV_PAGE_SIZE", 2)
    ours = [await _approved_loan(client, people.agent, people.customer, people.admin) for _ in range(3)]
    summary = await client.get(f"{routes.BOOK}/portfolio", headers=people.admin.headers)
    assert summary.status_code == 200, summary.text
    accounts = summary.json()["data"]["active"] + summary.json()["data"]["closed"]
    before = await _served(nc, "servicing.portfolio_accounts")

    response = await client.get(f"{routes.BOOK}/portfolio?format=csv", headers=people.admin.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header == COLUMNS
    ids = [row[0] for row in rows]
    assert len(ids) == accounts and ids == sorted(ids, key=uuid.UUID) and len(set(ids)) == len(ids)
    by_id = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows}
    for loan_id in ours:
        line = by_id[loan_id]
        assert (line["customer_id"], line["agent_id"]) == (people.customer.id, people.agent.id)
        assert (line["status"], line["principal"], line["outstanding_principal"]) == (
            "ACTIVE",
            "50000.00",
            "50000.00",
        )
    pages = -(-accounts // 2)
    assert pages <= await _served(nc, "servicing.portfolio_accounts") - before <= pages + 1


async def test_the_portfolio_json_is_the_summary_and_a_bad_format_is_400(
    client: httpx.AsyncClient, people: Cast
) -> None:
    summary = await client.get(f"{routes.BOOK}/portfolio?format=json", headers=people.admin.headers)
    assert summary.status_code == 200 and summary.headers["content-type"].startswith("application/json")
    assert set(summary.json()["data"]) == set(m.Portfolio.__struct_fields__)
    bad = await client.get(f"{routes.BOOK}/portfolio?format=xml", headers=people.admin.headers)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "validation_error")


async def test_close_of_business_is_202_while_running_and_200_when_there_is_nothing_to_do(
    server_urls: tuple[str, str], tmp_path: Path
) -> None:
    """In a system of its own (the business date moves): a run to the next day over an open
    account is accepted (202, RUNNING); its progress is found by the date in the path and ends
    DONE; the same date again has nothing to do (200, DONE)."""
    async with isolated_system(server_urls, tmp_path) as iso:
        http, boss = iso.client, await admin(iso.client, iso.settings)
        await _approved_loan(http, await agent(http, boss), await signup(http, "customer"), boss)
        today = (await http.get(f"{routes.BOOK}/business-date", headers=boss.headers)).json()["data"]
        tomorrow = (date.fromisoformat(today["business_date"]) + timedelta(days=1)).isoformat()

        run = await http.post(
            f"{routes.BOOK}/close-of-business", json={"date": tomorrow}, headers=boss.headers
        )
        assert (run.status_code, run.json()["data"]["status"]) == (202, "RUNNING"), run.text
        assert run.json()["data"]["accounts"] == 1

        async def done() -> dict[str, Any]:
            progress = await http.get(f"{routes.BOOK}/close-of-business/{tomorrow}", headers=boss.headers)
            assert progress.status_code == 200, progress.text
            data: dict[str, Any] = progress.json()["data"]
            assert data["status"] == "DONE", data
            return data

        finished = await eventually(done, timeout=20, what="the run did not finish")
        assert finished["batches_done"] == finished["batches"] >= 1
        again = await http.post(
            f"{routes.BOOK}/close-of-business", json={"date": tomorrow}, headers=boss.headers
        )
        assert (again.status_code, again.json()["data"]["status"]) == (200, "DONE"), again.text
