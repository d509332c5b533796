"""Retry shaping through the real runtime, on asyncio and trio, on virtual time.

The contract: docs/spec/api.md section 8.

Every scenario runs on asyncio under ``taskvisor.testing.VirtualClock`` and on trio under
``trio.testing.MockClock(autojump_threshold=0)``: sleeps, backoffs and budget waits take no
real time, and the times events carry are exact. trio wakes tasks that are due together in a
random order, so where several tasks fail at one instant the tests assert what does not depend
on that order.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import pytest
from runtime_support import EK, Recorder

import taskvisor as tv
from taskvisor.testing import VirtualClock

T = TypeVar("T")
SRC = tv.BackoffSource
ONE = tv.BackoffPolicy.constant(1.0)


def on_asyncio(main: Callable[[], Awaitable[T]]) -> T:
    return VirtualClock().run(main())


def on_trio(main: Callable[[], Awaitable[T]]) -> T:
    from trio.testing import MockClock

    options = {"clock": MockClock(autojump_threshold=0)}
    return anyio.run(main, backend="trio", backend_options=options)


BACKENDS = pytest.mark.parametrize("backend", [on_asyncio, on_trio], ids=["asyncio", "trio"])
Runner = Callable[[Callable[[], Awaitable[Any]]], Any]


def starts(rec: Recorder, name: str) -> list[float]:
    return [e.at for e in rec.of(name) if e.kind is EK.TASK_STARTING]


def backoffs(rec: Recorder, name: str) -> list[tv.Event]:
    return [e for e in rec.of(name) if e.kind is EK.BACKOFF_SCHEDULED]


async def fail_once(ctx: tv.TaskContext) -> None:
    if ctx.attempt == 1:
        raise tv.Fail("connection refused")


@BACKENDS
def test_a_shared_budget_spaces_the_restarts_it_has_no_token_for(backend: Runner) -> None:
    async def main() -> Recorder:
        rec = Recorder()
        config = tv.SupervisorConfig(retry_budgets={"db": tv.RetryBudget(1.0, 1)})
        specs = [
            tv.TaskSpec.restartable(fail_once, name=n, backoff=ONE, retry_budget="db")
            for n in ("a", "b", "c")
        ]
        out = await tv.Supervisor(config, subscribers=[rec]).run(specs)
        assert {o.kind for o in out.values()} == {tv.OutcomeKind.COMPLETED}
        return rec

    rec = backend(main)
    t0 = starts(rec, "a")[0]
    # All three restarts are due at t0 + 1; the bucket holds one token, then one per second.
    restarts = sorted(starts(rec, n)[1] - t0 for n in "abc")
    assert restarts == pytest.approx([1.0, 2.0, 3.0], abs=1e-9)  # lengthened, never dropped
    waits = sorted(
        (e.delay, e.decision)
        for n in "abc"
        for e in backoffs(rec, n)
        if e.backoff_source is SRC.BUDGET
    )
    assert [w for w, _ in waits] == [1.0, 2.0]
    for wait, decision in waits:
        assert decision == tv.Decision(
            0, 1.0, tv.JitterPolicy.NONE, SRC.BUDGET, wait, "retry budget"
        )
    rec.check()


@BACKENDS
def test_retry_after_sets_the_next_delay_exactly_and_zero_retries_at_once(
    backend: Runner,
) -> None:
    async def busy(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            raise tv.Fail("503 Service Unavailable", retry_after=timedelta(seconds=42))
        if ctx.attempt == 2:
            raise tv.Fail("429 Too Many Requests", retry_after=0)

    async def main() -> Recorder:
        rec = Recorder()
        await tv.Supervisor(tv.SupervisorConfig(seed=1), subscribers=[rec]).run(
            [tv.TaskSpec.restartable(busy)]  # default backoff: EQUAL jitter, max 30 s
        )
        return rec

    rec = backend(main)
    first, second = backoffs(rec, "busy")
    assert (first.delay, first.backoff_source) == (42.0, SRC.RETRY_AFTER)  # above max, no jitter
    assert first.decision is not None
    assert (first.decision.rule, first.decision.base) == ("retry-after", 42.0)
    assert (second.delay, second.backoff_source) == (0.0, SRC.RETRY_AFTER)
    at = starts(rec, "busy")
    assert [b - a for a, b in itertools.pairwise(at)] == pytest.approx([42.0, 0.0], abs=1e-9)


@BACKENDS
def test_start_jitter_spreads_first_attempts_over_the_window(backend: Runner) -> None:
    async def poll(ctx: tv.TaskContext) -> None:
        return None

    async def main() -> tuple[float, Recorder]:
        rec = Recorder()
        t0 = anyio.current_time()
        specs = [tv.TaskSpec.once(poll, name=f"p{i}", start_jitter=10.0) for i in range(20)]
        await tv.Supervisor(tv.SupervisorConfig(seed=5), subscribers=[rec]).run(specs)
        return t0, rec

    t0, rec = backend(main)
    firsts = []
    for i in range(20):
        (start,) = backoffs(rec, f"p{i}")
        assert start.backoff_source is SRC.START
        assert start.decision is not None
        assert start.decision.rule == "start jitter"
        assert start.delay is not None
        assert 0.0 <= start.delay <= 10.0
        (at,) = starts(rec, f"p{i}")
        assert at - t0 == pytest.approx(start.delay, abs=1e-9)
        firsts.append(at)
    assert max(firsts) - min(firsts) > 5.0  # spread, not a herd at t0


@BACKENDS
def test_interval_jitter_varies_the_pause_after_each_success(backend: Runner) -> None:
    async def main() -> Recorder:
        rec = Recorder()
        done = anyio.Event()

        async def tick(ctx: tv.TaskContext) -> None:
            if ctx.attempt == 6:
                done.set()

        config = tv.SupervisorConfig(seed=3)
        async with tv.Supervisor(config, subscribers=[rec]).serve() as h:
            await h.add(tv.TaskSpec.periodic(tick, 60.0, jitter=0.5))
            await done.wait()
        return rec

    rec = backend(main)
    gaps = [b - a for a, b in itertools.pairwise(starts(rec, "tick"))]
    assert len(gaps) == 5
    assert all(30.0 - 1e-9 <= g <= 90.0 + 1e-9 for g in gaps)
    assert len({round(g, 6) for g in gaps}) == 5


@BACKENDS
def test_with_a_seed_a_tasks_delays_do_not_depend_on_the_other_tasks(backend: Runner) -> None:
    policy = tv.BackoffPolicy(first=0.5, max=8.0, jitter=tv.JitterPolicy.FULL)

    async def failing(ctx: tv.TaskContext) -> None:
        if ctx.attempt <= 4:
            raise tv.Fail("down")

    def delays(others: list[str]) -> list[float | None]:
        async def main() -> Recorder:
            rec = Recorder()
            names = [*others[:1], "x", *others[1:]]
            specs = [tv.TaskSpec.restartable(failing, name=n, backoff=policy) for n in names]
            await tv.Supervisor(tv.SupervisorConfig(seed=11), subscribers=[rec]).run(specs)
            return rec

        return [e.delay for e in backoffs(backend(main), "x")]

    alone = delays([])
    assert len(alone) == 4
    assert delays(["a", "b", "c"]) == alone
    assert delays(["c"]) == alone


@pytest.mark.anyio
async def test_an_unknown_retry_budget_is_refused_by_add_run_and_submit() -> None:
    config = tv.SupervisorConfig(retry_budgets={"db": tv.RetryBudget(5, 5)})
    spec = tv.TaskSpec.restartable(fail_once, retry_budget="dbb")
    with pytest.raises(tv.ConfigError, match=r"TaskSpec\.retry_budget.*'dbb'.*'db'"):
        await tv.Supervisor(config, subscribers=[]).run([spec])
    sup = tv.Supervisor(config, subscribers=[], controller=tv.ControllerConfig())
    async with sup.serve() as h:
        with pytest.raises(tv.ConfigError, match=r"TaskSpec\.retry_budget"):
            await h.add(spec)
        with pytest.raises(tv.ConfigError, match=r"TaskSpec\.retry_budget"):
            await h.submit(tv.ControllerSpec(spec))
        assert h.list() == []
        good = await h.add(tv.TaskSpec.restartable(fail_once, name="ok", retry_budget="db"))
        assert h.list() == [(good, "ok")]


def test_fail_validates_and_reports_its_retry_after() -> None:
    assert tv.Fail("x", retry_after=timedelta(milliseconds=1500)).retry_after == 1.5
    assert tv.Fail("x").retry_after is None
    assert repr(tv.Fail("x", 3, retry_after=2)) == "Fail('x', exit_code=3, retry_after=2.0)"
    with pytest.raises(tv.ConfigError, match=r"Fail\.retry_after.*negative"):
        tv.Fail("x", retry_after=-1)
    with pytest.raises(tv.ConfigError, match=r"Fail\.retry_after"):
        tv.Fail("x", retry_after="soon")  # type: ignore[arg-type]
