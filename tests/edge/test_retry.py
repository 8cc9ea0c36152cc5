"""Which failed attempts are tried again, and how long the edge waits first."""

from __future__ import annotations

import pytest

from actors.contracts.config import load_settings
from edge.retry import MIN_ATTEMPT, NO_RETRY, RetryPolicy


@pytest.mark.parametrize("outcome", ["no_responders", "timeout", "504", "unavailable"])
def test_lost_or_unanswered_requests_are_retried(outcome: str) -> None:
    assert RetryPolicy().should_retry(outcome, 1, 4.0)


@pytest.mark.parametrize("outcome", ["ok", "400", "401", "403", "404", "409", "429", "500", "503"])
def test_answers_are_never_retried(outcome: str) -> None:
    """An error reply is the actor's answer; a 503 (its database is down) is not made worse by repeats."""
    assert not RetryPolicy().should_retry(outcome, 1, 4.0)


def test_attempts_are_bounded() -> None:
    policy = RetryPolicy(attempts=3)
    assert policy.should_retry("timeout", 2, 4.0)
    assert not policy.should_retry("timeout", 3, 4.0)
    assert not NO_RETRY.should_retry("timeout", 1, 4.0)


def test_no_retry_without_time_left_in_the_deadline() -> None:
    policy = RetryPolicy()
    assert policy.should_retry("timeout", 1, MIN_ATTEMPT)
    assert not policy.should_retry("timeout", 1, MIN_ATTEMPT - 0.001)
    assert not policy.should_retry("timeout", 1, -1.0)


def test_pauses_double_are_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff=0.1, backoff_max=0.3)
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.3), (8, 0.3)):
        pauses = [policy.pause(retry) for _ in range(200)]
        assert all(ceiling / 2 <= p <= ceiling for p in pauses)
        assert len(set(pauses)) > 100  # jittered: replicas that failed together spread out


def test_the_policy_comes_from_the_settings() -> None:
    env = {"LOANS_RETRY_ATTEMPTS": "4", "LOANS_ATTEMPT_TIMEOUT": "1.5"}
    settings = load_settings(env, retry_backoff=0.2, retry_backoff_max=1.0)
    assert RetryPolicy.from_settings(settings) == RetryPolicy(
        attempts=4, backoff=0.2, backoff_max=1.0, attempt_timeout=1.5
    )
