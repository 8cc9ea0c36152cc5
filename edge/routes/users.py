"""The user routes of api.md, each mapped onto its `users.*` subject."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler

from actors.contracts import users as m
from actors.contracts.base import Empty
from actors.contracts.errors import ActorError
from edge.context import edge_of
from edge.endpoint import Endpoint
from edge.errors import RateLimited
from edge.forward import forward, handler_for, route_handler

LOGIN = Endpoint(
    "POST",
    "/login",
    "users.login",
    "Logged in",
    m.Login,
    m.LoginReply,
    public=True,
    slow=True,
    errors={401: "Wrong email or password", 403: "An agent not (or no longer) approved"},
)

# The keys that verify access tokens, answered as the actor gives them (no envelope).
JWKS = Endpoint("GET", "/.well-known/jwks.json", "users.jwks", "Public keys", Empty, public=True, raw=True)

ENDPOINTS = [
    Endpoint(
        "POST",
        "/signup",
        "users.signup",
        "Signed up",
        m.Signup,
        m.SignupReply,
        status=201,
        public=True,
        slow=True,
    ),
    Endpoint("GET", "/profile", "users.profile", "Your profile", Empty, m.Profile),
    Endpoint(
        "GET",
        "/notifications",
        "users.list_notifications",
        "Your notifications",
        m.ListNotifications,
        m.NotificationPage,
    ),
    Endpoint(
        "POST",
        "/create-admin",
        "users.create_admin",
        "Admin created",
        m.CreateAdmin,
        m.User,
        status=201,
        slow=True,
    ),
    # The path says agents; it lists the customers an agent picks a borrower from (api.md).
    Endpoint("GET", "/list-agents", "users.list_customers", "Customers", m.ListCustomers, m.UserPage),
    Endpoint("GET", "/list-users", "users.list_users", "Users", m.ListUsers, m.UserPage),
    Endpoint("GET", "/list-approvals", "users.list_approvals", "Pending agents", m.ListApprovals, m.UserPage),
    Endpoint(
        "PUT", "/approve-delete/{user_id}", "users.decide_agent", "Agent decided", m.DecideAgent, m.User
    ),
    Endpoint(
        "DELETE", "/approve-delete/{user_id}", "users.delete_agent", "Agent deleted", m.DeleteAgent, m.User
    ),
    Endpoint(
        "PUT",
        "/agents/{user_id}/lending-limit",
        "users.set_lending_limit",
        "Lending limit set",
        m.SetLendingLimit,
        m.User,
    ),
]


# (mount prefix, endpoint) of the routes that only forward (not login): edge/fastpath.py answers them.
FORWARDED = [("/api/user", ep) for ep in ENDPOINTS] + [("", JWKS)]


class _LoginEmail(msgspec.Struct):
    email: str = ""


_email_decoder = msgspec.json.Decoder(_LoginEmail)


def login_key(client_host: str, body: bytes) -> tuple[str, str]:
    """(client address, lowercased email): what failed logins are counted by."""
    try:
        email = _email_decoder.decode(body).email
    except (msgspec.MsgspecError, UnicodeDecodeError):  # the actor answers 400; count it under no email
        email = ""
    return client_host, email.strip().lower()


async def login(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward to users.login, refusing (429) a key with too many recent failures."""
    limiter = edge_of(request).login_failures
    # The peer address, not X-Forwarded-For: a client could write any address there.
    key = login_key(request.client.host if request.client else "", await request.body())
    if (wait := limiter.retry_after(key)) is not None:
        raise RateLimited("too many failed login attempts; try again later", retry_after=wait)
    try:
        return await forward(request, LOGIN)
    except ActorError as exc:
        if exc.status == 401:  # bad credentials; a 403 (pending agent) had the right password
            limiter.record_failure(key)
        raise


def handlers() -> list[Router | HTTPRouteHandler]:
    """Fresh handlers per app: Litestar sets an owner on each handler it registers."""
    users = Router("/api/user", route_handlers=[handler_for(LOGIN)(login), *map(route_handler, ENDPOINTS)])
    return [users, route_handler(JWKS)]
