"""The circuit breaker per subject: closed → open after N failures in a row → half-open after the
cool-down, one probe at a time → closed on its success, open again on its failure."""

from __future__ import annotations

from edge.breaker import Breaker, Breakers, State


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def failing(breaker: Breaker, times: int) -> None:
    for _ in range(times):
        assert breaker.allow()
        breaker.failure()


def test_it_opens_after_n_failures_in_a_row_and_refuses_at_once() -> None:
    clock = Clock()
    breaker = Breaker(3, 5.0, clock=clock)
    failing(breaker, 2)
    assert breaker.state is State.CLOSED
    failing(breaker, 1)
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    assert breaker.retry_after() == 5.0
    clock.now += 4.9
    assert not breaker.allow()


def test_a_success_or_an_error_reply_resets_the_count() -> None:
    breaker = Breaker(3, 5.0, clock=Clock())
    failing(breaker, 2)
    assert breaker.allow()
    breaker.success()  # any reply, a 4xx included, says the subject is served
    failing(breaker, 2)
    assert breaker.state is State.CLOSED


def test_after_the_cool_down_one_probe_goes_through_and_its_success_closes() -> None:
    clock = Clock()
    breaker = Breaker(1, 5.0, clock=clock)
    failing(breaker, 1)
    clock.now += 5.0
    assert breaker.allow()  # the probe
    assert breaker.state is State.HALF_OPEN
    assert not breaker.allow()  # only one probe at a time
    assert not breaker.allow()
    breaker.success()
    assert breaker.state is State.CLOSED
    assert all(breaker.allow() for _ in range(3))


def test_a_failed_probe_opens_again_for_a_full_cool_down() -> None:
    clock = Clock()
    breaker = Breaker(2, 5.0, clock=clock)
    failing(breaker, 2)
    clock.now += 6.0
    assert breaker.allow()
    breaker.failure()
    assert breaker.state is State.OPEN
    assert not breaker.allow()
    clock.now += 4.0
    assert not breaker.allow()
    clock.now += 1.0
    assert breaker.allow()


def test_a_probe_without_a_verdict_frees_the_slot() -> None:
    """The bus was down, or the caller was cancelled: another probe may go, still half-open."""
    clock = Clock()
    breaker = Breaker(1, 1.0, clock=clock)
    failing(breaker, 1)
    clock.now += 1.0
    assert breaker.allow()
    breaker.release()
    assert breaker.state is State.HALF_OPEN
    assert breaker.allow()
    breaker.success()
    assert breaker.state is State.CLOSED


def test_release_while_closed_changes_nothing() -> None:
    breaker = Breaker(2, 1.0, clock=Clock())
    failing(breaker, 1)
    assert breaker.allow()
    breaker.release()
    failing(breaker, 1)
    assert breaker.state is State.OPEN


def test_breakers_are_per_subject_and_report_every_change() -> None:
    clock = Clock()
    seen: list[tuple[str, State]] = []
    breakers = Breakers(1, 2.0, clock=clock, on_change=lambda subject, state: seen.append((subject, state)))
    a, b = breakers["a"], breakers["b"]
    assert breakers["a"] is a
    failing(a, 1)
    assert b.allow()
    clock.now += 2.0
    assert a.allow()
    a.success()
    assert seen == [
        ("a", State.CLOSED),
        ("b", State.CLOSED),
        ("a", State.OPEN),
        ("a", State.HALF_OPEN),
        ("a", State.CLOSED),
    ]
    assert breakers.states() == {"a": State.CLOSED, "b": State.CLOSED}
    assert [int(s) for s in State] == [0, 1, 2]  # the gauge's values: closed, half-open, open


def test_failures_of_requests_sent_before_the_last_success_do_not_count() -> None:
    """One replica of two dies: the timeouts of what it held arrive together, while the other
    replica answers. They do not open the circuit; failures sent after a success do."""
    clock = Clock()
    breaker = Breaker(3, 5.0, clock=clock)
    held = [breaker.now() for _ in range(10)]  # sent, then lost with the dead replica
    clock.now += 0.1
    assert breaker.allow()
    breaker.success()  # the other replica answers
    clock.now += 2.0
    for sent_at in held:
        assert breaker.allow()
        breaker.failure(sent_at)
    assert breaker.state is State.CLOSED and breaker.failures == 0
    for _ in range(3):  # sent after the success: the subject is failing now
        sent_at = breaker.now()
        assert breaker.allow()
        breaker.failure(sent_at)
    assert breaker.state is State.OPEN
