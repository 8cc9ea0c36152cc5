"""Every failure becomes the one error envelope, with the status and code api.md names."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.exceptions import (
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.testing import RequestFactory

from actors.contracts.errors import ActorError, DeadlineExceeded, Forbidden, Unauthenticated, Unavailable
from actors.runtime.serving import error_body
from edge.errors import RateLimited, error_from_reply, exception_to_http_response

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
    assert answer(ActorError("internal error"))[0] == 500
