"""The driver: one timer for the core's next deadline, monotone time, and failing loudly.

Runs on asyncio and trio on virtual time (``VirtualClock``, trio's ``MockClock``): sleeps and grace
periods take no real time and nothing depends on the machine's load (the one test that needs a busy
loop says why it runs on the real clock), or with a test clock the test moves by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from runtime_support import EK, VIRTUAL_BACKENDS, Recorder

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import _stepper as fsm_stepper
from taskvisor.runtime import LoopClock

pytestmark = pytest.mark.anyio


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual time on both backends (a fresh clock per test): see runtime_support."""
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


OK = tv.OutcomeKind
MS = 1_000_000


class ManualClock:
    """A clock the test moves by hand; each sleep returns when the test releases it."""

    def __init__(self) -> None:
        self.now = 0
        self.sleeps: list[tuple[int, anyio.Event]] = []

    def now_ns(self) -> int:
        return self.now

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        wake = anyio.Event()
        self.sleeps.append((deadline_ns, wake))
        await wake.wait()

    async def sleeping(self, count: int) -> tuple[int, anyio.Event]:
        with anyio.fail_after(5):
            while len(self.sleeps) < count:
                await anyio.lowlevel.checkpoint()
        return self.sleeps[count - 1]


async def test_an_early_wake_up_never_runs_the_core_before_its_deadline() -> None:
    rec = Recorder()
    clock = ManualClock()

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            raise tv.Fail("once")

    async with tv.Supervisor(tv.SupervisorConfig(clock=clock), subscribers=[rec]).serve() as h:
        spec = tv.TaskSpec.restartable(job, backoff=tv.BackoffPolicy.constant(0.05))
        _, waiter = await h.add_and_watch(spec)
        deadline, wake = await clock.sleeping(1)
        assert deadline == 50 * MS
        clock.now = deadline - 3 * MS  # the timer wakes 3 ms early by its clock
        wake.set()
        with anyio.fail_after(5):
            assert (await waiter.wait()).kind is OK.COMPLETED
    backoff = next(e for e in rec.of("job") if e.kind is EK.BACKOFF_SCHEDULED)
    second = [e for e in rec.of("job") if e.kind is EK.TASK_STARTING][1]
    # The core saw exactly its deadline (aioquic: now = max(deadline, clock)), not the early
    # clock reading; the timer did not go back to sleep for a deadline it had reached.
    assert (backoff.at, second.at) == (0.0, 0.05)
    assert [d for d, _ in clock.sleeps] == [deadline]
    assert rec.events[-1].at == 0.05  # and the core's time never went back afterwards


# Real clock: a zero-backoff crash loop keeps the loop busy all the time, and virtual time only
# moves when the loop is idle, so the worker's sleeps would never end. Nothing here measures
# time: fail_after is a hang guard.
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_zero_backoff_crash_loop_does_not_starve_other_tasks() -> None:
    crashes = 0

    async def crasher(ctx: tv.TaskContext) -> None:
        nonlocal crashes
        crashes += 1
        raise tv.Fail("again")

    async def worker(ctx: tv.TaskContext) -> None:
        for _ in range(20):
            await anyio.sleep(0.001)

    async with tv.Supervisor().serve() as h:
        await h.add(tv.TaskSpec.restartable(crasher, backoff=tv.BackoffPolicy.constant(0)))
        _, waiter = await h.add_and_watch(tv.TaskSpec.once(worker))
        with anyio.fail_after(30):
            assert (await waiter.wait()).kind is OK.COMPLETED
        assert crashes > 20  # the crash loop ran meanwhile, at full speed
        assert h.is_alive("crasher")


async def test_the_timer_re_arms_for_an_earlier_deadline() -> None:
    failed = anyio.Event()

    async def slow_retry(ctx: tv.TaskContext) -> None:
        failed.set()
        raise tv.Fail("retry in a minute")

    async def hangs(ctx: tv.TaskContext) -> None:
        await anyio.sleep_forever()

    async with tv.Supervisor(tv.SupervisorConfig(grace=0)).serve() as h:
        await h.add(tv.TaskSpec.restartable(slow_retry, backoff=tv.BackoffPolicy.constant(60)))
        await failed.wait()  # the timer now sleeps for a deadline a minute away
        _, waiter = await h.add_and_watch(tv.TaskSpec.once(hangs, timeout=0.05))
        with anyio.fail_after(2):
            outcome = await waiter.wait()
        assert outcome.kind is OK.FAILED
        assert outcome.reason == "timed out after 0.05s"


async def test_the_cores_time_never_goes_backwards_even_if_the_clock_does() -> None:
    class Jumpy:
        def __init__(self) -> None:
            self.inner = LoopClock()
            self.calls = 0

        def now_ns(self) -> int:
            self.calls += 1
            back = 10**9 if self.calls % 2 else 0  # every other reading is a second behind
            return self.inner.now_ns() - back

        async def sleep_until_ns(self, deadline_ns: int) -> None:
            await self.inner.sleep_until_ns(deadline_ns)

    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt < 4:
            raise tv.Fail("x")

    sup = tv.Supervisor(tv.SupervisorConfig(clock=Jumpy()), subscribers=[rec])
    await sup.run([tv.TaskSpec.restartable(job, backoff=tv.BackoffPolicy.constant(0.001))])
    ats = [e.at for e in rec.events]
    assert ats == sorted(ats)


async def test_a_bug_in_the_core_stops_everything_and_surfaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_step = fsm_stepper.step

    def broken_step(state: fsm.SupervisorState, inp: fsm.Input, now: int, rng: object):  # type: ignore[no-untyped-def]
        if isinstance(inp, fsm.Remove):
            raise RuntimeError("injected core bug")
        return real_step(state, inp, now, rng)  # type: ignore[arg-type]

    monkeypatch.setattr(fsm_stepper, "step", broken_step)
    started = anyio.Event()
    interrupted = anyio.Event()

    async def job(ctx: tv.TaskContext) -> None:
        started.set()
        try:
            await anyio.sleep(30)
        finally:
            interrupted.set()

    rec = Recorder()

    async def serve() -> None:
        async with tv.Supervisor(subscribers=[rec]).serve() as h:
            tid, waiter = await h.add_and_watch(tv.TaskSpec(job))
            await started.wait()
            try:
                await h.remove(tid)
            finally:
                with pytest.raises(RuntimeError):
                    await waiter.wait()  # waiters are woken with the failure, not left hanging

    with anyio.fail_after(5), pytest.raises(RuntimeError, match="injected core bug"):
        await serve()
    with anyio.fail_after(2):
        await interrupted.wait()  # the running attempt was force-cancelled
    # RUNTIME_FAILURE was published before serve() raised (docs/spec/api.md section 5).
    failures = [e for e in rec.events if e.kind is EK.RUNTIME_FAILURE]
    assert [e.reason for e in failures] == ["RuntimeError: injected core bug"]
    assert failures[0].seq == max(e.seq for e in rec.events)
