"""in_rounds: a batch's versioned changes, each key once a round and its versions oldest first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.runtime.versions import in_rounds


def test_a_forged_far_future_version_comes_after_the_real_one_before_it() -> None:
    rounds = in_rounds([("a", "forged", 1_000_000), ("b", "b1", 1), ("a", "real", 2)])
    assert rounds == [[("real", 2), ("b1", 1)], [("forged", 1_000_000)]]


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(1, 6)), max_size=30))
def test_every_version_once_each_key_once_a_round_ascending(changes: list[tuple[str, int]]) -> None:
    rounds = in_rounds((key, key, version) for key, version in changes)
    seen = [(key, version) for round_ in rounds for key, version in round_]
    assert sorted(seen) == sorted(set(changes))  # every (key, version) given, once
    for round_ in rounds:
        assert len({key for key, _ in round_}) == len(round_)
    for key in {key for key, _ in changes}:
        versions = [version for round_ in rounds for k, version in round_ if k == key]
        assert versions == sorted(versions)
    assert all(rounds)  # no empty round


def test_a_batch_of_distinct_keys_is_one_round() -> None:
    assert in_rounds([("a", "a3", 3), ("b", "b1", 1), ("c", "c9", 9)]) == [[("a3", 3), ("b1", 1), ("c9", 9)]]
