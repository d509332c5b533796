"""``TaskContext`` (cooperative cancellation as a body sees it) and ``body_of``.

The contract is docs/spec/api.md section 2. Runs on asyncio and trio on virtual time
(``VirtualClock``, trio's ``MockClock``): sleeps and grace periods take no real time and nothing
depends on the machine's load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from runtime_support import FAST, VIRTUAL_BACKENDS

import taskvisor as tv
from taskvisor.runtime._attempt import AsyncioTaskContext
from taskvisor.runtime._context import TaskContext, body_of

pytestmark = pytest.mark.anyio


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual time on both backends (a fresh clock per test): see runtime_support."""
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


def make() -> TaskContext:
    return TaskContext(tv.TaskId(7), "job", 1)


async def test_cancelled_returns_at_once_when_already_requested() -> None:
    ctx = make()
    ctx._request_cancel()
    with anyio.fail_after(1):
        await ctx.cancelled()
    assert ctx.is_cancelled


async def test_cancelled_waits_until_requested() -> None:
    ctx = make()
    woke = anyio.Event()

    async def waiter() -> None:
        await ctx.cancelled()
        woke.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.sleep(0.01)
        assert not woke.is_set()
        assert not ctx.is_cancelled
        ctx._request_cancel()
        with anyio.fail_after(1):
            await woke.wait()


def contexts(backend: str) -> list[TaskContext]:
    """The contexts the launchers hand out on ``backend`` (asyncio's waits on bare futures)."""
    found = [make()]
    if backend == "asyncio":
        found.append(AsyncioTaskContext(tv.TaskId(7), "job", 1))
    return found


async def test_every_waiter_wakes_and_an_abandoned_wait_leaves_nothing(anyio_backend: str) -> None:
    for ctx in contexts(anyio_backend):
        woke: list[int] = []

        async def waiter(i: int, ctx: TaskContext = ctx, woke: list[int] = woke) -> None:
            await ctx.cancelled()
            woke.append(i)

        with anyio.move_on_after(0.01):  # a body that stops waiting (a timeout around it)
            await ctx.cancelled()
        if isinstance(ctx, AsyncioTaskContext):
            assert ctx._event == []  # its future is gone, not left to be woken
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(waiter, i)
            await anyio.sleep(0.01)
            assert woke == []
            ctx._request_cancel()
        assert sorted(woke) == [0, 1, 2]
        with anyio.fail_after(1):
            await ctx.cancelled()  # already requested: at once
        assert repr(ctx) == "TaskContext(TaskId(7), 'job', attempt=1, cancelled)"


async def test_the_asyncio_launcher_hands_out_the_lighter_context(anyio_backend: object) -> None:
    backend = anyio_backend[0] if isinstance(anyio_backend, tuple) else anyio_backend
    seen: list[type] = []

    async def body(ctx: tv.TaskContext) -> None:
        seen.append(type(ctx))

    await tv.Supervisor(defaults=FAST).run([tv.TaskSpec(body)])
    assert seen == [AsyncioTaskContext if backend == "asyncio" else TaskContext]
    assert issubclass(seen[0], tv.TaskContext)


async def test_run_until_cancelled_returns_the_result() -> None:
    async def compute() -> int:
        await anyio.lowlevel.checkpoint()
        return 42

    assert await make().run_until_cancelled(compute()) == 42


async def test_run_until_cancelled_raises_canceled_when_cancellation_wins() -> None:
    ctx = make()
    interrupted = anyio.Event()

    async def forever() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            interrupted.set()

    async def cancel_soon() -> None:
        await anyio.sleep(0.01)
        ctx._request_cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_soon)
        with pytest.raises(tv.Canceled):
            await ctx.run_until_cancelled(forever())
    assert interrupted.is_set()


async def test_run_until_cancelled_gives_cancellation_the_tie() -> None:
    ctx = make()

    async def finishes_as_cancel_arrives() -> str:
        ctx._request_cancel()  # requested in the same instant the awaitable completes
        return "done"

    with pytest.raises(tv.Canceled):
        await ctx.run_until_cancelled(finishes_as_cancel_arrives())


async def test_run_until_cancelled_closes_an_awaitable_it_never_started() -> None:
    ctx = make()
    ctx._request_cancel()
    ran: list[str] = []

    async def side_effect() -> None:
        ran.append("ran")

    coro = side_effect()
    with pytest.raises(tv.Canceled):
        await ctx.run_until_cancelled(coro)
    assert ran == []
    assert coro.cr_frame is None  # closed: awaiting it now would raise, not run


async def test_a_forced_cancel_leaves_run_until_cancelled_to_the_backend() -> None:
    ctx = make()
    result: list[str] = []

    async def quick() -> str:
        ctx._request_cancel(cooperative=False)
        # Not interrupted by the ctx: a forced cancel is the backend's job.
        await anyio.lowlevel.checkpoint()
        result.append("finished")
        return "x"

    with pytest.raises(tv.Canceled):  # but cancellation still wins the tie
        await ctx.run_until_cancelled(quick())
    assert result == ["finished"]


async def test_a_removal_reaches_the_body_through_its_context() -> None:
    started = anyio.Event()
    seen: list[bool] = []

    async def worker(ctx: tv.TaskContext) -> None:
        started.set()
        try:
            await ctx.run_until_cancelled(anyio.sleep_forever())
        finally:
            seen.append(ctx.is_cancelled)

    sup = tv.Supervisor(defaults=FAST)
    async with sup.serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec(worker))
        await started.wait()
        await h.remove(tid)
        outcome = await waiter.wait()
    assert seen == [True]
    assert outcome.kind is tv.OutcomeKind.CANCELED


def test_repr_shows_identity_and_state() -> None:
    ctx = make()
    assert repr(ctx) == "TaskContext(TaskId(7), 'job', attempt=1)"
    ctx._request_cancel()
    assert repr(ctx).endswith("cancelled)")


def test_body_of_accepts_the_three_kinds_of_task() -> None:
    async def bare(ctx: tv.TaskContext) -> None: ...

    class Obj:
        name = "obj"

        async def run(self, ctx: tv.TaskContext) -> None: ...

    obj = Obj()
    assert body_of(bare) is bare
    assert body_of(tv.TaskFn("f", bare)) is bare
    assert body_of(obj) == obj.run


def _broken_taskfn() -> tv.TaskFn:
    """A ``TaskFn`` whose ``fn`` was swapped after its validation ran (``TaskFn`` refuses 42)."""

    async def fn(ctx: tv.TaskContext) -> None: ...

    task = tv.TaskFn("f", fn)
    object.__setattr__(task, "fn", 42)
    return task


@pytest.mark.parametrize(
    ("task", "field"),
    [(42, "TaskSpec.task"), (_broken_taskfn(), "TaskFn.fn")],
    ids=["not-callable", "taskfn-not-callable"],
)
def test_body_of_rejects_what_cannot_run(task: object, field: str) -> None:
    with pytest.raises(TypeError) as info:
        body_of(task)
    assert isinstance(info.value, tv.ConfigError)
    assert info.value.field == field
