"""Fixtures for the runtime suites: every ``@pytest.mark.anyio`` test runs on asyncio and trio.

A module that needs virtual time overrides ``anyio_backend`` with ``virtual_trio()`` (trio's
``MockClock(autojump_threshold=0)`` passed through anyio: ``anyio.current_time()``, and so the
supervisor's default clock, become virtual).
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """The anyio backend under test (a real event loop of each kind)."""
    return str(request.param)
