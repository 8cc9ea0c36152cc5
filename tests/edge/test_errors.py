"""Every failure becomes the one error envelope, with the status and code api.md names, and the
same answer whether the fast path or Litestar's exception handler gives it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from litestar.exceptions import (
    MethodNotAllowedException,
    NotFoundException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.testing import RequestFactory

from actors.bus.client import error_from_reply
from actors.contracts.config import Settings
from actors.contracts.errors import (
    ActorError,
    BadRequest,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    Unauthenticated,
    Unavailable,
)
from actors.runtime.serving import error_body
from edge import fastpath, forward
from edge.app import EdgeApp, create_app
from edge.errors import CircuitOpen, PayloadTooLarge, RateLimited, exception_to_http_response

REQUEST = RequestFactory().get("/api/user/profile")


def answer(exc: Exception) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = exception_to_http_response(REQUEST, exc)
    assert response.media_type == "application/json"
    assert isinstance(response.content, bytes) and response.status_code is not None
    return response.status_code, json.loads(response.content), dict(response.headers)


def test_an_actor_error_reply_keeps_its_status_code_message_and_details() -> None:
    sent = Forbidden("the agent is waiting", code="agent_not_approved", details={"why": 1})
    exc = error_from_reply("403", "the agent is waiting", error_body(sent))
    assert answer(exc)[:2] == (
        403,
        {
            "success": False,
            "message": "the agent is waiting",
            "error": {"code": "agent_not_approved", "details": {"why": 1}},
        },
    )


def test_an_error_reply_of_any_status_keeps_it() -> None:
    sent = ActorError(502, "upstream_gone", "the upstream went away")
    exc = error_from_reply("502", sent.message, error_body(sent))
    assert (exc.status, exc.code, exc.message, exc.details) == (502, "upstream_gone", sent.message, None)


def test_an_error_reply_without_a_readable_body_falls_back_to_the_headers() -> None:
    exc = error_from_reply("409", "already decided", b"garbage")
    assert (exc.status, exc.code, exc.message) == (409, "conflict", "already decided")


@pytest.mark.parametrize("status", ["abc", "200", "999"])
def test_a_nonsense_status_header_is_an_internal_error(status: str) -> None:
    assert error_from_reply(status, None, b"").status == 500


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Unauthenticated("a bearer token is required"), 401, "unauthenticated"),
        (Unavailable("no worker"), 503, "service_unavailable"),
        (DeadlineExceeded("too slow"), 504, "timeout"),
        (NotFoundException(), 404, "not_found"),
        (MethodNotAllowedException(), 405, "method_not_allowed"),
        (RequestEntityTooLarge(), 413, "payload_too_large"),
        (ValidationException("bad", extra=[{"key": "page"}]), 400, "validation_error"),
    ],
)
def test_each_failure_maps_to_its_status_and_code(exc: Exception, status: int, code: str) -> None:
    got_status, body, _ = answer(exc)
    assert (got_status, body["success"], body["error"]["code"]) == (status, False, code)
    assert isinstance(body["message"], str) and body["message"]
    if isinstance(exc, ActorError):  # its own words, never the generic ones
        assert body["message"] == exc.message


def test_litestar_validation_details_are_kept() -> None:
    _, body, _ = answer(ValidationException("bad", extra=[{"key": "page"}]))
    assert body["error"]["details"] == [{"key": "page"}]


def test_rate_limited_carries_retry_after() -> None:
    status, body, headers = answer(RateLimited("slow down", retry_after=42))
    assert (status, body["error"]["code"], headers["Retry-After"]) == (429, "rate_limited", "42")


def test_an_unexpected_exception_says_nothing_about_the_inside() -> None:
    status, body, _ = answer(RuntimeError("password=hunter2 at db.internal"))
    assert (status, body["error"]["code"], body["message"]) == (500, "internal_error", "internal error")


def test_an_actor_500_passes_through_with_its_safe_message() -> None:
    # Not the code or words of the unexpected-exception answer: only the ActorError mapping gives these.
    status, body, _ = answer(ActorError(500, "schema_behind", "the worker's schema is behind"))
    assert (status, body["error"]["code"]) == (500, "schema_behind")
    assert body["message"] == "the worker's schema is behind"


def test_an_actor_error_takes_its_status_code_and_message() -> None:
    exc = ActorError(418, "teapot", "short and stout", details={"spout": True})
    assert (exc.status, exc.code, exc.message, exc.details) == (
        418,
        "teapot",
        "short and stout",
        {"spout": True},
    )
    assert str(exc) == "short and stout"


def test_a_subclass_fixes_its_status_and_may_name_a_more_specific_code() -> None:
    assert (BadRequest("no").status, BadRequest("no").code) == (400, "validation_error")
    decided = Conflict("already decided", code="loan_already_decided")
    assert (decided.status, decided.code, decided.message) == (409, "loan_already_decided", "already decided")


# A forwarded route's failure and what it answers, whichever path answers it: status, code, and
# the headers besides Content-Type and Content-Length.
FAILURES: list[tuple[Exception, int, str, dict[str, str]]] = [
    (BadRequest("page: expected an integer", details={"field": "page"}), 400, "validation_error", {}),
    (Unauthenticated("a bearer token is required"), 401, "unauthenticated", {}),
    (Forbidden("the agent is waiting", code="agent_not_approved"), 403, "agent_not_approved", {}),
    (PayloadTooLarge(), 413, "payload_too_large", {}),
    (RateLimited("slow down", retry_after=7), 429, "rate_limited", {"retry-after": "7"}),
    (CircuitOpen(3), 503, "service_unavailable", {"retry-after": "3"}),
    (DeadlineExceeded("too slow"), 504, "timeout", {}),
    (ActorError(500, "schema_behind", "the worker's schema is behind"), 500, "schema_behind", {}),
    (NotFoundException(), 404, "not_found", {}),
    (MethodNotAllowedException(headers={"Allow": "GET"}), 405, "method_not_allowed", {"allow": "GET"}),
    (RequestEntityTooLarge(), 413, "payload_too_large", {}),
    (TooManyRequestsException(headers={"Retry-After": "9"}), 429, "rate_limited", {"retry-after": "9"}),
    (ValidationException("bad", extra=[{"key": "page"}]), 400, "validation_error", {}),
    (RuntimeError("password=hunter2 at db.internal"), 500, "internal_error", {}),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("exc", "status", "code", "headers"), FAILURES)
async def test_the_fast_path_and_litestar_answer_a_failure_alike(
    exc: Exception, status: int, code: str, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    took: list[str] = []

    def failing(where: str) -> Any:
        async def ask(*args: Any, **kwargs: Any) -> bytes:
            took.append(where)
            raise exc

        return ask

    # The call to the actor fails: in the fast path's `ask`, or in the one Litestar's handler calls.
    monkeypatch.setattr(fastpath, "ask", failing("fast path"))
    monkeypatch.setattr(forward, "ask", failing("litestar"))
    answers = []
    for fast in (True, False):
        app = create_app(Settings(nats_url="nats://127.0.0.1:1"))  # no lifespan: nothing connects
        assert isinstance(app, EdgeApp)
        if not fast:
            app.fast = None
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
            response = await client.get("/api/user/profile")
        answers.append((response.status_code, dict(response.headers), response.content))
    assert took == ["fast path", "litestar"]
    assert answers[0] == answers[1]
    got_status, got_headers, body = answers[0]
    assert got_status == status
    assert got_headers.pop("content-type") == "application/json"
    assert got_headers.pop("content-length") == str(len(body))
    assert got_headers == headers
    envelope = json.loads(body)
    assert (envelope["success"], envelope["error"]["code"]) == (False, code)
    if isinstance(exc, ActorError):
        assert envelope == {
            "success": False,
            "message": exc.message,
            "error": {"code": exc.code, "details": exc.details},
        }
