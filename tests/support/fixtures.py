"""Fixtures that tests in several folders use, beside the servers of tests/conftest.py.

Loaded as a pytest plugin (`pytest_plugins` in tests/conftest.py), so no test imports a fixture.
"""

from __future__ import annotations

import httpx
import pytest

from actors.contracts.config import Settings
from tests.support.people import Cast, cast


@pytest.fixture
async def people(client: httpx.AsyncClient, settings: Settings) -> Cast:
    """Fresh users in every role for one test: admin, customers, agents in every state."""
    return await cast(client, settings)
