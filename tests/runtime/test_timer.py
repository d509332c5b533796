"""The one timer: ``CallbackTimer`` (asyncio's ``call_at``) and ``TaskTimer`` (any backend).

On virtual time (``VirtualClock``, trio's ``MockClock``), so deadlines are met exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from runtime_support import virtual_asyncio, virtual_trio

from taskvisor.runtime import LoopClock
from taskvisor.runtime._timer import CallbackTimer, TaskTimer, Timer

pytestmark = pytest.mark.anyio

MS = 1_000_000


@pytest.fixture(
    params=[("asyncio", "callback"), ("asyncio", "task"), ("trio", "task")],
    ids=["asyncio-callback", "asyncio-task", "trio-task"],
)
def case(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def anyio_backend(case: tuple[str, str]) -> tuple[str, dict[str, Any]]:
    # Virtual time: a timer fires exactly at its deadline, and "it did not fire" is checked
    # after virtual sleeps that pass only once the loop has nothing else to do.
    return virtual_asyncio() if case[0] == "asyncio" else virtual_trio()


@pytest.fixture
def make_timer(case: tuple[str, str]) -> Any:
    def make(due: Any) -> Timer:
        if case[1] == "callback":
            return CallbackTimer(asyncio.get_running_loop(), due)
        return TaskTimer(LoopClock(), due)

    return make


async def run_with(timer: Timer, body: Any) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(timer.run)
        await body()
        timer.close()
        tg.cancel_scope.cancel()


def now() -> int:
    return LoopClock().now_ns()


async def test_fires_once_at_its_deadline(make_timer: Any) -> None:
    fired: list[tuple[int, int]] = []
    done = anyio.Event()

    def due(deadline: int) -> None:
        fired.append((deadline, now()))
        done.set()

    timer = make_timer(due)

    async def body() -> None:
        deadline = now() + 20 * MS
        timer.arm(deadline, now())
        with anyio.fail_after(2):
            await done.wait()
        await anyio.sleep(0.03)
        assert len(fired) == 1
        assert fired[0][0] == deadline
        assert deadline - 1_000 <= fired[0][1] <= deadline + 1_000  # at it: float seconds

    await run_with(timer, body)


async def test_re_arming_earlier_or_later_moves_the_deadline(make_timer: Any) -> None:
    fired: list[int] = []
    timer = make_timer(fired.append)

    async def body() -> None:
        t = now()
        timer.arm(t + 500 * MS, t)
        timer.arm(t + 10 * MS, t)  # earlier: wakes sooner
        await anyio.sleep(0.05)
        assert fired == [t + 10 * MS]
        timer.arm(t + 60 * MS, now())
        timer.arm(t + 5_000 * MS, now())  # later: the earlier one does not fire
        await anyio.sleep(0.1)
        assert fired == [t + 10 * MS]
        timer.arm(None, now())  # disarmed
        await anyio.sleep(0.01)
        assert fired == [t + 10 * MS]

    await run_with(timer, body)


async def test_a_due_deadline_fires_in_a_later_turn_than_the_arming(
    make_timer: Any, anyio_backend_name: str
) -> None:
    """Never synchronously inside ``arm``: tasks already ready get their turn (on asyncio,
    strictly first; trio runs a turn's tasks in random order), so nothing starves."""
    order: list[str] = []
    timer = make_timer(lambda d: order.append("timer"))

    async def other() -> None:
        order.append("other")

    async def body() -> None:
        async with anyio.create_task_group() as tg:
            await anyio.sleep(0.01)  # let a task timer reach its idle sleep first
            tg.start_soon(other)
            t = now()
            timer.arm(t - MS, t)  # already due
            assert order == []  # not fired from inside arm()
            with anyio.fail_after(1):
                while "timer" not in order:
                    await anyio.lowlevel.checkpoint()
        assert sorted(order) == ["other", "timer"]
        if anyio_backend_name == "asyncio":
            assert order == ["other", "timer"]

    await run_with(timer, body)
