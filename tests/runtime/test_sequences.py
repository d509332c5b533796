"""Every per-task event sequence of docs/spec/api.md section 5, on a real event loop.

On asyncio and on trio, on virtual time (``VirtualClock``, trio's ``MockClock``): sleeps and grace
periods take no real time and nothing depends on the machine's load.

Events are best-effort but a large-capacity recorder never overflows, and the bus is drained before
``run``/``serve`` return, so the recorded trace is complete when we assert on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from runtime_support import EK, FAST, VIRTUAL_BACKENDS, Recorder

import taskvisor as tv

pytestmark = pytest.mark.anyio


@pytest.fixture(params=VIRTUAL_BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Virtual time on both backends (a fresh clock per test): see runtime_support."""
    backend: Callable[[], tuple[str, dict[str, Any]]] = request.param
    return backend()


OK = tv.OutcomeKind
ADD = [EK.TASK_ADD_REQUESTED, EK.TASK_ADDED]


def supervisor(rec: Recorder, **config: object) -> tv.Supervisor:
    return tv.Supervisor(tv.SupervisorConfig(**config), subscribers=[rec], defaults=FAST)  # type: ignore[arg-type]


async def test_fails_twice_then_succeeds_gives_the_twelve_lines_of_the_seed() -> None:
    rec = Recorder()
    attempts = 0

    async def flaky(ctx: tv.TaskContext) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise tv.Fail("boom")

    out = await supervisor(rec).run([tv.TaskSpec.restartable(tv.TaskFn("flaky", flaky))])
    assert rec.kinds("flaky") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.BACKOFF_SCHEDULED,
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.BACKOFF_SCHEDULED,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    assert out["flaky"].kind is OK.COMPLETED
    assert out["flaky"].attempts == 3
    assert [e.reason for e in rec.of("flaky") if e.kind is EK.TASK_FAILED] == ["boom", "boom"]
    assert [e.attempt for e in rec.of("flaky") if e.kind is EK.TASK_STARTING] == [1, 2, 3]
    rec.check()


async def test_once_that_succeeds_completes() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        await anyio.lowlevel.checkpoint()

    out = await supervisor(rec).run([tv.TaskSpec.once(job)])
    assert rec.kinds("job") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    exhausted, removed = rec.of("job")[-2:]
    assert exhausted.outcome is OK.COMPLETED
    assert removed.outcome is OK.COMPLETED
    assert out == {"job": tv.TaskOutcome(OK.COMPLETED, attempts=1)}


async def test_once_that_fails_ends_failed_without_restart() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        raise tv.Fail("nope", exit_code=3)

    out = await supervisor(rec).run([tv.TaskSpec.once(job)])
    assert rec.kinds("job") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    assert rec.of("job")[-2].outcome is OK.FAILED
    assert out["job"].kind is OK.FAILED
    assert (out["job"].reason, out["job"].exit_code) == ("nope", 3)
    assert isinstance(out["job"].error, tv.Fail)


@pytest.mark.parametrize("retries", [1, 3])
async def test_max_retries_allows_n_retries_then_fails(retries: int) -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        raise ValueError("bad")

    out = await supervisor(rec).run([tv.TaskSpec.restartable(job, max_retries=retries)])
    one = [EK.TASK_STARTING, EK.TASK_FAILED]
    expected = [*ADD, *one]
    for _ in range(retries):
        expected += [EK.BACKOFF_SCHEDULED, *one]
    expected += [EK.ACTOR_EXHAUSTED, EK.TASK_REMOVED]
    assert rec.kinds("job") == expected
    assert out["job"].kind is OK.FAILED
    assert "retry limit" in out["job"].reason
    assert out["job"].reason.endswith("ValueError: bad")
    assert out["job"].attempts == retries + 1


@pytest.mark.parametrize(
    "restart",
    [tv.RestartPolicy.NEVER, tv.RestartPolicy.ON_FAILURE, tv.RestartPolicy.always(0.001)],
    ids=["never", "on_failure", "always"],
)
async def test_fatal_is_never_restarted_under_any_policy(restart: tv.RestartPolicy) -> None:
    rec = Recorder()
    runs = 0

    async def job(ctx: tv.TaskContext) -> None:
        nonlocal runs
        runs += 1
        raise tv.Fatal("config is wrong", exit_code=78)

    out = await supervisor(rec).run([tv.TaskSpec(job, restart=restart)])
    assert runs == 1
    assert rec.kinds("job") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.ACTOR_DEAD,
        EK.TASK_REMOVED,
    ]
    dead = rec.of("job")[-2]
    assert (dead.outcome, dead.exit_code) == (OK.FATAL, 78)
    assert (out["job"].kind, out["job"].reason, out["job"].exit_code) == (
        OK.FATAL,
        "config is wrong",
        78,
    )


async def test_timeout_hits_then_fails_then_restarts_like_any_failure() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            await anyio.sleep(30)  # far beyond the timeout: the supervisor cancels it

    out = await supervisor(rec).run([tv.TaskSpec.restartable(job, timeout=0.05)])
    assert rec.kinds("job") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TIMEOUT_HIT,
        EK.TASK_FAILED,
        EK.BACKOFF_SCHEDULED,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    hit, failed = rec.of("job")[3:5]
    assert hit.timeout == pytest.approx(0.05)
    assert failed.reason == "timed out after 0.05s"
    assert failed.duration is not None
    assert failed.duration >= 0.05
    assert out["job"].kind is OK.COMPLETED


async def test_timeout_of_a_once_task_ends_it_failed() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        await anyio.sleep_forever()

    out = await supervisor(rec).run([tv.TaskSpec.once(job, timeout=0.02)])
    assert rec.kinds("job") == [
        *ADD,
        EK.TASK_STARTING,
        EK.TIMEOUT_HIT,
        EK.TASK_FAILED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    assert out["job"].kind is OK.FAILED
    assert out["job"].reason == "timed out after 0.02s"


async def test_always_restarts_after_success_with_its_interval() -> None:
    rec = Recorder()
    ran = anyio.Event()
    runs = 0

    async def tick(ctx: tv.TaskContext) -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            ran.set()

    async with supervisor(rec).serve() as h:
        tid = await h.add(tv.TaskSpec.periodic(tick, 0.01))
        await ran.wait()
        assert await h.cancel(tid)
    kinds = rec.kinds(tid)
    assert kinds[:8] == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.BACKOFF_SCHEDULED,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.BACKOFF_SCHEDULED,
    ]
    pauses = [e for e in rec.of(tid) if e.kind is EK.BACKOFF_SCHEDULED]
    assert all(e.backoff_source is tv.BackoffSource.SUCCESS for e in pauses)
    assert all(e.delay == pytest.approx(0.01) for e in pauses)
    assert kinds[-1] is EK.TASK_REMOVED
    assert EK.ACTOR_EXHAUSTED not in kinds


@pytest.mark.parametrize("ending", ["raises Canceled", "returns"])
async def test_removed_while_running_is_canceled(ending: str) -> None:
    rec = Recorder()
    started = anyio.Event()

    async def worker(ctx: tv.TaskContext) -> None:
        started.set()
        await ctx.cancelled()
        if ending == "raises Canceled":
            raise tv.Canceled("asked to stop")

    async with supervisor(rec).serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec.restartable(worker))
        await started.wait()
        assert await h.remove(tid) is True
        outcome = await waiter.wait()
        assert h.list() == []
    end = EK.TASK_CANCELED if ending == "raises Canceled" else EK.TASK_STOPPED
    assert rec.kinds(tid) == [
        *ADD,
        EK.TASK_STARTING,
        EK.TASK_REMOVE_REQUESTED,
        end,
        EK.TASK_REMOVED,
    ]
    assert rec.of(tid)[-1].outcome is OK.CANCELED
    assert outcome.kind is OK.CANCELED


async def test_removed_between_attempts_ends_at_once() -> None:
    rec = Recorder()
    failed = anyio.Event()

    async def job(ctx: tv.TaskContext) -> None:
        failed.set()
        raise tv.Fail("later")

    async with supervisor(rec).serve() as h:
        spec = tv.TaskSpec.restartable(job, backoff=tv.BackoffPolicy.constant(60))
        tid, waiter = await h.add_and_watch(spec)
        await failed.wait()  # the attempt's end is fed in the same step: now in backoff
        assert h.list() == [(tid, "job")]
        assert await h.cancel(tid)
        assert (await waiter.wait()).kind is OK.CANCELED
    assert rec.kinds(tid)[-2:] == [EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]


async def test_removed_while_ignoring_cancellation_is_force_aborted_after_grace() -> None:
    rec = Recorder()
    started = anyio.Event()

    async def deaf(ctx: tv.TaskContext) -> None:
        started.set()
        await anyio.sleep(30)  # never looks at ctx: only the backend's cancellation stops it

    grace = 0.05
    async with supervisor(rec, grace=grace).serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec.restartable(deaf))
        await started.wait()
        t0 = anyio.current_time()
        assert await h.remove(tid)
        outcome = await waiter.wait()
        elapsed = anyio.current_time() - t0
    # uvloop timers have 1 ms granularity and may wake a hair early (the core still sees
    # exactly its deadline: the driver feeds max(deadline, now)).
    assert grace - 0.002 <= elapsed < grace + 0.5
    assert rec.kinds(tid) == [*ADD, EK.TASK_STARTING, EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]
    assert rec.of(tid)[-1].outcome is OK.FORCE_ABORTED
    assert outcome.kind is OK.FORCE_ABORTED


async def test_duplicate_name_is_rejected_and_its_body_never_runs() -> None:
    rec = Recorder()
    ran: list[str] = []

    async def first(ctx: tv.TaskContext) -> None:
        await ctx.cancelled()

    async def second(ctx: tv.TaskContext) -> None:
        ran.append("second")

    async with supervisor(rec).serve() as h:
        await h.add(tv.TaskSpec(first, name="x"))
        with pytest.raises(tv.TaskAlreadyExists) as info:
            await h.add(tv.TaskSpec(second, name="x"))
        assert info.value.name == "x"
    assert ran == []
    rejected = [e for e in rec.events if e.kind is EK.TASK_ADD_FAILED]
    assert len(rejected) == 1
    tid = rejected[0].task_id
    assert tid is not None
    assert rec.kinds(tid) == [EK.TASK_ADD_REQUESTED, EK.TASK_ADD_FAILED]
    assert rejected[0].outcome is OK.REJECTED
    assert rejected[0].rejection is tv.RejectionKind.ALREADY_EXISTS


async def test_shutdown_cancels_each_task_then_reports_all_stopped() -> None:
    rec = Recorder()
    started = 0
    all_started = anyio.Event()

    async def polite(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == 3:
            all_started.set()
        await ctx.cancelled()

    async with supervisor(rec).serve() as h:
        for name in ("a", "b", "c"):
            await h.add(tv.TaskSpec(polite, name=name))
        await all_started.wait()
        await h.shutdown()
        assert h.list() == []
    sup = rec.supervisor_kinds()
    assert sup == [EK.SHUTDOWN_REQUESTED, EK.ALL_STOPPED_WITHIN_GRACE]
    kinds = [e.kind for e in rec.events]
    first_removed = kinds.index(EK.TASK_REMOVED)
    assert kinds.index(EK.SHUTDOWN_REQUESTED) < first_removed
    assert kinds[-1] is EK.ALL_STOPPED_WITHIN_GRACE
    for name in ("a", "b", "c"):
        assert rec.kinds(name)[-2:] == [EK.TASK_STOPPED, EK.TASK_REMOVED]
        assert rec.of(name)[-1].outcome is OK.CANCELED
    rec.check()


async def test_shutdown_with_a_stubborn_task_reports_grace_exceeded() -> None:
    rec = Recorder()
    started = anyio.Event()

    async def deaf(ctx: tv.TaskContext) -> None:
        started.set()
        await anyio.sleep(30)

    async with supervisor(rec, grace=0.02).serve() as h:
        await h.add(tv.TaskSpec(deaf))
        await started.wait()
        with pytest.raises(tv.GraceExceeded) as info:
            await h.shutdown()
    assert info.value.stuck == ("deaf",)
    assert rec.supervisor_kinds() == [EK.SHUTDOWN_REQUESTED, EK.GRACE_EXCEEDED]
    assert rec.of("deaf")[-1].outcome is OK.FORCE_ABORTED
    rec.check()
