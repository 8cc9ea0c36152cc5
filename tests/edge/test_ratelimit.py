"""Login attempts are counted per (address, email) and per account in a sliding minute, given back
unless the password was wrong; requests and signups go through token buckets; IPv6 counts by /64."""

from __future__ import annotations

import pytest

from edge.errors import RateLimited
from edge.ratelimit import SWEEP_EVERY, FailureLimiter, LoginLimits, RequestLimiter
from edge.routes.users import fold_email, login_key


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
        limiter.record("k")
        clock.now += 1
    assert limiter.retry_after("k") == 57  # the first failure leaves the window at t+60
    assert limiter.retry_after("other") is None


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, window=60, clock=clock)
    limiter.record("k")
    clock.now += 30
    limiter.record("k")
    assert limiter.retry_after("k") == 30
    clock.now += 30  # the first failure is out of the window
    assert limiter.retry_after("k") is None
    limiter.record("k")
    assert limiter.retry_after("k") == 30


def test_retry_after_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = FailureLimiter(1, window=60, clock=clock)
    limiter.record("k")
    clock.now += 59.9
    assert limiter.retry_after("k") == 1


def test_old_keys_are_swept() -> None:
    clock = Clock()
    limiter = FailureLimiter(5, window=60, clock=clock)
    limiter.record("old")
    clock.now += 61
    for i in range(SWEEP_EVERY - 1):
        limiter.record(i)
    assert "old" not in limiter._attempts
    assert len(limiter) == SWEEP_EVERY - 1


def test_the_key_is_the_address_and_the_folded_email() -> None:
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


def test_a_refunded_attempt_frees_its_place() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, window=60, clock=clock)
    first = limiter.record("k")
    clock.now += 1
    limiter.record("k")
    assert limiter.retry_after("k") == 59
    limiter.refund("k", first)
    assert limiter.retry_after("k") is None
    limiter.refund("k", first)  # twice, or after the window dropped it: nothing happens
    assert len(limiter) == 1


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    """Any address in one /64 spends the same bucket; another /64 has its own."""
    limiter = RequestLimiter(1, clock=Clock())
    assert limiter.take("2001:db8:1:2::1") is None
    assert limiter.take("2001:db8:1:2:ffff:ffff:ffff:fffe") is not None
    assert limiter.take("2001:db8:1:3::1") is None
    assert limiter.take("192.0.2.1") is None and limiter.take("192.0.2.2") is None  # IPv4: per address


def wrong(limits: LoginLimits, address: str, email: str) -> None:
    limits.settle(limits.admit(address, email), 401)


def test_an_admitted_attempt_counts_before_its_answer() -> None:
    """Three admitted, none answered yet: the fourth is refused."""
    limits = LoginLimits(3, 100, clock=Clock())
    pending = [limits.admit("10.0.0.1", "a@x.com") for _ in range(3)]
    with pytest.raises(RateLimited):
        limits.admit("10.0.0.1", "a@x.com")
    for admission in pending:  # the right password each time: all given back
        limits.settle(admission, 200)
    limits.admit("10.0.0.1", "a@x.com")


@pytest.mark.parametrize(
    ("status", "counted"),
    [(401, True), (504, True), (500, True), (200, False), (403, False), (400, False), (503, False)],
)
def test_only_a_wrong_or_unknown_outcome_stays_counted(status: int, counted: bool) -> None:
    limits = LoginLimits(1, 100, clock=Clock())
    limits.settle(limits.admit("10.0.0.1", "a@x.com"), status)
    assert (limits.attempts.retry_after(("10.0.0.1", "a@x.com")) is not None) is counted


def test_the_account_cap_holds_across_addresses_and_frees_after_a_minute() -> None:
    clock = Clock()
    limits = LoginLimits(3, 5, clock=clock)
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.2"):
        wrong(limits, address, "a@x.com")
    with pytest.raises(RateLimited) as refused:
        limits.admit("10.0.0.3", "a@x.com")
    assert refused.value.retry_after == 60
    limits.admit("10.0.0.3", "b@x.com")  # another account is not touched
    clock.now += 60  # the oldest failure has left the window
    limits.admit("10.0.0.3", "a@x.com")


def test_the_account_cap_does_not_apply_where_the_account_logged_in_before() -> None:
    """A guesser elsewhere cannot lock the owner out of the address they log in from."""
    limits = LoginLimits(3, 2, clock=Clock())
    limits.settle(limits.admit("10.0.0.9", "a@x.com"), 200)
    wrong(limits, "10.0.0.1", "a@x.com")
    wrong(limits, "10.0.0.2", "a@x.com")
    with pytest.raises(RateLimited):
        limits.admit("10.0.0.3", "a@x.com")
    limits.settle(limits.admit("10.0.0.9", "a@x.com"), 200)


def test_the_email_is_folded_one_character_at_a_time() -> None:
    """Unicode's simple lowercase, as Postgres' builtin C.UTF-8 lower() does (the database test
    in tests/security/test_login_abuse.py checks it against Postgres itself)."""
    assert fold_email("\u0130nfo@X.com") == "info@x.com"  # Python's lower() gives "i\u0307nfo"
    assert fold_email("\u039f\u03a3@x.gr") == "\u03bf\u03c3@x.gr"  # no final sigma
    assert fold_email(" \u1e9e@x.de ") == "\u00df@x.de"
