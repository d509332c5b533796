"""``taskvisor.testing.VirtualClock`` and ``seeded``: virtual time for asyncio users (I8)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import anyio
import pytest
from runtime_support import EK, Recorder, renumbered

import taskvisor as tv
from taskvisor.fsm import NS_PER_S
from taskvisor.runtime import Clock
from taskvisor.testing import VirtualClock, seeded

SLOW_BACKOFF = tv.BackoffPolicy(first=30.0, max=120.0, jitter=tv.JitterPolicy.EQUAL)

#: Real seconds a run of minutes or hours of virtual time may take, even on a loaded machine
#: (load 4 on 2 cores); measured ~0.02 s.
REAL_LIMIT = 5.0


async def backoff_run(clock: VirtualClock, *, as_config_clock: bool) -> list[tv.Event]:
    """A task failing three times under a 30 s (jittered) backoff, then succeeding."""
    rec = Recorder()

    async def flaky(ctx: tv.TaskContext) -> None:
        await asyncio.sleep(0.25)  # the body's own sleeps are virtual too
        if ctx.attempt <= 3:
            raise tv.Fail(f"attempt {ctx.attempt}")

    config = seeded(11, clock=clock if as_config_clock else None, grace=5.0)
    sup = tv.Supervisor(config, subscribers=[rec])
    out = await sup.run([tv.TaskSpec.restartable(flaky, backoff=SLOW_BACKOFF)])
    assert out["flaky"].kind is tv.OutcomeKind.COMPLETED
    return rec.events


def test_a_30s_backoff_run_takes_well_under_a_second_and_replays_identically() -> None:
    traces = []
    for _ in range(2):
        clock = VirtualClock()
        start = time.perf_counter()
        traces.append(clock.run(backoff_run(clock, as_config_clock=False)))
        # Wall clock on purpose: the claim is that virtual time costs no real time. The run
        # spans > 100 s; measured ~0.02 s; the bound holds on a loaded machine.
        assert time.perf_counter() - start < REAL_LIMIT
    first, second = traces
    delays = [e.delay for e in first if e.kind is EK.BACKOFF_SCHEDULED]
    assert len(delays) == 3
    assert all(15.0 <= d <= 120.0 for d in delays if d is not None)  # EQUAL jitter of >= 30 s
    starts = [e.at for e in first if e.kind is EK.TASK_STARTING]
    assert starts[-1] > 90.0  # virtual seconds went by
    assert renumbered(first) == renumbered(second)  # same seed, same script: same trace (I8)
    tv.fsm.check_trace(first)


def test_the_clock_as_supervisor_clock_gives_the_same_trace_as_the_loop_clock() -> None:
    # SupervisorConfig(clock=VirtualClock) uses the runtime's task timer and sleep_until_ns;
    # the default LoopClock uses loop.call_at. Both read the same virtual time.
    a, b = VirtualClock(), VirtualClock()
    assert renumbered(a.run(backoff_run(a, as_config_clock=True))) == renumbered(
        b.run(backoff_run(b, as_config_clock=False))
    )


def test_restarts_land_exactly_on_their_backoff_deadlines() -> None:
    clock = VirtualClock()
    events = clock.run(backoff_run(clock, as_config_clock=True))
    starts = [e.at for e in events if e.kind is EK.TASK_STARTING]
    delays = [e.delay for e in events if e.kind is EK.BACKOFF_SCHEDULED]
    for (before, after), delay in zip(itertools.pairwise(starts), delays, strict=True):
        assert after - before == pytest.approx(0.25 + (delay or 0.0), abs=1e-9)  # I4, exact


def test_sleeps_jump_to_the_next_timer_and_loop_time_is_the_clocks() -> None:
    clock = VirtualClock(start=100.0)

    async def main() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        await anyio.sleep(0.5)
        return clock.now(), loop.time(), anyio.current_time()

    start = time.perf_counter()
    assert clock.run(main()) == (3700.5, 3700.5, 3700.5)
    assert time.perf_counter() - start < REAL_LIMIT  # wall clock on purpose: see above


def test_concurrent_sleepers_wake_in_deadline_order_at_their_own_times() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        woke.append((name, clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("c", 30), sleeper("a", 10), sleeper("b", 20))

    clock.run(main())
    assert woke == [("a", 10.0), ("b", 20.0), ("c", 30.0)]


def test_sleep_until_ns_returns_at_exactly_the_nanosecond_asked() -> None:
    clock = VirtualClock()
    # 10**15 + 7 ns is not a float number of seconds: the float timer lands on the
    # nearest representable instant, and the clock still reports the integer asked for.
    deadlines = [7, 1_500_000_001, 10**15 + 7]

    async def main() -> list[int]:
        seen = []
        for deadline in deadlines:
            await clock.sleep_until_ns(deadline)
            seen.append(clock.now_ns())
        await clock.sleep_until_ns(0)  # already due: returns at once
        seen.append(clock.now_ns())
        return seen

    assert clock.run(main()) == [*deadlines, deadlines[-1]]


def test_it_implements_the_runtime_clock_protocol() -> None:
    assert isinstance(VirtualClock(), Clock)


def test_sleep_until_ns_on_a_loop_of_another_clock_is_refused() -> None:
    mine, other = VirtualClock(), VirtualClock()

    async def main() -> None:
        await mine.sleep_until_ns(5)

    with pytest.raises(RuntimeError, match="not this clock's"):
        other.run(main())
    with pytest.raises(RuntimeError, match="not this clock's"):
        asyncio.run(main())


def test_without_autojump_time_moves_only_by_advance() -> None:
    clock = VirtualClock(autojump=False)

    async def main() -> float:
        woke = asyncio.Event()

        async def sleeper() -> None:
            await asyncio.sleep(3600)
            woke.set()

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0)
        assert clock.now() == 0.0
        clock.advance(3599)
        await asyncio.sleep(0)
        assert not woke.is_set()
        clock.advance(1)
        await asyncio.wait_for(woke.wait(), timeout=None)
        await task
        return clock.now()

    start = time.perf_counter()
    assert clock.run(main()) == 3600.0
    assert time.perf_counter() - start < REAL_LIMIT  # wall clock on purpose: see above


def test_autojump_does_not_wait_for_threads_unless_given_a_threshold() -> None:
    # The documented limit: work outside the loop (a thread) is not waited for.
    def work() -> str:
        time.sleep(0.05)
        return "done"

    async def main() -> str:
        try:
            return await asyncio.wait_for(asyncio.to_thread(work), timeout=100)
        except TimeoutError:
            return "timed out"

    assert VirtualClock().run(main()) == "timed out"
    assert VirtualClock(autojump_threshold=5.0).run(main()) == "done"


def test_a_loop_factory_for_anyio() -> None:
    clock = VirtualClock()

    async def main() -> float:
        await anyio.sleep(42)
        return anyio.current_time()

    options: dict[str, Any] = {"loop_factory": clock.new_event_loop}
    assert anyio.run(main, backend="asyncio", backend_options=options) == 42.0
    assert clock.now() == 42.0  # a clock's time goes on across its loops


def test_io_from_another_thread_wakes_an_idle_loop_without_waiting() -> None:
    clock = VirtualClock()

    async def main() -> float:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[float] = loop.create_future()
        threading.Timer(0.01, loop.call_soon_threadsafe, (fut.set_result, 1.0)).start()
        return await fut  # nothing scheduled: the loop waits for real (no timer to jump to)

    assert clock.run(main()) == 1.0
    assert clock.now() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": -1.0}, "start"),
        ({"start": float("nan")}, "start"),
        ({"autojump_threshold": -0.1}, "autojump_threshold"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VirtualClock(**kwargs)


def test_advance_refuses_to_go_backwards() -> None:
    clock = VirtualClock(start=5.0)
    with pytest.raises(ValueError, match="advance"):
        clock.advance(-1.0)
    clock.advance(0)
    assert clock.now_ns() == 5 * NS_PER_S
    assert "now=5.0" in repr(clock)


def test_seeded_builds_a_config_with_the_seed_the_clock_and_other_fields() -> None:
    clock = VirtualClock()
    config = seeded(3, clock=clock, grace=2.5, max_concurrent=4)
    assert (config.seed, config.clock, config.grace, config.max_concurrent) == (3, clock, 2.5, 4)
    assert config.make_random().random() == seeded(3).make_random().random()
    assert seeded(3).clock is None  # the loop's clock: virtual on a VirtualClock loop
    with pytest.raises(tv.ConfigError, match=r"SupervisorConfig\.seed"):
        seeded("x")  # type: ignore[arg-type]
