"""Helpers shared by the runtime tests: an event recorder, short policies, virtual time, and a
held command queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar

import anyio
import pytest
import sniffio

import taskvisor as tv
from taskvisor import EventKind, fsm

EK = EventKind
T = TypeVar("T")

#: Defaults that keep real-time tests fast: failures retry after 1 ms.
FAST = tv.TaskDefaults(backoff=tv.BackoffPolicy.constant(0.001))


class Recorder:
    """An async subscriber that keeps every event (delivered on the loop, in ``seq`` order)."""

    name = "recorder"
    queue_capacity = 1_000_000

    def __init__(self) -> None:
        self.events: list[tv.Event] = []

    async def on_event(self, ev: tv.Event) -> None:
        self.events.append(ev)

    def of(self, task: tv.TaskId | str) -> list[tv.Event]:
        """The events of one task, by id or by name (supervisor-wide events excluded)."""
        if isinstance(task, str):
            return [e for e in self.events if e.task == task and e.task_id is not None]
        return [e for e in self.events if e.task_id == task]

    def kinds(self, task: tv.TaskId | str) -> list[EventKind]:
        return [e.kind for e in self.of(task)]

    def supervisor_kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events if e.task is None]

    def check(self) -> None:
        """I1/I3/I8 over the whole trace (the core's own checks)."""
        fsm.check_trace(self.events)


def virtual_trio() -> tuple[str, dict[str, Any]]:
    """An ``anyio_backend`` value: trio on virtual time that jumps ahead whenever idle."""
    from trio.testing import MockClock

    return "trio", {"clock": MockClock(autojump_threshold=0)}


def virtual_asyncio() -> tuple[str, dict[str, Any]]:
    """An ``anyio_backend`` value: asyncio on ``taskvisor.testing.VirtualClock`` (autojump)."""
    from taskvisor.testing import VirtualClock

    return "asyncio", {"loop_factory": VirtualClock().new_event_loop}


#: Fixture params for a module on virtual time: both backends, a fresh clock per test.
VIRTUAL_BACKENDS = (
    pytest.param(virtual_asyncio, id="asyncio-virtual"),
    pytest.param(virtual_trio, id="trio-virtual"),
)


def on_virtual_time() -> bool:
    """True when the running loop's clock is virtual (VirtualClock, or trio's MockClock).

    The uvloop suite re-runs some tests on uvloop's real clock: their timing checks are exact
    on virtual time and get ``REAL_TIME_SLACK`` on a real one.
    """
    if sniffio.current_async_library() == "trio":
        import trio
        from trio.testing import MockClock

        return isinstance(trio.lowlevel.current_clock(), MockClock)
    return hasattr(asyncio.get_running_loop(), "virtual_clock")


#: How late a real clock may report a deadline met: scheduling delay of a loaded CI machine
#: (load 4 on 2 cores), with room to spare. Never used on virtual time, where it is 0.
REAL_TIME_SLACK = 2.0


def slack() -> float:
    """Seconds a timing check may be late by: ~0 on virtual time, ``REAL_TIME_SLACK`` else."""
    return 1e-6 if on_virtual_time() else REAL_TIME_SLACK


def renumbered(events: Iterable[tv.Event]) -> list[tuple[Any, ...]]:
    """Events as comparable tuples, task ids renumbered by first appearance (ids are global)."""
    ids: dict[tv.TaskId, int] = {}
    out = []
    for e in events:
        tid = None if e.task_id is None else ids.setdefault(e.task_id, len(ids))
        out.append(
            (
                e.seq,
                e.at,
                e.kind,
                tid,
                e.task,
                e.attempt,
                e.reason,
                e.delay,
                e.timeout,
                e.duration,
                e.exit_code,
                e.backoff_source,
                e.outcome,
                e.rejection,
            )
        )
    return out


@contextlib.contextmanager
def queue_held(handle: tv.SupervisorHandle, *, intake: bool = False) -> Iterator[None]:
    """Within the block, commands behave as if an earlier one were queued and not yet taken by
    the actor: they go through the bounded queue (``intake``: the controller's) instead of
    stepping the core at once, so its order and its fullness can be tested. (A private peek:
    only a queued shutdown holds the command queue for real.)"""
    driver = handle._driver
    driver._queued[1 if intake else 0] += 1
    try:
        yield
    finally:
        driver._queued[1 if intake else 0] -= 1


# -- retry-budget waits, as the metrics backends' tests read them --------------------------------


class VirtualClockRunner:
    """Run ``main()`` on virtual time: asyncio on ``VirtualClock``, or trio on ``MockClock``."""

    @staticmethod
    def asyncio(main: Callable[[], Awaitable[T]]) -> T:
        from taskvisor.testing import VirtualClock

        return VirtualClock().run(main())

    @staticmethod
    def trio(main: Callable[[], Awaitable[T]]) -> T:
        from trio.testing import MockClock

        options = {"clock": MockClock(autojump_threshold=0)}
        return anyio.run(main, backend="trio", backend_options=options)


#: Virtual time on both backends, for tests that are plain functions: ``run_on(main)``.
VIRTUAL_RUNNERS = pytest.mark.parametrize(
    "run_on",
    [VirtualClockRunner.asyncio, VirtualClockRunner.trio],
    ids=["asyncio-virtual", "trio-virtual"],
)


class OnTheLoop:
    """A plain subscriber's ``on_event`` called on the loop. Under virtual time the shutdown
    does not wait for a worker thread's deliveries (docs/testing.md, "Limits of
    ``VirtualClock``"), so the subscriber itself would miss the last events."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.name: str = sub.name

    async def on_event(self, ev: tv.Event) -> None:
        self.sub.on_event(ev)


def _fails(times: int) -> Callable[[tv.TaskContext], Awaitable[None]]:
    async def body(ctx: tv.TaskContext) -> None:
        if ctx.attempt <= times:
            raise tv.Fail("connection refused")

    return body


#: The tasks of ``budget_run``: name, failures before success, whether it names the budget.
BUDGET_TASKS = (("a", 1, True), ("b", 2, True), ("c", 3, True), ("free", 2, False))


async def budget_run(sub: Any, *, budget: bool = True) -> Recorder:
    """Three tasks sharing ``RetryBudget(1, burst=1)`` and one without (``budget=False``: none
    has one), failing all at once with a 1 s backoff; returns every event of the run."""
    rec = Recorder()
    one = tv.BackoffPolicy.constant(1.0)
    budgets = {"db": tv.RetryBudget(1.0, 1)} if budget else None
    specs = [
        tv.TaskSpec.restartable(
            tv.TaskFn(name, _fails(n)),
            backoff=one,
            retry_budget="db" if shared and budget else None,
        )
        for name, n, shared in BUDGET_TASKS
    ]
    config = tv.SupervisorConfig(retry_budgets=budgets)
    out = await tv.Supervisor(config, subscribers=[OnTheLoop(sub), rec]).run(specs)
    assert {o.kind for o in out.values()} == {tv.OutcomeKind.COMPLETED}
    return rec


def budget_waits(rec: Recorder) -> dict[str, list[float]]:
    """The retry-budget waits the events report (``decision.budget_wait``), by task."""
    waits: dict[str, list[float]] = {}
    for e in rec.events:
        if e.backoff_source is tv.BackoffSource.BUDGET:
            assert e.kind is EK.BACKOFF_SCHEDULED
            assert e.task is not None
            assert e.decision is not None
            waits.setdefault(e.task, []).append(e.decision.budget_wait)
    return waits
