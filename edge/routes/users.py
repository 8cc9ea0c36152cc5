"""The user routes of api.md, each mapped onto its `users.*` subject."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router
from litestar.handlers import HTTPRouteHandler

from actors.contracts import sessions as sm
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
    errors={
        401: "Wrong email or password",
        403: "An agent not (or no longer) approved",
        429: "Too many attempts",
        503: "Too many passwords being hashed",
    },
)

SIGNUP = Endpoint(
    "POST",
    "/signup",
    "users.signup",
    "Signed up",
    m.Signup,
    m.SignupReply,
    status=201,
    public=True,
    slow=True,
    errors={429: "Too many signups from this address", 503: "Too many passwords being hashed"},
)

# The keys that verify access tokens, answered as the actor gives them (no envelope).
JWKS = Endpoint("GET", "/.well-known/jwks.json", "users.jwks", "Public keys", Empty, public=True, raw=True)

ENDPOINTS = [
    SIGNUP,
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
    # Revocation (issue 12 M6): the token, every older token of the user, or an admin's tokens.
    Endpoint("POST", "/logout", "users.logout", "Logged out", Empty, sm.LoggedOut),
    Endpoint(
        "POST",
        "/change-password",
        "users.change_password",
        "Password changed",
        sm.ChangePassword,
        sm.PasswordChanged,
        slow=True,
        errors={403: "The current password is wrong"},
    ),
    Endpoint(
        "PUT",
        "/admins/{user_id}/status",
        "users.set_admin_disabled",
        "Admin status set",
        sm.SetAdminDisabled,
        sm.AdminStatus,
        errors={409: "The last active admin cannot be disabled"},
    ),
]


# (mount prefix, endpoint) of the routes that only forward (not login or signup, which have their
# own limits): edge/fastpath.py answers them.
FORWARDED = [("/api/user", ep) for ep in ENDPOINTS if ep is not SIGNUP] + [("", JWKS)]


class _LoginEmail(msgspec.Struct):
    email: str = ""


_email_decoder = msgspec.json.Decoder(_LoginEmail)
# The one code point whose lowercase (in Unicode's full mapping, which Python's str.lower() uses)
# is two: "İ" → "i" + U+0307. Postgres' lower() maps each character to one (simple case mapping).
_SIMPLE_LOWER = {"\u0130": "i"}


def fold_email(email: str) -> str:
    """`email` as the users actor's lookup folds it: `lower(email) = lower(:email)` in Postgres,
    after stripping (actors/users/queries.py). The database is made with the builtin C.UTF-8
    locale (ops/embedded.py; README asks the same of a server of one's own), whose lower() is
    Unicode's simple case mapping, one character at a time: "İ" is "i", and a final "Σ" is "σ"
    (Python's lower() gives "i̇" and "ς"). So every spelling that logs in to one account is one key."""
    return "".join(_SIMPLE_LOWER.get(ch) or ch.lower() for ch in email.strip())


def login_key(client_host: str, body: bytes) -> tuple[str, str]:
    """(client address, folded email): what login attempts are counted by."""
    try:
        email = _email_decoder.decode(body).email
    except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
        email = ""  # the actor answers 400 (a body nested too deeply too): counted under no email
    # Past 254 characters the actor refuses the email (400): a longer key would only cost memory.
    return client_host, fold_email(email[:255])


def _client(request: Request[Any, Any, Any]) -> str:
    # The client's address as edge/client_address.py worked it out (X-Forwarded-For only from a
    # trusted proxy): the app put it in the scope before any handler runs.
    return request.client.host if request.client else ""


async def login(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward to users.login, counting the attempt first; refused (429) over a limit."""
    limits = edge_of(request).logins
    admission = limits.admit(*login_key(_client(request), await request.body()))
    try:
        response = await forward(request, LOGIN)
    except ActorError as exc:
        limits.settle(admission, exc.status)
        raise
    limits.settle(admission, response.status_code or 200)
    return response


async def signup(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward to users.signup, refused (429) past the address's signups a minute: each costs a hash."""
    limiter = edge_of(request).signups
    if limiter is not None and (wait := limiter.take(_client(request))) is not None:
        raise RateLimited("too many signups from this address; try again later", retry_after=wait)
    return await forward(request, SIGNUP)


def handlers() -> list[Router | HTTPRouteHandler]:
    """Fresh handlers per app: Litestar sets an owner on each handler it registers."""
    own = [handler_for(LOGIN)(login), handler_for(SIGNUP)(signup)]
    forwarded = [route_handler(ep) for ep in ENDPOINTS if ep is not SIGNUP]
    users = Router("/api/user", route_handlers=[*own, *forwarded])
    return [users, route_handler(JWKS)]
