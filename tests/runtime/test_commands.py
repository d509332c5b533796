"""Commands: stepped at once while nothing is queued, queued in order otherwise (the driver).

``add``, ``remove``, ``cancel`` and ``submit`` step the core directly when their queue holds
nothing, then yield once; a command issued while another is queued waits its turn behind it,
and the bounded queue keeps its contract (``CommandQueueFull``, ``ShuttingDown``). Runs on
asyncio and trio.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest
from runtime_support import FAST, queue_held

import taskvisor as tv
from taskvisor.fsm import AddTasks, Input, Remove, Shutdown, Submit

pytestmark = pytest.mark.anyio


def supervisor(**kw: Any) -> tv.Supervisor:
    return tv.Supervisor(tv.SupervisorConfig(**kw.pop("config", {})), defaults=FAST, **kw)


async def waits(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()


def record_queued(h: tv.SupervisorHandle) -> list[Input]:
    """Every input that goes through a queue from now on (a private peek at the driver)."""
    driver = h._driver
    queued: list[Input] = []
    enqueue = driver._enqueue

    async def recording(inp: Input, nowait: bool, intake: bool) -> None:
        queued.append(inp)
        await enqueue(inp, nowait, intake)

    driver._enqueue = recording  # type: ignore[method-assign]
    return queued


async def test_commands_step_the_core_at_once_while_nothing_is_queued() -> None:
    sup = supervisor(controller=tv.ControllerConfig(queue_capacity=1))
    async with sup.serve() as h:
        queued = record_queued(h)
        a = await h.add(tv.TaskSpec(waits, name="a"))
        b, b_waiter = await h.add_and_watch(tv.TaskSpec(waits, name="b"))
        c = await h.try_add(tv.TaskSpec(waits, name="c"))
        assert [name for _, name in h.list()] == ["a", "b", "c"]
        assert await h.remove(a) is True
        assert await h.try_remove(a) is False  # already claimed
        assert await h.cancel(b) is True
        assert (await b_waiter.wait()).kind is tv.OutcomeKind.CANCELED
        assert await h.cancel_by_name("c") is True
        assert await h.try_cancel_by_name("c") is False
        s = await h.submit(tv.ControllerSpec(tv.TaskSpec(waits, name="s")))
        assert h.is_alive("s")
        assert await h.try_submit(tv.ControllerSpec(tv.TaskSpec(waits, name="t"))) > s
        assert c > b > a
        assert queued == []  # none of them went through a queue
        await h.shutdown()
        assert queued == [Shutdown()]  # a shutdown always queues behind earlier commands


async def test_an_inline_command_still_yields_once(anyio_backend: str) -> None:
    ran: list[str] = []

    async def other() -> None:
        ran.append("other")

    async with supervisor().serve() as h:
        if anyio_backend == "trio":
            import trio.testing

            with trio.testing.assert_checkpoints():  # a checkpoint, as the actor round trip was
                await h.add(tv.TaskSpec(waits, name="a"))
            with trio.testing.assert_checkpoints():
                await h.remove_by_name("a")
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)  # runnable, not run yet
            await h.add(tv.TaskSpec(waits, name="a"))
            assert ran == ["other"]  # add yielded to the loop (asyncio's ready queue is FIFO)
            await h.remove_by_name("a")


async def test_a_cancelled_caller_steps_nothing() -> None:
    async with supervisor().serve() as h:
        with anyio.CancelScope() as scope:
            scope.cancel()
            await h.add(tv.TaskSpec(waits))
        assert scope.cancelled_caught
        assert h.list() == []


async def test_a_command_issued_while_one_is_queued_waits_its_turn() -> None:
    async with supervisor(config={"registry_queue_capacity": 4}).serve() as h:
        queued = record_queued(h)
        with queue_held(h):  # as if an earlier command were still queued
            a = await h.add(tv.TaskSpec(waits, name="a"))
            assert await h.remove_by_name("a") is True
            assert await h.cancel(a) is False  # claimed by the removal before it
        assert [type(inp) for inp in queued] == [AddTasks, Remove, Remove]
        await h.add(tv.TaskSpec(waits, name="b"))  # nothing queued: at once again
        assert len(queued) == 3


async def test_submissions_queue_only_behind_submissions() -> None:
    # The intake and the command queue are separate (docs/spec/runtime.md): a held command
    # queue does not hold back a submission, and a held intake does not hold back an add.
    sup = supervisor(controller=tv.ControllerConfig(queue_capacity=4))
    async with sup.serve() as h:
        queued = record_queued(h)
        with queue_held(h):
            await h.submit(tv.ControllerSpec(tv.TaskSpec(waits, name="s1")))
        assert queued == []
        with queue_held(h, intake=True):
            await h.add(tv.TaskSpec(waits, name="a"))
            assert queued == []
            await h.submit(tv.ControllerSpec(tv.TaskSpec(waits, name="s2")))
        assert [type(inp) for inp in queued] == [Submit]
        assert h.is_alive("s1")
        assert h.is_alive("s2")


async def test_try_forms_behind_a_held_queue_raise_command_queue_full() -> None:
    async with supervisor(config={"registry_queue_capacity": 1}).serve() as h:
        results: list[str] = []

        async def one(i: int) -> None:
            try:
                await h.try_add(tv.TaskSpec(waits, name=f"t{i}"))
                results.append("ok")
            except tv.CommandQueueFull:
                results.append("full")

        await anyio.wait_all_tasks_blocked()  # the actor waits to receive
        with queue_held(h):
            async with anyio.create_task_group() as tg:
                for i in range(3):  # one handed to the actor, one buffered, one full
                    tg.start_soon(one, i)
        assert sorted(results) == ["full", "ok", "ok"]
        await h.try_add(tv.TaskSpec(waits, name="after"))  # nothing queued: never full
        assert len(h.list()) == 3


async def test_after_the_supervisor_stopped_commands_raise_shutting_down() -> None:
    async with supervisor().serve() as h:
        tid = await h.add(tv.TaskSpec(waits))
    with pytest.raises(tv.ShuttingDown):
        await h.add(tv.TaskSpec(waits, name="late"))
    with pytest.raises(tv.ShuttingDown):
        await h.try_add(tv.TaskSpec(waits, name="later"))
    assert await h.remove(tid) is False
    assert await h.try_cancel(tid) is False


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_add_issued_behind_a_queued_shutdown_is_refused() -> None:
    # Real queueing (no private hold): shutdown() queues its Shutdown; an add issued while it
    # waits for the actor must be stepped after it (refused), not overtake it inline. On
    # asyncio the ready queue is FIFO, so the add is issued before the actor takes the
    # Shutdown; the recorded inputs show that it was queued behind it.
    async with supervisor().serve() as h:
        queued = record_queued(h)
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.shutdown)
            await anyio.lowlevel.checkpoint()  # shutdown() runs until it waits
            assert queued == [Shutdown()]
            with pytest.raises(tv.ShuttingDown):
                await h.add(tv.TaskSpec(waits, name="late"))
        assert queued[0] == Shutdown()
        assert [type(inp) for inp in queued] == [Shutdown, AddTasks]
