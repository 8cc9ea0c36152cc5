"""schemathesis against the edge's own OpenAPI document, as every role: no 5xx, and every answer
(status, content type, body) is one the document promises.

A live system of real processes (its own NATS and database, tests/support/harness.py): schemathesis
calls over HTTP with a blocking client, which the in-process workers of the other tests, on the
test's event loop, could not answer meanwhile. Bounded: a few examples per operation and role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.harness import System, cast, system

pytestmark = pytest.mark.slow
EXAMPLES = 6  # per operation, generation mode and role
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Live:
    url: str
    roles: dict[str, dict[str, str]]  # role → headers


@pytest.fixture(scope="module")
def live(server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with asyncio.Runner() as runner:
        context: AbstractAsyncContextManager[System] = system(tmp, server_urls, loans_workers=1)
        sys = runner.run(context.__aenter__())
        try:

            async def roles() -> dict[str, dict[str, str]]:
                async with httpx.AsyncClient(base_url=sys.http_url, timeout=15) as http:
                    await sys.wait_ready(http)
                    people = await cast(http, sys.settings)
                return {
                    "anonymous": {},
                    "customer": people.customer.headers,
                    "agent": people.agent.headers,
                    "admin": people.admin.headers,
                }

            yield Live(sys.http_url, runner.run(roles()))
        finally:
            runner.run(context.__aexit__(None, None, None))


def operations(url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_for_every_role(live: Live, mode: GenerationMode) -> None:
    ops = operations(live.url)
    assert len(ops) >= 17
    calls: list[int] = []
    for op in ops:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for headers in live.roles.values():
                response = case.call_and_validate(
                    base_url=live.url, headers=headers, checks=CHECKS, timeout=15
                )
                calls.append(response.status_code)

        try:
            run()
        except Unsatisfiable:  # nothing to break in it (no parameters, no body): negative mode only
            assert mode is GenerationMode.NEGATIVE
    print(f"schemathesis {mode.value}: {len(ops)} operations, {len(calls)} calls")
    assert calls and all(status < 500 for status in calls)
