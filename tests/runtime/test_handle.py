"""``SupervisorHandle`` and ``TaskWaiter``: commands, replies, races, bounds (docs/spec/api.md 4).

Runs on asyncio and trio on virtual time (``VirtualClock``, trio's ``MockClock``): sleeps and grace
periods take no real time and nothing depends on the machine's load. Races use real concurrency on
the loop (many tasks issuing commands in the same instant); the core's single chokepoint must give
exactly one winner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from runtime_support import EK, FAST, VIRTUAL_BACKENDS, Recorder, queue_held

import taskvisor as tv

pytestmark = pytest.mark.anyio


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual time on both backends (a fresh clock per test): see runtime_support."""
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


OK = tv.OutcomeKind


def supervisor(rec: Recorder | None = None, **config: object) -> tv.Supervisor:
    subs = [] if rec is None else [rec]
    return tv.Supervisor(tv.SupervisorConfig(**config), subscribers=subs, defaults=FAST)  # type: ignore[arg-type]


async def waits(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()


async def deaf(ctx: tv.TaskContext) -> None:
    await anyio.sleep(30)


async def test_list_is_sorted_by_id_and_is_alive_follows_it() -> None:
    async with supervisor().serve() as h:
        b = await h.add(tv.TaskSpec(waits, name="b"))
        a = await h.add(tv.TaskSpec(waits, name="a"))
        assert b < a
        assert h.list() == [(b, "b"), (a, "a")]
        assert h.is_alive("a")
        assert h.is_alive("b")
        assert not h.is_alive("c")
        await h.cancel(b)
        assert h.list() == [(a, "a")]
        assert not h.is_alive("b")
    assert h.list() == []


@pytest.mark.parametrize("method", ["remove", "try_remove", "cancel", "try_cancel"])
@pytest.mark.parametrize("value", ["x", 5])
async def test_remove_and_cancel_refuse_what_is_not_a_task_id(method: str, value: object) -> None:
    async with supervisor().serve() as h:
        await h.add(tv.TaskSpec(waits, name="x"))
        with pytest.raises(TypeError, match=rf"^{method}\(\) takes a TaskId"):
            await getattr(h, method)(value)
        assert h.is_alive("x")


async def test_task_ids_are_never_reused_and_names_are_after_removal() -> None:
    async with supervisor().serve() as h:
        first = await h.add(tv.TaskSpec(waits, name="x"))
        with pytest.raises(tv.TaskAlreadyExists):
            await h.add(tv.TaskSpec(waits, name="x"))
        assert await h.cancel_by_name("x") is True
        second = await h.add(tv.TaskSpec(waits, name="x"))
        assert second > first
        assert h.list() == [(second, "x")]


async def test_sixty_four_concurrent_adds_of_one_name_have_exactly_one_winner() -> None:
    rec = Recorder()
    won: list[tv.TaskId] = []
    lost: list[tv.TaskAlreadyExists] = []

    async with supervisor(rec).serve() as h:

        async def add() -> None:
            try:
                won.append(await h.add(tv.TaskSpec(waits, name="only")))
            except tv.TaskAlreadyExists as exc:
                lost.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(64):
                tg.start_soon(add)
        assert len(won) == 1
        assert len(lost) == 63
        assert h.list() == [(won[0], "only")]
    kinds = [e.kind for e in rec.events]
    assert kinds.count(EK.TASK_ADD_REQUESTED) == 64
    assert kinds.count(EK.TASK_ADDED) == 1
    assert kinds.count(EK.TASK_ADD_FAILED) == 63
    rec.check()


async def test_exactly_one_of_many_concurrent_cancels_claims_the_task() -> None:
    claims: list[bool] = []
    async with supervisor().serve() as h:
        tid = await h.add(tv.TaskSpec(waits))

        async def cancel() -> None:
            claims.append(await h.cancel(tid))
            assert h.list() == []  # every caller returns only once the task is gone

        async with anyio.create_task_group() as tg:
            for _ in range(16):
                tg.start_soon(cancel)
    assert sorted(claims) == [False] * 15 + [True]


async def test_remove_of_an_unknown_task_claims_nothing() -> None:
    async with supervisor().serve() as h:
        assert await h.remove(tv.TaskId(10**12)) is False
        assert await h.remove_by_name("ghost") is False
        assert await h.cancel_by_name("ghost") is False
        assert await h.cancel(tv.TaskId(10**12), timeout=0.1) is False


async def test_cancel_waits_until_the_task_is_gone() -> None:
    stopping = anyio.Event()

    async def slow_to_stop(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()
        stopping.set()
        await anyio.sleep(0.05)  # cleanup

    async with supervisor().serve() as h:
        tid = await h.add(tv.TaskSpec(slow_to_stop))
        assert await h.cancel(tid) is True
        assert stopping.is_set()
        assert h.list() == []


async def test_cancel_with_a_timeout_raises_when_the_task_outlives_it() -> None:
    async with supervisor(grace=0.2).serve() as h:
        tid = await h.add(tv.TaskSpec(deaf))
        with pytest.raises(tv.TaskTerminationTimeout) as info:
            await h.cancel(tid, timeout=0.02)
        assert (info.value.task_id, info.value.timeout) == (tid, 0.02)
        assert h.list() == [(tid, "deaf")]  # still stopping: removal goes on
        with pytest.raises(tv.GraceExceeded):
            await h.shutdown()


async def test_add_and_watch_delivers_the_outcome_of_a_task_that_ends_at_once() -> None:
    async def instant(ctx: tv.TaskContext) -> None:
        return None

    async with supervisor().serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec.once(instant))
        assert waiter.task_id == tid
        outcome = await waiter.wait()
        assert outcome.kind is OK.COMPLETED
        assert waiter.outcome == outcome
        assert tid not in [t for t, _ in h.list()]  # delivered after it left list()


async def test_outcome_is_delivered_after_the_task_left_the_list() -> None:
    async def fails(ctx: tv.TaskContext) -> None:
        raise tv.Fatal("no")

    async with supervisor().serve() as h:
        _, waiter = await h.add_and_watch(tv.TaskSpec(fails))
        outcome = await waiter.wait()
        assert h.list() == []
        assert not h.is_alive("fails")
        assert outcome.kind is OK.FATAL


async def test_try_forms_raise_command_queue_full_instead_of_waiting() -> None:
    full = 0
    ok = 0
    async with supervisor(registry_queue_capacity=1).serve() as h:

        async def try_add(i: int) -> None:
            nonlocal full, ok
            try:
                await h.try_add(tv.TaskSpec(waits, name=f"t{i}"))
                ok += 1
            except tv.CommandQueueFull:
                full += 1

        with queue_held(h):  # commands queue up instead of stepping the core at once
            async with anyio.create_task_group() as tg:
                for i in range(20):  # all issued before the command actor gets a turn
                    tg.start_soon(try_add, i)
            assert full >= 1
            assert ok >= 1
            assert full + ok == 20
            assert len(h.list()) == ok
            # The waiting forms queue up instead: all 20 get in.
            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(h.add, tv.TaskSpec(waits, name=f"w{i}"))
            assert len(h.list()) == ok + 20


async def test_try_forms_never_find_the_queue_full_while_nothing_is_queued() -> None:
    # With nothing queued each command steps the core at once: a burst of try_add never
    # waits for, nor fills, the bounded queue.
    async with supervisor(registry_queue_capacity=1).serve() as h:
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(h.try_add, tv.TaskSpec(waits, name=f"t{i}"))
        assert len(h.list()) == 20


async def test_every_try_form_reports_a_full_queue() -> None:
    async with supervisor(registry_queue_capacity=1).serve() as h:
        tid = await h.add(tv.TaskSpec(waits))
        calls = [
            lambda: h.try_add(tv.TaskSpec(waits, name="n")),
            lambda: h.try_add_and_watch(tv.TaskSpec(waits, name="m")),
            lambda: h.try_remove(tid),
            lambda: h.try_remove_by_name("waits"),
            lambda: h.try_cancel(tid),
            lambda: h.try_cancel_by_name("waits"),
        ]
        for call in calls:
            outcome: list[str] = []

            async def one(call: object = call, outcome: list[str] = outcome) -> None:
                try:
                    await call()  # type: ignore[operator]
                    outcome.append("ok")
                except tv.CommandQueueFull:
                    outcome.append("full")
                except tv.TaskAlreadyExists:
                    outcome.append("ok")  # got in (a duplicate name: still a reply)

            with queue_held(h):
                async with anyio.create_task_group() as tg:
                    for _ in range(3):  # one handed to the actor, one buffered, one finds it full
                        tg.start_soon(one)
            assert "full" in outcome


async def test_add_during_and_after_shutdown_raises_shutting_down() -> None:
    rec = Recorder()
    async with supervisor(rec, grace=0.2).serve() as h:
        await h.add(tv.TaskSpec(deaf))
        async with anyio.create_task_group() as tg:
            tg.start_soon(h.shutdown)  # raises GraceExceeded later; checked below
            await anyio.sleep(0.01)
            with pytest.raises(tv.ShuttingDown):
                await h.add(tv.TaskSpec(waits, name="late"))
            tg.cancel_scope.cancel()
        with pytest.raises(tv.GraceExceeded):
            await h.shutdown()
        with pytest.raises(tv.ShuttingDown):
            await h.add(tv.TaskSpec(waits, name="later"))
        assert await h.remove_by_name("deaf") is False
    with pytest.raises(tv.ShuttingDown):
        await h.add_and_watch(tv.TaskSpec(waits, name="after"))
    late = [e for e in rec.events if e.task == "late"]
    assert [e.kind for e in late] == [EK.TASK_ADD_REQUESTED, EK.TASK_ADD_FAILED]
    assert late[-1].rejection is tv.RejectionKind.SHUTTING_DOWN


async def test_concurrent_shutdowns_share_one_result() -> None:
    results: list[object] = []
    async with supervisor(grace=0.05).serve() as h:
        await h.add(tv.TaskSpec(deaf))
        await h.add(tv.TaskSpec(waits))

        async def shut() -> None:
            try:
                await h.shutdown()
                results.append(None)
            except tv.GraceExceeded as exc:
                results.append(exc.stuck)

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(shut)
    assert results == [("deaf",)] * 5


async def test_leaving_serve_after_a_reported_grace_exceeded_does_not_raise_again() -> None:
    async with supervisor(grace=0).serve() as h:
        await h.add(tv.TaskSpec(deaf))
        with pytest.raises(tv.GraceExceeded):
            await h.shutdown()


async def test_leaving_serve_raises_grace_exceeded_when_tasks_were_forced() -> None:
    async def serve_a_deaf_task() -> None:
        async with supervisor(grace=0.01).serve() as h:
            await h.add(tv.TaskSpec(deaf))
            await anyio.sleep(0.01)

    with pytest.raises(tv.GraceExceeded) as info:
        await serve_a_deaf_task()
    assert info.value.stuck == ("deaf",)
    assert info.value.grace == 0.01


async def test_a_supervisor_runs_once() -> None:
    sup = supervisor()
    async with sup.serve():
        pass
    with pytest.raises(tv.AlreadyRunning):
        await sup.run([])
    with pytest.raises(tv.AlreadyRunning):
        async with sup.serve():
            pass


async def test_submit_without_a_controller_raises() -> None:
    async with supervisor().serve() as h:
        with pytest.raises(tv.ControllerNotConfigured):
            await h.submit(object())
        with pytest.raises(tv.ControllerNotConfigured):
            await h.submit_and_watch(object())
        with pytest.raises(tv.ControllerNotConfigured):
            h.controller_snapshot()


async def test_add_rejects_what_is_not_a_task_spec() -> None:
    async def job(ctx: tv.TaskContext) -> None: ...

    async with supervisor().serve() as h:
        with pytest.raises(tv.ConfigError) as info:
            await h.add(job)  # type: ignore[arg-type]
        assert info.value.field == "spec"
        with pytest.raises(tv.ConfigError) as info:
            await h.add(tv.TaskSpec(object(), name="bad"))
        assert info.value.field == "TaskSpec.task"
        with pytest.raises(tv.ConfigError) as info:
            await h.cancel(tv.TaskId(1), timeout=-1)
        assert info.value.field == "cancel.timeout"
        assert h.list() == []


async def test_the_body_of_serve_sees_its_own_error_after_the_shutdown() -> None:
    stopped = anyio.Event()

    async def polite(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()
        stopped.set()

    async def serve_and_fail() -> None:
        async with supervisor().serve() as h:
            await h.add(tv.TaskSpec(polite))
            await anyio.sleep(0.01)
            raise LookupError("from the body")

    with pytest.raises(LookupError):
        await serve_and_fail()
    assert stopped.is_set()


async def test_cancelling_the_code_around_serve_still_shuts_down_gracefully() -> None:
    stopped = anyio.Event()
    rec = Recorder()

    async def polite(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()
        await anyio.sleep(0.01)  # cleanup that needs the loop
        stopped.set()

    with anyio.move_on_after(0.05) as scope:
        async with supervisor(rec).serve() as h:
            await h.add(tv.TaskSpec(polite))
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    assert stopped.is_set()
    assert rec.supervisor_kinds() == [EK.SHUTDOWN_REQUESTED, EK.ALL_STOPPED_WITHIN_GRACE]


async def test_the_bodys_error_wins_over_grace_exceeded_and_notes_it() -> None:
    async def serve_and_fail() -> None:
        async with supervisor(grace=0).serve() as h:
            await h.add(tv.TaskSpec(deaf))
            await anyio.sleep(0.01)
            raise LookupError("from the body")

    with pytest.raises(LookupError) as info:
        await serve_and_fail()
    assert info.value.__notes__ == [
        "taskvisor: the shutdown that followed force-cancelled ('deaf',)"
    ]
