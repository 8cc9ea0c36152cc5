"""The monolith's integer ids on the old paths (design.md §13): `/api/loan/approve-reject-loan/17`,
`/api/user/approve-delete/5`, `/api/loan/17/schedule`, …

An imported record's id is uuid5 of its legacy id (actors/contracts/imports.py), so the edge
turns an all-digit `{loan_id}` or `{user_id}` segment of a known route into that uuid before
routing, and the request goes on as any other: to the fast path or Litestar, the same actor, the
same checks. No lookup and no data here; a number nothing was imported under names no record
(404, as an unknown uuid does), and a record made here has no number at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from actors.contracts.imports import legacy_loan_id, legacy_user_id
from edge.endpoint import Endpoint

_KINDS: dict[str, Callable[[int], UUID]] = {"loan_id": legacy_loan_id, "user_id": legacy_user_id}
# Cheap test first: most paths have no all-digit segment (a uuid or a date has hyphens).
_DIGIT_SEGMENT = re.compile(r"/[0-9]{1,18}(?:/|$)")


class LegacyIds:
    def __init__(self, routes: Iterable[tuple[str, Endpoint]]) -> None:
        """`routes`: (mount prefix, endpoint) of the routes whose ids may be legacy ones."""
        patterns: dict[str, list[Callable[[int], UUID] | None]] = {}
        for prefix, ep in routes:
            if not any(name in _KINDS for name in ep.path_params):
                continue
            kinds: list[Callable[[int], UUID] | None] = []

            def group(found: re.Match[str], kinds: list[Callable[[int], UUID] | None] = kinds) -> str:
                kind = _KINDS.get(found[1])
                kinds.append(kind)
                return "([0-9]{1,18})" if kind is not None else "([^/]+)"

            regex = re.sub(r"\\{(\w+)\\}", group, re.escape(prefix + ep.path))
            patterns.setdefault(regex, kinds)
        self._patterns = [(re.compile(regex), kinds) for regex, kinds in patterns.items()]

    def rewrite(self, scope: dict[str, Any]) -> None:
        """Put the imported record's uuid in place of a legacy id in `scope`'s path, if it has one."""
        path = scope.get("path", "")
        if not _DIGIT_SEGMENT.search(path):
            return
        for pattern, kinds in self._patterns:
            found = pattern.fullmatch(path)
            if found is None:
                continue
            parts, last = [], 0
            for index, kind in enumerate(kinds, start=1):
                if kind is not None:
                    parts += [path[last : found.start(index)], str(kind(int(found[index])))]
                    last = found.end(index)
            new = "".join(parts) + path[last:]
            scope["path"], scope["raw_path"] = new, new.encode()
            return
