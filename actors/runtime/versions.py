"""Applying a batch of versioned changes to a read model whose upsert keeps the newest version.

One statement cannot update a row twice, so a batch with several versions of one row goes in
rounds: round n holds each row's n-th version, oldest first. Taking only the newest of a batch
would let one the statement refuses (a forged far-future version, which the read models do not
apply) hide a real version before it: both fetched in one batch, the real one was never written.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def in_rounds(changes: Iterable[tuple[K, V, int]]) -> list[list[tuple[V, int]]]:
    """`(key, value, version)` changes dealt into rounds, each key at most once a round, each key's
    versions in ascending order (a version given twice counts once)."""
    by_key: dict[K, dict[int, V]] = {}
    for key, value, version in changes:
        by_key.setdefault(key, {})[version] = value
    rounds: list[list[tuple[V, int]]] = []
    for versions in by_key.values():
        for n, version in enumerate(sorted(versions)):
            if n == len(rounds):
                rounds.append([])
            rounds[n].append((versions[version], version))
    return rounds
