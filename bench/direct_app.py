"""The reference: one Litestar process that runs the loan-actors SQL itself with asyncpg, no hop.

The statements are imported from actors.loans.queries / actors.users.queries / actors.loans.parties
(the very strings the workers run), with the same pool settings (actors.runtime.db.create_pool), the same
EdDSA verifier (actors.bus.tokens), the same Structs and encoders, the same rows per write
(actors.loans.records).

`--mode direct` verifies the bearer token itself. `--mode service` is the back end of the http-hop
gateway: it trusts the caller identity the gateway puts in X-Bench-User-Id / X-Bench-Role.

    python -m bench.direct_app --port 9001 --mode direct     (settings from the LOANS_* variables)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import uvicorn
from litestar import Litestar, Request, Response, get, post, put
from litestar.datastructures import State

from actors.bus.tokens import Caller, TokenVerifier
from actors.contracts import loans as m
from actors.contracts import users as um
from actors.contracts.config import Settings, load_settings
from actors.contracts.errors import ActorError, BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from actors.loans import money, parties, records
from actors.loans import queries as q
from actors.loans.handlers import to_loan
from actors.runtime.db import Conn, create_pool
from actors.runtime.events import outbox_row
from actors.runtime.paging import fetch_page
from actors.users import queries as uq
from actors.users.passwords import Passwords
from actors.users.service import key_path
from actors.users.signing import SigningKey, load_or_create
from edge.server import uvicorn_config

log = logging.getLogger("bench.direct_app")
USER_ID_HEADER = "x-bench-user-id"
ROLE_HEADER = "x-bench-role"
JSON = "application/json"

_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(m.CreateLoan).decode
_decision = msgspec.json.Decoder(dict[str, str]).decode
_login = msgspec.json.Decoder(um.Login).decode


@dataclass
class App:
    settings: Settings
    trust_headers: bool
    key: SigningKey
    verifier: TokenVerifier
    passwords: Passwords
    loans: asyncpg.Pool | None = None
    users: asyncpg.Pool | None = None

    async def caller(self, request: Request[Any, Any, Any], roles: frozenset[str]) -> Caller:
        if self.trust_headers:
            user_id, role = request.headers.get(USER_ID_HEADER), request.headers.get(ROLE_HEADER)
            if not user_id or not role:
                raise Unauthenticated("no caller identity from the gateway")
            who = Caller(id=uuid.UUID(user_id), role=role, token_id="", token="")
        else:
            who = await self.verifier.verify_header(request.headers.get("Authorization"))
        if who.role not in roles:
            raise Forbidden("your role may not do this")
        return who


def _app(request: Request[Any, Any, Any]) -> App:
    app: App = request.app.state.bench
    return app


def _head(message: str) -> bytes:
    return b'{"success":true,"message":' + _encode(message)


def _data(message: str, value: Any, status: int = 200) -> Response[bytes]:
    return Response(_head(message) + b',"data":' + _encode(value) + b"}", status_code=status, media_type=JSON)


def _page(message: str, page: m.LoanPage) -> Response[bytes]:
    return Response(_head(message) + b"," + _encode(page)[1:], media_type=JSON)


async def _record(con: Conn, app: App, by: uuid.UUID, change: str, before: m.Loan, loan: m.Loan) -> None:
    """The history row and the outbox row of a decision, as the loans actor writes them: one
    statement (the actor's, without an answer to store: direct keeps none; nothing relays them)."""
    data = records.event_data(loan, by)
    statement = q.record_change(keyed=False)
    history = records.history_row(change, before, loan, by)
    with outbox_row(app.settings, f"loans.loan.{change}", loan.id, loan.version, data) as event:
        await con.execute(statement.sql, *statement.args_of(history, event))


async def _party(pool: asyncpg.Pool, user_id: uuid.UUID) -> parties.Party | None:
    row = await pool.fetchrow(parties.get_party, user_id)
    return parties.Party(**dict(row)) if row is not None else None


@get("/health", media_type=JSON)
async def health() -> bytes:
    return b'{"status":"ok"}'


@get("/api/loan/list-loans-customer")
async def list_mine(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = _app(request)
    who = await app.caller(request, frozenset({"customer"}))
    query = {k: v for k, v in request.query_params.items() if k in ("page", "page_size", "status")}
    try:
        req = msgspec.convert(query, m.ListMyLoans, strict=False)
    except msgspec.ValidationError as exc:
        raise BadRequest(str(exc)) from None
    assert app.loans is not None
    query, values = q.customer_loans(who.id, req.status)
    rows, total = await fetch_page(app.loans, query, values, page=req.page, page_size=req.page_size)
    page = m.LoanPage(data=[to_loan(r) for r in rows], count=total, page=req.page, page_size=req.page_size)
    return _page("Your loans", page)


@post("/api/loan/customer-loan")
async def create_loan(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = _app(request)
    who = await app.caller(request, frozenset({"agent"}))
    try:
        req = _create(await request.body())
        terms = money.terms_for(req.principal, req.months)
    except (msgspec.ValidationError, msgspec.DecodeError, money.OutOfRange) as exc:
        raise BadRequest(str(exc)) from None
    pool = app.loans
    assert pool is not None
    agent = await _party(pool, who.id)
    if agent is None or agent.deleted or agent.role != "agent" or agent.status != "active":
        raise Forbidden("the agent account is no longer active")
    customer = await _party(pool, req.customer_id)
    if customer is None or customer.deleted or customer.role != "customer" or customer.status != "active":
        raise BadRequest("customer_id: no such customer")
    # the loans actor's one statement, without an answer to store
    now = datetime.now(UTC)
    loan = records.new_loan(agent, customer, req.principal, req.months, terms, now)
    data = records.event_data(loan, who.id)
    statement = q.create_loan(keyed=False)
    with outbox_row(app.settings, "loans.loan.created", loan.id, 1, data, occurred_at=now) as event:
        await pool.fetchval(statement.sql, *statement.args_of(records.new_loan_row(loan), event))
    return _data("Loan requested", loan, 201)


@put("/api/loan/approve-reject-loan/{loan_id:str}")
async def decide_loan(request: Request[Any, Any, Any], loan_id: str) -> Response[bytes]:
    app = _app(request)
    who = await app.caller(request, frozenset({"admin"}))
    try:
        lid = uuid.UUID(loan_id)
    except ValueError:
        raise NotFound("no such loan") from None
    status = _decision(await request.body()).get("status")
    if status not in ("APPROVED", "REJECTED"):
        raise BadRequest("status: APPROVED or REJECTED")
    pool = app.loans
    assert pool is not None
    now = datetime.now(UTC)
    start = now.date() if status == "APPROVED" else None
    async with pool.acquire() as con, con.transaction():
        row = await q.decide_loan.fetchrow(con, id=lid, status=status, start_date=start, at=now)
        if row is None:
            if await q.loan_status.fetchval(con, id=lid) is None:
                raise NotFound("no such loan")
            raise Conflict("the loan has already been decided", code="loan_already_decided")
        loan = to_loan(row)
        before = msgspec.structs.replace(loan, status="NEW", start_date=None, end_date=None)
        await _record(con, app, who.id, "approved" if start else "rejected", before, loan)
    return _data("Loan decided", loan)


@post("/api/user/login")
async def login(request: Request[Any, Any, Any]) -> Response[bytes]:
    app = _app(request)
    try:
        req = _login(await request.body())
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequest(str(exc)) from None
    assert app.users is not None
    row = await uq.user_for_login.fetchrow(app.users, email=req.email.strip())
    ok = await app.passwords.check(req.password.encode(), row["password_hash"] if row else None)
    if row is None or not ok:
        raise Unauthenticated("invalid email or password")
    user = um.User(**{f: row[f] for f in um.User.__struct_fields__})
    ttl = app.settings.jwt_ttl_seconds
    token = app.key.issue(user.id, user.role, ttl)
    return _data("Logged in", um.LoginReply(access_token=token, expires_in=ttl, user=user))


def _error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    status, code, message = 500, "internal_error", "internal error"
    if isinstance(exc, ActorError):
        status, code, message = exc.status, exc.code, exc.message
    elif hasattr(exc, "status_code"):
        status, code, message = int(exc.status_code), "error", str(exc)
    else:
        log.exception("%s %s: unexpected error", request.method, request.url.path)
    body = {"success": False, "message": message, "error": {"code": code, "details": None}}
    return Response(_encode(body), status_code=status, media_type=JSON)


def create_app(settings: Settings, *, trust_headers: bool) -> Litestar:
    key = load_or_create(key_path(settings))

    async def own_keys() -> bytes:
        return key.jwks

    verifier = TokenVerifier(own_keys)
    verifier.load(key.jwks)
    bench = App(
        settings=settings,
        trust_headers=trust_headers,
        key=key,
        verifier=verifier,
        passwords=Passwords(settings.bcrypt_cost, settings.bcrypt_threads),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        bench.loans = await create_pool(settings, "loans")
        bench.users = await create_pool(settings, "users")
        try:
            yield
        finally:
            await bench.loans.close()
            await bench.users.close()
            bench.passwords.close()

    return Litestar(
        route_handlers=[health, list_mine, create_loan, decide_loan, login],
        lifespan=[lifespan],
        state=State({"bench": bench}),
        exception_handlers={Exception: _error},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["direct", "service"], default="direct")
    args = p.parse_args()
    settings = load_settings()
    app = create_app(settings, trust_headers=args.mode == "service")
    uvicorn.Server(uvicorn_config(app, settings, port=args.port)).run()  # the edge's settings


if __name__ == "__main__":
    main()
