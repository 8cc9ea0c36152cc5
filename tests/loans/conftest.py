"""Fixtures of the loan tests; the servers, the edge and `people` come through tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.loans import LoansTable
from tests.support.people import Cast, cast


@pytest.fixture(scope="session")
def table(settings: Settings) -> LoansTable:
    """Direct reads of the loans schema as the loans role, to prove what was (not) written."""
    return LoansTable(settings)


@pytest.fixture(scope="module")
async def crew(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[Cast]:
    """One cast shared by a module's many small cases, each of which makes its own loans."""
    yield await cast(client, settings)
