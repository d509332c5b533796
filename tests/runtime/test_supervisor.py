"""``Supervisor.run``/``serve``: batch semantics, return value, shutdown timing and abandon (I7).

Runs on asyncio and trio on virtual time (``VirtualClock``, trio's ``MockClock``): time moves
only when every task waits, so shutdown timings are exact (``slack()`` is ~0) and no test
depends on how loaded the machine is. The uvloop suite re-runs some of these tests on uvloop's
real clock, where ``slack()`` is generous. The one test that needs real threads runs on the real
clock and says why.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from runtime_support import EK, FAST, VIRTUAL_BACKENDS, Recorder, slack

import taskvisor as tv

pytestmark = pytest.mark.anyio

OK = tv.OutcomeKind


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


def supervisor(rec: Recorder | None = None, **config: object) -> tv.Supervisor:
    subs = [] if rec is None else [rec]
    return tv.Supervisor(tv.SupervisorConfig(**config), subscribers=subs, defaults=FAST)  # type: ignore[arg-type]


async def test_run_returns_each_tasks_outcome_by_name() -> None:
    async def ok(ctx: tv.TaskContext) -> None:
        return None

    async def bad(ctx: tv.TaskContext) -> None:
        raise tv.Fatal("broken", exit_code=2)

    out = await supervisor().run([tv.TaskSpec.once(ok), tv.TaskSpec.once(bad)])
    assert set(out) == {"ok", "bad"}
    assert out["ok"].kind is OK.COMPLETED
    assert (out["bad"].kind, out["bad"].exit_code) == (OK.FATAL, 2)


async def test_run_of_nothing_returns_at_once() -> None:
    rec = Recorder()
    with anyio.fail_after(2):
        assert await supervisor(rec).run([]) == {}
    assert rec.supervisor_kinds() == [EK.SHUTDOWN_REQUESTED, EK.ALL_STOPPED_WITHIN_GRACE]


async def test_run_rejects_a_batch_with_a_duplicate_name_and_runs_no_body() -> None:
    rec = Recorder()
    ran: list[str] = []

    async def job(ctx: tv.TaskContext) -> None:
        ran.append(ctx.name)

    specs = [tv.TaskSpec(job, name="a"), tv.TaskSpec(job, name="b"), tv.TaskSpec(job, name="a")]
    with pytest.raises(tv.TaskAlreadyExists) as info:
        await supervisor(rec).run(specs)
    assert info.value.name == "a"
    assert ran == []
    failed = [e for e in rec.events if e.kind is EK.TASK_ADD_FAILED]
    assert len(failed) == 3  # every item of the batch
    assert EK.TASK_ADDED not in [e.kind for e in rec.events]
    # ...and everything was shut down (subscribers drained) before it raised.
    assert rec.supervisor_kinds()[-1] is EK.ALL_STOPPED_WITHIN_GRACE


async def test_run_rejects_an_item_that_is_not_a_spec_before_starting() -> None:
    async def job(ctx: tv.TaskContext) -> None: ...

    sup = supervisor()
    with pytest.raises(tv.ConfigError) as info:
        await sup.run([tv.TaskSpec(job), job])  # type: ignore[list-item]
    assert info.value.field == "specs[1]"
    assert await sup.run([]) == {}  # nothing ran: the supervisor is still usable


async def test_run_drains_every_event_to_a_slow_subscriber_before_returning() -> None:
    class Slow:
        queue_capacity = 10_000

        def __init__(self) -> None:
            self.seen: list[tv.Event] = []

        async def on_event(self, ev: tv.Event) -> None:
            await anyio.sleep(0.001)
            self.seen.append(ev)

    slow = Slow()

    async def job(ctx: tv.TaskContext) -> None:
        return None

    await tv.Supervisor(subscribers=[slow]).run(
        [tv.TaskSpec.once(job, name=f"j{i}") for i in range(10)]
    )
    assert [e.seq for e in slow.seen] == list(range(len(slow.seen)))
    assert slow.seen[-1].kind is EK.ALL_STOPPED_WITHIN_GRACE


async def test_a_subscriber_that_never_finishes_delays_shutdown_only_its_timeout() -> None:
    class Stuck:
        async def on_event(self, ev: tv.Event) -> None:
            await anyio.sleep_forever()

    async def job(ctx: tv.TaskContext) -> None:
        return None

    sup = tv.Supervisor(tv.SupervisorConfig(subscriber_shutdown_timeout=0.1), subscribers=[Stuck()])
    t0 = anyio.current_time()
    out = await sup.run([tv.TaskSpec.once(job)])
    elapsed = anyio.current_time() - t0
    assert 0.1 - 0.002 <= elapsed <= 0.1 + slack()  # 0.1 exactly on virtual time
    assert out["job"].kind is OK.COMPLETED


async def test_shutdown_takes_grace_when_some_tasks_ignore_cancellation() -> None:
    started = 0
    all_started = anyio.Event()

    async def polite(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == 4:
            all_started.set()
        await ctx.cancelled()

    async def deaf(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == 4:
            all_started.set()
        await anyio.sleep(30)

    grace = 0.1
    out: dict[str, tv.TaskOutcome] = {}
    async with supervisor(grace=grace).serve() as h:
        for name in ("p1", "p2"):
            _, w = await h.add_and_watch(tv.TaskSpec(polite, name=name))
            out[name] = w  # type: ignore[assignment]
        for name in ("d2", "d1"):
            _, w = await h.add_and_watch(tv.TaskSpec(deaf, name=name))
            out[name] = w  # type: ignore[assignment]
        await all_started.wait()
        t0 = anyio.current_time()
        with pytest.raises(tv.GraceExceeded) as info:
            await h.shutdown()
        elapsed = anyio.current_time() - t0
    # I7: exactly grace on virtual time (uvloop's real timers: 1 ms granularity).
    assert grace - 0.002 <= elapsed <= grace + slack()
    assert info.value.stuck == ("d1", "d2")  # sorted names of the forced tasks
    outcomes = {n: w.outcome.kind for n, w in out.items()}  # type: ignore[attr-defined]
    assert outcomes == {
        "p1": OK.CANCELED,
        "p2": OK.CANCELED,
        "d1": OK.FORCE_ABORTED,
        "d2": OK.FORCE_ABORTED,
    }


async def test_shutdown_of_cooperative_tasks_returns_well_within_grace() -> None:
    started = anyio.Event()

    async def polite(ctx: tv.TaskContext) -> None:
        started.set()
        await ctx.cancelled()

    async with supervisor(grace=10).serve() as h:
        await h.add(tv.TaskSpec(polite))
        await started.wait()
        t0 = anyio.current_time()
        await h.shutdown()
        assert anyio.current_time() - t0 <= slack()  # no time at all: nothing waited for grace


async def test_an_attempt_that_survives_force_is_abandoned_and_does_not_hold_run(
    anyio_backend_name: str,
) -> None:
    """asyncio: a body that swallows CancelledError; trio: a body in a shielded scope."""
    forced = anyio.Event()
    done = anyio.Event()

    async def stubborn(ctx: tv.TaskContext) -> None:
        try:
            if anyio_backend_name == "asyncio":
                try:
                    await asyncio.sleep(30)
                except asyncio.CancelledError:
                    forced.set()  # swallowed: asyncio will not cancel it again
                await asyncio.sleep(0.5)
            else:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(0.5)  # trio's cancellation cannot reach in here
                forced.set()
        finally:
            done.set()

    rec = Recorder()
    sup = supervisor(rec, grace=0.05, force_wait=0.05)

    async def shut_down_soon() -> None:
        await anyio.sleep(0.02)
        assert sup._driver is not None
        sup._driver.request_shutdown()

    t0 = anyio.current_time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(shut_down_soon)
        with pytest.raises(tv.GraceExceeded) as info:
            await sup.run([tv.TaskSpec(stubborn)])
    elapsed = anyio.current_time() - t0
    # Shutdown at 0.02, forced after grace (0.05), abandoned after force_wait (0.05): it
    # returned without waiting for the body, which runs until 0.57.
    assert 0.12 - 0.002 <= elapsed <= 0.12 + slack()
    assert not done.is_set()  # the abandoned attempt is still running...
    assert sup._driver is not None
    assert len(sup._driver.abandoned) == 1  # ...referenced, never silently leaked
    assert info.value.stuck == ("stubborn",)
    removed = rec.of("stubborn")[-1]
    assert removed.kind is EK.TASK_REMOVED
    assert removed.outcome is OK.FORCE_ABORTED
    assert removed.reason == "did not stop after forced cancellation; abandoned"
    with anyio.fail_after(2):
        await done.wait()  # it ends on its own; its late end is ignored...
        while sup._driver.abandoned:  # noqa: ASYNC110 - the driver signals nothing here
            await anyio.sleep(0.001)  # ...its record is dropped once its end is reported
    rec.check()


async def test_shutdown_with_zero_grace_forces_every_running_task_at_once() -> None:
    started = anyio.Event()

    async def polite(ctx: tv.TaskContext) -> None:
        started.set()
        await ctx.cancelled()

    async with supervisor(grace=0).serve() as h:
        await h.add(tv.TaskSpec(polite))
        await started.wait()
        with pytest.raises(tv.GraceExceeded) as info:
            await h.shutdown()
    assert info.value.stuck == ("polite",)


async def test_max_concurrent_holds_under_a_hundred_tasks() -> None:
    rec = Recorder()
    running = peak = 0

    async def job(ctx: tv.TaskContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.002)
        running -= 1

    specs = [tv.TaskSpec.once(job, name=f"j{i}") for i in range(100)]
    out = await supervisor(rec, max_concurrent=7).run(specs)
    assert peak == 7
    assert all(o.kind is OK.COMPLETED for o in out.values())
    depth = max_depth = 0
    for e in rec.events:  # I3 on the trace too
        if e.kind is EK.TASK_STARTING:
            depth += 1
            max_depth = max(max_depth, depth)
        elif e.kind in (EK.TASK_STOPPED, EK.TASK_FAILED):
            depth -= 1
    assert max_depth == 7
    rec.check()


async def test_three_hundred_short_lived_tasks_each_end_exactly_once() -> None:
    rec = Recorder()
    ends: list[tv.TaskId] = []

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1 and ctx.task_id.value % 3 == 0:
            raise tv.Fail("once")
        ends.append(ctx.task_id)

    async with supervisor(rec).serve() as h:
        waiters = []
        async with anyio.create_task_group() as tg:

            async def add(i: int) -> None:
                waiters.append(await h.add_and_watch(tv.TaskSpec.restartable(job, name=f"t{i}")))

            for i in range(300):
                tg.start_soon(add, i)
        outcomes = [await w.wait() for _, w in waiters]
        assert h.list() == []
    assert len(outcomes) == 300
    assert all(o.kind is OK.COMPLETED for o in outcomes)
    assert sorted(ends) == sorted(tid for tid, _ in waiters)  # one successful end each
    removed = [e.task_id for e in rec.events if e.kind is EK.TASK_REMOVED]
    assert sorted(removed) == sorted(tid for tid, _ in waiters)  # I1: exactly one each
    rec.check()


async def test_outcomes_arrive_while_a_subscribers_queue_overflows() -> None:
    class Tiny:
        name = "tiny"
        queue_capacity = 2

        async def on_event(self, ev: tv.Event) -> None:
            await anyio.sleep(0.01)

    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        return None

    sup = tv.Supervisor(
        tv.SupervisorConfig(subscriber_shutdown_timeout=0.05), subscribers=[Tiny(), rec]
    )
    async with sup.serve() as h:
        waiters = [await h.add_and_watch(tv.TaskSpec.once(job, name=f"j{i}")) for i in range(50)]
        for _, w in waiters:
            with anyio.fail_after(2):
                assert (await w.wait()).kind is OK.COMPLETED
    overflow = [e for e in rec.events if e.kind is EK.SUBSCRIBER_OVERFLOW]
    assert overflow
    assert all(e.task == "tiny" for e in overflow)


# Real clock: a plain on_event runs in a worker thread, and virtual time does not wait for
# threads (it would jump while one runs). No timing is measured: the subscriber is blocked
# until the ticks are done, so a supervisor that waited for it would never tick 20 times.
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_subscriber_blocked_in_its_thread_does_not_stop_a_periodic_task() -> None:
    release = threading.Event()
    calls = 0

    class Blocked:
        def on_event(self, ev: tv.Event) -> None:
            nonlocal calls
            calls += 1
            release.wait(30)  # blocks its own worker thread, never the loop

    ticks = 0
    enough = anyio.Event()

    async def tick(ctx: tv.TaskContext) -> None:
        nonlocal ticks
        ticks += 1
        if ticks == 20:
            enough.set()

    sup = tv.Supervisor(
        tv.SupervisorConfig(subscriber_shutdown_timeout=0.1), subscribers=[Blocked()]
    )
    try:
        async with sup.serve() as h:
            await h.add(tv.TaskSpec.once(tick, name="first"))  # an event to block on
            with anyio.fail_after(30):  # hang guards only: this takes milliseconds
                while calls == 0:  # noqa: ASYNC110 - set by the worker thread
                    await anyio.sleep(0.001)
                await h.add(tv.TaskSpec.periodic(tick, 0.005))
                await enough.wait()
            assert calls == 1  # still inside its first call: blocked all along
    finally:
        release.set()


def test_supervisor_rejects_bad_arguments() -> None:
    with pytest.raises(tv.ConfigError) as info:
        tv.Supervisor(config=object())  # type: ignore[arg-type]
    assert info.value.field == "Supervisor.config"
    with pytest.raises(tv.ConfigError) as info:
        tv.Supervisor(defaults=object())  # type: ignore[arg-type]
    assert info.value.field == "Supervisor.defaults"
    with pytest.raises(tv.ConfigError) as info:
        tv.Supervisor(controller=object())
    assert info.value.field == "Supervisor.controller"
    with pytest.raises(tv.ConfigError) as info:
        tv.Supervisor(subscribers="nope")  # type: ignore[arg-type]
    assert info.value.field == "Supervisor.subscribers"


async def test_a_subscriber_without_on_event_is_a_config_error_at_start() -> None:
    sup = tv.Supervisor(subscribers=[object()])
    with pytest.raises(tv.ConfigError) as info:
        await sup.run([])
    assert info.value.field == "subscribers[0].on_event"
    with pytest.raises(tv.ConfigError):  # nothing ran: still not AlreadyRunning
        async with sup.serve():
            pass
