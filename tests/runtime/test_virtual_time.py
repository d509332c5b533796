"""The runtime on virtual time: determinism (I8) and exact timing (I4, I7).

trio's ``MockClock(autojump_threshold=0)`` passed through anyio makes ``anyio.current_time()``
virtual, and with it the supervisor's default clock: sleeps, backoffs, timeouts and grace all
run instantly, and the times events carry are exact.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import pytest
from runtime_support import EK, Recorder, renumbered, virtual_trio

import taskvisor as tv

OK = tv.OutcomeKind


async def scenario(seed: int) -> list[tv.Event]:
    """Several tasks with jittered backoffs, a periodic one, a timeout and a removal.

    No two inputs fall on the same virtual instant: trio shuffles the order of tasks woken
    together, so ties would make the *input script* itself differ between runs.
    """
    rec = Recorder()

    async def flaky(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.013 * ctx.attempt)
        if ctx.attempt <= 3:
            raise tv.Fail(f"flaky {ctx.attempt}")

    async def ticker(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.011)
        if ctx.attempt == 5:
            raise tv.Fatal("enough")

    async def slow(ctx: tv.TaskContext) -> None:
        await anyio.sleep(1)

    async def doomed(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.017 if ctx.name == "doomed" else 0.019)
        raise ValueError(f"attempt {ctx.attempt}")

    async def deaf(ctx: tv.TaskContext) -> None:
        await anyio.sleep(100)

    full = tv.BackoffPolicy(first=0.05, max=1.0, jitter=tv.JitterPolicy.FULL)
    decorrelated = tv.BackoffPolicy(first=0.03, max=0.5, jitter=tv.JitterPolicy.DECORRELATED)
    config = tv.SupervisorConfig(seed=seed, grace=0.25, force_wait=0.1)
    async with tv.Supervisor(config, subscribers=[rec]).serve() as h:
        await h.add(tv.TaskSpec.restartable(flaky))  # default backoff: EQUAL jitter
        await h.add(tv.TaskSpec.periodic(ticker, 0.07))
        await h.add(tv.TaskSpec.once(slow, timeout=0.05))
        await h.add(tv.TaskSpec.restartable(doomed, max_retries=3, backoff=full))
        await h.add(tv.TaskSpec.restartable(doomed, name="doomed2", backoff=decorrelated))
        tid = await h.add(tv.TaskSpec(deaf))
        await anyio.sleep(0.3)
        await h.remove(tid)
        await anyio.sleep(2)
    return rec.events


def run_scenario(seed: int) -> list[tv.Event]:
    from trio.testing import MockClock

    out: list[list[tv.Event]] = []

    async def main() -> None:
        out.append(await scenario(seed))

    anyio.run(main, backend="trio", backend_options={"clock": MockClock(autojump_threshold=0)})
    return out[0]


def test_the_same_seed_and_script_give_the_same_trace() -> None:
    first, second, third = run_scenario(7), run_scenario(7), run_scenario(7)
    assert len(first) > 60
    assert {e.task_id for e in first}.isdisjoint({e.task_id for e in second} - {None})
    assert renumbered(first) == renumbered(second) == renumbered(third)
    tv.fsm.check_trace(first)


def test_another_seed_draws_other_delays() -> None:
    def delays(events: list[tv.Event]) -> list[float | None]:
        return [e.delay for e in events if e.kind is EK.BACKOFF_SCHEDULED]

    assert delays(run_scenario(7)) != delays(run_scenario(8))


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return virtual_trio()


@pytest.mark.anyio
async def test_restarts_happen_exactly_at_their_backoff_deadline() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.5)
        if ctx.attempt < 6:
            raise tv.Fail("x")

    policy = tv.BackoffPolicy.exponential(1.0, factor=2.0, max=10.0)
    out = await tv.Supervisor(subscribers=[rec]).run([tv.TaskSpec.restartable(job, backoff=policy)])
    assert out["job"].attempts == 6
    starts = [e.at for e in rec.of("job") if e.kind is EK.TASK_STARTING]
    delays = [e.delay for e in rec.of("job") if e.kind is EK.BACKOFF_SCHEDULED]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.5 + d for d in delays], abs=1e-9)  # I4: never early


@pytest.mark.anyio
async def test_a_timeout_fires_exactly_at_the_deadline() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        await anyio.sleep(3600)

    await tv.Supervisor(subscribers=[rec]).run([tv.TaskSpec.once(job, timeout=2.5)])
    start, hit, failed = (
        e for e in rec.of("job") if e.kind in (EK.TASK_STARTING, EK.TIMEOUT_HIT, EK.TASK_FAILED)
    )
    assert hit.at - start.at == pytest.approx(2.5, abs=1e-9)
    assert failed.at == hit.at  # the forced cancellation lands in the same instant
    assert failed.duration == pytest.approx(2.5, abs=1e-9)


@pytest.mark.anyio
async def test_shutdown_forces_after_exactly_grace_and_ends_within_grace() -> None:
    rec = Recorder()
    started = anyio.Event()

    async def deaf(ctx: tv.TaskContext) -> None:
        started.set()
        await anyio.sleep(3600)

    config = tv.SupervisorConfig(grace=30.0)
    async with tv.Supervisor(config, subscribers=[rec]).serve() as h:
        await h.add(tv.TaskSpec(deaf))
        await started.wait()
        t0 = anyio.current_time()
        with pytest.raises(tv.GraceExceeded):
            await h.shutdown()
        assert anyio.current_time() - t0 == pytest.approx(30.0, abs=1e-6)  # I7
    requested = next(e for e in rec.events if e.kind is EK.SHUTDOWN_REQUESTED)
    exceeded = next(e for e in rec.events if e.kind is EK.GRACE_EXCEEDED)
    assert exceeded.at - requested.at == pytest.approx(30.0, abs=1e-9)
    assert rec.of("deaf")[-1].outcome is OK.FORCE_ABORTED


@pytest.mark.anyio
async def test_always_interval_is_exact_and_independent_of_attempt_duration() -> None:
    rec = Recorder()
    done = anyio.Event()

    async def tick(ctx: tv.TaskContext) -> None:
        await anyio.sleep(0.25)
        if ctx.attempt == 4:
            done.set()

    async with tv.Supervisor(subscribers=[rec]).serve() as h:
        await h.add(tv.TaskSpec.periodic(tick, 60))
        await done.wait()
    starts = [e.at for e in rec.of("tick") if e.kind is EK.TASK_STARTING]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([60.25] * 3, abs=1e-9)
