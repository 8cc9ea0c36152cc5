"""Failed logins are counted per (address, email) in a sliding minute; successes never count."""

from __future__ import annotations

from edge.ratelimit import SWEEP_EVERY, FailureLimiter, RequestLimiter
from edge.routes.users import login_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_allows_that_many_failures_then_refuses() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, window=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("k") is None
        limiter.record_failure("k")
        clock.now += 1
    assert limiter.retry_after("k") == 57  # the first failure leaves the window at t+60
    assert limiter.retry_after("other") is None


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, window=60, clock=clock)
    limiter.record_failure("k")
    clock.now += 30
    limiter.record_failure("k")
    assert limiter.retry_after("k") == 30
    clock.now += 30  # the first failure is out of the window
    assert limiter.retry_after("k") is None
    limiter.record_failure("k")
    assert limiter.retry_after("k") == 30


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = FailureLimiter(1, window=60, clock=clock)
    limiter.record_failure("k")
    clock.now += 59.9
    assert limiter.retry_after("k") == 1


def test_old_keys_are_swept() -> None:
    clock = Clock()
    limiter = FailureLimiter(5, window=60, clock=clock)
    limiter.record_failure("old")
    clock.now += 61
    for i in range(SWEEP_EVERY - 1):
        limiter.record_failure(i)
    assert "old" not in limiter._failures
    assert len(limiter) == SWEEP_EVERY - 1


def test_the_key_is_the_address_and_the_lowercased_email() -> None:
    assert login_key("10.0.0.1", b'{"email": " Ann@Example.COM ", "password": "x"}') == (
        "10.0.0.1",
        "ann@example.com",
    )


def test_a_body_without_a_usable_email_still_has_a_key() -> None:
    assert login_key("h", b"not json") == ("h", "")
    assert login_key("h", b'{"email": 5}') == ("h", "")
    assert login_key("h", b"[]") == ("h", "")


def test_the_request_bucket_allows_a_minute_s_worth_then_the_steady_rate() -> None:
    clock = Clock()
    limiter = RequestLimiter(120, clock=clock)  # 2 a second
    assert all(limiter.take("a") is None for _ in range(120))
    assert limiter.take("a") == 1
    assert limiter.take("b") is None  # per client
    clock.now += 0.5
    assert limiter.take("a") is None  # one token back after half a second
    assert limiter.take("a") == 1


def test_retry_after_says_when_a_token_is_back() -> None:
    clock = Clock()
    limiter = RequestLimiter(6, clock=clock)  # one every 10 s
    for _ in range(6):
        assert limiter.take("a") is None
    assert limiter.take("a") == 10
    clock.now += 7.5
    assert limiter.take("a") == 3


def test_idle_request_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RequestLimiter(60, clock=clock)
    limiter.take("old")
    clock.now += 61
    limiter.take("new")
    assert len(limiter) == 1
