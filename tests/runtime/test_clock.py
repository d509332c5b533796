"""The runtime's clock: ``LoopClock`` (anyio's loop time, virtual under MockClock) and ``bind``."""

from __future__ import annotations

import anyio
import pytest
from runtime_support import virtual_trio

from taskvisor.fsm import NS_PER_S
from taskvisor.runtime import LoopClock
from taskvisor.runtime._clock import bind

pytestmark = pytest.mark.anyio

MS = 1_000_000


async def test_loop_clock_reads_anyio_time_in_nanoseconds() -> None:
    clock = LoopClock()
    a = clock.now_ns()
    b = round(anyio.current_time() * NS_PER_S)
    assert 0 <= b - a < 100 * MS
    await clock.sleep_until_ns(b + 5 * MS)
    assert clock.now_ns() >= b + 4 * MS


async def test_bind_keeps_a_custom_clock_and_speeds_up_the_loop_clock() -> None:
    class Custom:
        def now_ns(self) -> int:
            return 7

        async def sleep_until_ns(self, deadline_ns: int) -> None:
            return None

    custom = Custom()
    assert bind(custom, anyio.current_time) is custom
    bound = bind(LoopClock(), anyio.current_time)
    assert bound is not LoopClock
    assert abs(bound.now_ns() - LoopClock().now_ns()) < 100 * MS


@pytest.mark.parametrize("anyio_backend", [virtual_trio()], ids=["trio-virtual"])
async def test_loop_clock_is_virtual_under_trios_mock_clock() -> None:
    clock = LoopClock()
    start = clock.now_ns()
    await clock.sleep_until_ns(start + 3600 * NS_PER_S)  # an hour, instantly
    assert clock.now_ns() - start == 3600 * NS_PER_S
