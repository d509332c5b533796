"""Fixtures for the runtime suites: every ``@pytest.mark.anyio`` test runs on asyncio and trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend under test (a real event loop of each kind)."""
    return str(request.param)
