"""The crash-loop controls of docs/spec/api.md section 8 through the real runtime, on virtual time.

Every scenario runs on asyncio (``taskvisor.testing.VirtualClock``) and on trio (``MockClock``
with autojump): a day-long connection or a minute of crash loop takes milliseconds, and the
times in events are exact. The core's decisions are checked in
tests/fsm/test_crash_loop_controls.py; here the whole path is: exceptions become inputs,
escalations become errors from ``run()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import pytest
from runtime_support import EK, Recorder

import taskvisor as tv
from taskvisor.testing import VirtualClock

OK = tv.OutcomeKind
T = TypeVar("T")
DAY = 86_400.0


def run_virtual(backend: str, main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main`` on ``backend`` with a virtual clock that jumps ahead whenever idle."""
    if backend == "asyncio":
        return VirtualClock().run(main())
    import trio
    from trio.testing import MockClock

    return trio.run(main, clock=MockClock(autojump_threshold=0))


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def connection(lifetime: float, *, days: int | None = None) -> Callable[[tv.TaskContext], Any]:
    """A connection keeper that drops after ``lifetime`` seconds (for ``days`` attempts)."""

    async def conn(ctx: tv.TaskContext) -> None:
        await anyio.sleep(lifetime)
        if days is not None and ctx.attempt > days:
            return  # the test's horizon: a clean stop ends the run
        raise ConnectionResetError("peer went away")

    return conn


# -- healthy-run reset ----------------------------------------------------------------------------


def test_a_connection_that_drops_once_a_day_lives_30_days_under_the_defaults(backend: str) -> None:
    rec = Recorder()

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(tv.TaskFn("conn", connection(DAY, days=30)), max_retries=3)
        return await tv.Supervisor(tv.SupervisorConfig(seed=1), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["conn"]
    assert outcome.kind is OK.COMPLETED  # never exhausted: every drop starts a new streak
    assert outcome.attempts == 31
    delays = [e.delay for e in rec.of("conn") if e.kind is EK.BACKOFF_SCHEDULED]
    assert len(delays) == 30
    # Each failure is retry 0 of a fresh streak: EQUAL jitter of the default first=0.2 s.
    assert all(d is not None and 0.1 <= d <= 0.2 for d in delays)
    assert rec.of("conn")[-1].at > 30 * DAY
    rec.check()


def test_without_reset_after_the_same_connection_dies_on_day_4_as_before(backend: str) -> None:
    rec = Recorder()

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(
            tv.TaskFn("conn", connection(DAY, days=30)), max_retries=3, reset_after=None
        )
        return await tv.Supervisor(tv.SupervisorConfig(seed=1), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["conn"]
    assert outcome.kind is OK.FAILED
    assert "retry limit (3) reached" in outcome.reason
    assert outcome.attempts == 4
    assert 3 * DAY < rec.of("conn")[-1].at < 4.1 * DAY
    delays = [e.delay for e in rec.of("conn") if e.kind is EK.BACKOFF_SCHEDULED]
    assert len(delays) == 3
    assert delays[2] is not None
    assert delays[2] >= 0.4


# -- restart intensity ----------------------------------------------------------------------------


async def always_fails(ctx: tv.TaskContext) -> None:
    await anyio.sleep(0.5)
    raise tv.Fail(f"attempt {ctx.attempt}")


def test_a_task_over_its_restart_intensity_ends_failed(backend: str) -> None:
    rec = Recorder()

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(
            always_fails,
            intensity=tv.Intensity(3, 60.0),
            backoff=tv.BackoffPolicy.constant(1.0),
        )
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["always_fails"]
    assert outcome.kind is OK.FAILED
    assert "restart intensity" in outcome.reason
    assert outcome.attempts == 4  # three restarts allowed in the window, the fourth is not
    assert [e.kind for e in rec.of("always_fails")][-2:] == [EK.ACTOR_EXHAUSTED, EK.TASK_REMOVED]


def test_restarts_that_left_the_window_no_longer_count(backend: str) -> None:
    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(
            always_fails,
            intensity=tv.Intensity(2, 3.0),
            backoff=tv.BackoffPolicy.constant(1.0),  # a failure every 1.5 s: <= 2 in any 3 s
            max_retries=10,
        )
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).run([spec])

    outcome = run_virtual(backend, main)["always_fails"]
    assert "retry limit (10)" in outcome.reason  # the window never filled up


def test_periodic_restarts_after_success_never_count(backend: str) -> None:
    async def tick(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.1)
        if ctx.attempt == 12:
            raise tv.Fatal("done")

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.periodic(tick, 1.0, intensity=tv.Intensity(0, 60.0))
        config = tv.SupervisorConfig(intensity=tv.Intensity(0, 60.0))
        return await tv.Supervisor(config, subscribers=[]).run([spec])

    outcome = run_virtual(backend, main)["tick"]
    assert outcome.kind is OK.FATAL
    assert outcome.attempts == 12


def test_the_supervisors_intensity_shuts_everything_down_and_raises(backend: str) -> None:
    rec = Recorder()
    stopped: list[str] = []

    async def bystander(ctx: tv.TaskContext) -> None:
        try:
            await ctx.cancelled()
        finally:
            stopped.append(ctx.name)

    async def main() -> None:
        config = tv.SupervisorConfig(intensity=tv.Intensity(3, 10.0))
        flaky = tv.TaskSpec.restartable(always_fails, backoff=tv.BackoffPolicy.constant(0.5))
        await tv.Supervisor(config, subscribers=[rec]).run([flaky, tv.TaskSpec(bystander)])

    with pytest.raises(tv.RestartIntensityExceeded) as info:
        run_virtual(backend, main)
    assert (info.value.max_restarts, info.value.within) == (3, 10.0)
    assert stopped == ["bystander"]  # shut down gracefully: its finally ran
    shutdowns = [e for e in rec.events if e.kind is EK.SHUTDOWN_REQUESTED]
    assert len(shutdowns) == 1  # exactly once (I10)
    assert shutdowns[0].reason is not None
    assert "restart intensity" in shutdowns[0].reason
    removed = {e.task: e.outcome for e in rec.events if e.kind is EK.TASK_REMOVED}
    assert removed == {"always_fails": OK.FAILED, "bystander": OK.CANCELED}
    assert sum(1 for e in rec.of("always_fails") if e.kind is EK.TASK_STARTING) == 4
    rec.check()


# -- critical tasks -------------------------------------------------------------------------------


def test_a_critical_task_that_dies_takes_the_supervisor_down(backend: str) -> None:
    stopped: list[str] = []

    async def database(ctx: tv.TaskContext) -> None:
        await anyio.sleep(2.0)
        raise tv.Fatal("schema mismatch", exit_code=3)

    async def worker(ctx: tv.TaskContext) -> None:
        try:
            await ctx.cancelled()
        finally:
            stopped.append(ctx.name)

    async def main() -> None:
        specs = [tv.TaskSpec(database, critical=True), tv.TaskSpec(worker)]
        await tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).run(specs)

    with pytest.raises(tv.CriticalTaskFailed) as info:
        run_virtual(backend, main)
    assert info.value.name == "database"
    assert info.value.outcome.kind is OK.FATAL
    assert info.value.outcome.exit_code == 3
    assert stopped == ["worker"]


def test_leaving_serve_raises_after_a_critical_failure_and_the_body_is_cancelled(
    backend: str,
) -> None:
    async def database(ctx: tv.TaskContext) -> None:
        await anyio.sleep(1.0)
        raise tv.Fail("gone")

    reached: list[str] = []

    async def main() -> None:
        async with tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).serve() as h:
            await h.add(tv.TaskSpec.once(database, critical=True))
            await anyio.sleep(3600)  # a service's main loop: cancelled by the escalation
            reached.append("after sleep")

    with pytest.raises(tv.CriticalTaskFailed, match="database"):
        run_virtual(backend, main)
    assert reached == []


@pytest.mark.parametrize("end", ["return", "cancel"])
def test_a_critical_task_that_completes_or_is_canceled_never_escalates(
    backend: str, end: str
) -> None:
    async def job(ctx: tv.TaskContext) -> None:
        await anyio.sleep(1.0)

    async def main() -> None:
        async with tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).serve() as h:
            tid, waiter = await h.add_and_watch(tv.TaskSpec.once(job, critical=True))
            if end == "cancel":
                await h.cancel(tid)
            outcome = await waiter.wait()
            assert outcome.kind is (OK.COMPLETED if end == "return" else OK.CANCELED)

    run_virtual(backend, main)  # no error


# -- which failures retry -------------------------------------------------------------------------


def test_an_exception_outside_retry_on_is_fatal_and_fail_still_retries(backend: str) -> None:
    rec = Recorder()

    async def config_reader(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            raise tv.Fail("not yet")  # Fail always retries
        if ctx.attempt == 2:
            raise ConnectionError("flaky network")  # inside retry_on
        raise ValueError("bad config")  # outside: permanent

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(
            config_reader, retry_on=(ConnectionError,), backoff=tv.BackoffPolicy.constant(1.0)
        )
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["config_reader"]
    assert outcome.kind is OK.FATAL
    assert outcome.attempts == 3
    assert "ValueError" in outcome.reason
    assert "retry_on" in outcome.reason
    assert isinstance(outcome.error, ValueError)
    assert [e.kind for e in rec.of("config_reader")][-3:] == [
        EK.TASK_FAILED,
        EK.ACTOR_DEAD,
        EK.TASK_REMOVED,
    ]


# -- giving up ------------------------------------------------------------------------------------


def test_give_up_after_ends_a_streak_that_lasted_too_long(backend: str) -> None:
    rec = Recorder()

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(
            always_fails, give_up_after=10.0, backoff=tv.BackoffPolicy.constant(2.0)
        )
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["always_fails"]
    assert outcome.kind is OK.FAILED
    assert "gave up after 10s" in outcome.reason
    # Failures at 0.5, 3, 5.5, 8, 10.5 (exactly 10 s in: retried), then 13: 12.5 s > 10 s.
    assert outcome.attempts == 6
    assert rec.of("always_fails")[-1].at == pytest.approx(13.0)


# -- the watchdog ---------------------------------------------------------------------------------


def test_a_task_that_stops_beating_is_ended_like_a_timeout_and_restarted(backend: str) -> None:
    rec = Recorder()

    async def poller(ctx: tv.TaskContext) -> None:
        for _ in range(3):
            await anyio.sleep(1.0)
            ctx.heartbeat()
        if ctx.attempt == 1:
            await anyio.sleep(3600)  # hangs without dying
        # the second attempt finishes its work

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.restartable(poller, watchdog=5.0, backoff=tv.BackoffPolicy.constant(1.0))
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[rec]).run([spec])

    outcome = run_virtual(backend, main)["poller"]
    assert outcome.kind is OK.COMPLETED
    assert outcome.attempts == 2
    hits = [e for e in rec.of("poller") if e.kind is EK.TIMEOUT_HIT]
    assert len(hits) == 1
    assert hits[0].reason == "watchdog: no heartbeat for 5s"
    assert hits[0].at == pytest.approx(8.0)  # last beat at 3 s + 5 s
    failed = [e for e in rec.of("poller") if e.kind is EK.TASK_FAILED]
    assert failed[0].reason == "watchdog: no heartbeat for 5s"
    rec.check()


def test_a_task_that_keeps_beating_is_never_stopped(backend: str) -> None:
    async def busy(ctx: tv.TaskContext) -> None:
        for _ in range(10_000):  # a hot loop: heartbeats are coalesced
            ctx.heartbeat()
            await anyio.sleep(0.01)

    async def main() -> dict[str, tv.TaskOutcome]:
        spec = tv.TaskSpec.once(busy, watchdog=0.5)
        return await tv.Supervisor(tv.SupervisorConfig(), subscribers=[]).run([spec])

    outcome = run_virtual(backend, main)["busy"]
    assert outcome.kind is OK.COMPLETED
