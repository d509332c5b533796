"""How an attempt ends, and what the supervisor makes of it (docs/spec/api.md section 2's table).

Runs on asyncio and trio on virtual time (``VirtualClock``, trio's ``MockClock``): sleeps and grace
periods take no real time and nothing depends on the machine's load. What a body may be (``TaskFn``,
``Task``, bare function), how each ending is classified, that ``KeyboardInterrupt``/``SystemExit``
are never swallowed, and that the supervisor's own cancellation is never counted as a failure.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from contextvars import ContextVar, copy_context
from typing import Any

import anyio
import pytest
from runtime_support import EK, FAST, VIRTUAL_BACKENDS, Recorder

import taskvisor as tv
from taskvisor.fsm import EndKind
from taskvisor.runtime._attempt import (
    AsyncioLauncher,
    Attempt,
    TrioLauncher,
    describe,
    ended_by,
)
from taskvisor.runtime._context import TaskContext

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


async def run_once(body: object, **kw: object) -> tv.TaskOutcome:
    out = await supervisor().run([tv.TaskSpec.once(body, **kw)])  # type: ignore[arg-type]
    (outcome,) = out.values()
    return outcome


# -- classification, without a loop ------------------------------------------------------------


def ctx() -> TaskContext:
    return TaskContext(tv.TaskId(1), "t", 2)


@pytest.mark.parametrize(
    ("exc", "kind", "reason", "code"),
    [
        (tv.Fail("boom", exit_code=2), EndKind.FAILED, "boom", 2),
        (tv.Fatal("dead", exit_code=9), EndKind.FATAL, "dead", 9),
        (tv.Canceled("bye"), EndKind.CANCELED, "bye", None),
        (ValueError("bad"), EndKind.FAILED, "ValueError: bad", None),
        (RuntimeError(), EndKind.FAILED, "RuntimeError", None),
        (TimeoutError("slow"), EndKind.FAILED, "TimeoutError: slow", None),
        (ExceptionGroup("g", [tv.Fatal("inner")]), EndKind.FATAL, "inner", None),
    ],
    ids=["fail", "fatal", "canceled", "panic", "empty-message", "timeout-error", "group"],
)
def test_an_exception_maps_to_its_end_kind_and_reason(
    exc: Exception, kind: EndKind, reason: str, code: int | None
) -> None:
    end = ended_by(ctx(), exc)
    assert (end.task_id, end.attempt) == (tv.TaskId(1), 2)
    assert (end.end, end.reason, end.exit_code) == (kind, reason, code)
    assert end.error is not None


def test_a_task_error_subclass_maps_to_its_nearest_kind() -> None:
    class Retry(tv.Fail):
        pass

    assert ended_by(ctx(), Retry("again")).end is EndKind.FAILED


def test_describe_survives_a_broken_str() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert describe(Broken()) == "Broken: <unprintable>"


# -- what a body may be ------------------------------------------------------------------------


async def test_a_bare_coroutine_function_is_named_after_itself() -> None:
    seen: list[tuple[str, int]] = []

    async def fetch(ctx: tv.TaskContext) -> None:
        seen.append((ctx.name, ctx.attempt))

    out = await supervisor().run([tv.TaskSpec.once(fetch)])
    assert seen == [("fetch", 1)]
    assert out["fetch"].kind is OK.COMPLETED


async def test_name_overrides_the_function_name() -> None:
    async def fetch(ctx: tv.TaskContext) -> None:
        assert ctx.name == "other"

    out = await supervisor().run([tv.TaskSpec.once(fetch, name="other")])
    assert out["other"].kind is OK.COMPLETED


async def test_a_task_object_keeps_state_across_attempts() -> None:
    class Counter:
        name = "counter"

        def __init__(self) -> None:
            self.calls: list[int] = []

        async def run(self, ctx: tv.TaskContext) -> None:
            self.calls.append(ctx.attempt)
            if len(self.calls) < 3:
                raise tv.Fail("again")

    task = Counter()
    assert isinstance(task, tv.Task)
    out = await supervisor().run([tv.TaskSpec.restartable(task)])
    assert task.calls == [1, 2, 3]
    assert out["counter"].attempts == 3


async def test_a_task_fn_gets_a_fresh_awaitable_per_attempt() -> None:
    made = 0

    def factory(ctx: tv.TaskContext) -> object:
        nonlocal made
        made += 1

        async def attempt() -> None:
            if ctx.attempt < 2:
                raise tv.Fail("first")

        return attempt()

    out = await supervisor().run([tv.TaskSpec.restartable(tv.TaskFn("f", factory))])  # type: ignore[arg-type]
    assert made == 2
    assert out["f"].kind is OK.COMPLETED


def _plain(ctx: tv.TaskContext) -> None:
    """A task written without ``async``: calling it does the work and returns None."""


@pytest.mark.parametrize(
    "task",
    [_plain, tv.TaskFn("lam", lambda ctx: None)],  # type: ignore[arg-type,return-value]
    ids=["plain-def", "lambda"],
)
async def test_a_body_that_returns_no_awaitable_ends_fatal_asking_about_async(
    task: object,
) -> None:
    rec = Recorder()
    # Under always(): a retryable failure would loop forever; FATAL ends it at once.
    spec = tv.TaskSpec(task, restart=tv.RestartPolicy.always())  # type: ignore[arg-type]
    out = await supervisor(rec).run([spec])
    (outcome,) = out.values()
    assert outcome.kind is OK.FATAL
    assert outcome.attempts == 1
    assert "did you forget `async`?" in outcome.reason
    assert "returned NoneType" in outcome.reason
    assert isinstance(outcome.error, TypeError)
    assert str(outcome.error) == outcome.reason
    assert rec.kinds(spec.name)[-2:] == [EK.ACTOR_DEAD, EK.TASK_REMOVED]


async def test_a_partial_of_an_async_function_runs_under_the_wrapped_name() -> None:
    seen: list[tuple[str, str]] = []

    async def poll(ctx: tv.TaskContext, url: str) -> None:
        seen.append((ctx.name, url))

    out = await supervisor().run([tv.TaskSpec.once(functools.partial(poll, url="http://x"))])
    assert seen == [("poll", "http://x")]
    assert out["poll"].kind is OK.COMPLETED


async def test_context_carries_id_name_and_one_based_attempt() -> None:
    seen: list[tuple[tv.TaskId, str, int]] = []

    async def job(ctx: tv.TaskContext) -> None:
        seen.append((ctx.task_id, ctx.name, ctx.attempt))
        if ctx.attempt < 3:
            raise tv.Fail("x")

    async with supervisor().serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec.restartable(job))
        await waiter.wait()
    assert seen == [(tid, "job", 1), (tid, "job", 2), (tid, "job", 3)]


# -- endings -----------------------------------------------------------------------------------


async def test_any_other_exception_is_a_retryable_failure_naming_it() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            raise ValueError("bad")

    out = await supervisor(rec).run([tv.TaskSpec.restartable(job)])
    failed = [e for e in rec.of("job") if e.kind is EK.TASK_FAILED]
    assert [e.reason for e in failed] == ["ValueError: bad"]
    assert out["job"].kind is OK.COMPLETED


async def test_the_outcome_carries_the_exception_that_caused_it() -> None:
    err = KeyError("k")

    async def job(ctx: tv.TaskContext) -> None:
        raise err

    outcome = await run_once(job)
    assert outcome.kind is OK.FAILED
    assert outcome.error is err
    assert outcome.reason == "KeyError: 'k'"


async def test_canceled_raised_on_its_own_ends_canceled_and_is_never_restarted() -> None:
    runs = 0

    async def quitter(ctx: tv.TaskContext) -> None:
        nonlocal runs
        runs += 1
        raise tv.Canceled("not today")

    out = await supervisor().run([tv.TaskSpec(quitter, restart=tv.RestartPolicy.always())])
    assert runs == 1
    assert (out["quitter"].kind, out["quitter"].reason) == (OK.CANCELED, "not today")


async def test_a_timeout_error_the_task_raises_itself_is_a_retryable_failure() -> None:
    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            with anyio.fail_after(0.001):
                await anyio.sleep(1)

    out = await supervisor().run([tv.TaskSpec.restartable(job)])
    assert out["job"].kind is OK.COMPLETED
    assert out["job"].attempts == 2


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # user code cannot raise trio.Cancelled
async def test_a_cancelled_error_nobody_requested_is_a_retryable_failure() -> None:
    rec = Recorder()

    async def job(ctx: tv.TaskContext) -> None:
        if ctx.attempt == 1:
            raise asyncio.CancelledError("my own")

    out = await supervisor(rec).run([tv.TaskSpec.restartable(job)])
    assert out["job"].kind is OK.COMPLETED
    failed = [e for e in rec.of("job") if e.kind is EK.TASK_FAILED]
    assert [e.reason for e in failed] == ["CancelledError: my own"]


async def test_the_supervisors_own_force_cancel_is_not_a_failure() -> None:
    rec = Recorder()
    started = anyio.Event()

    async def deaf(ctx: tv.TaskContext) -> None:
        started.set()
        await anyio.sleep(30)

    async with supervisor(rec, grace=0).serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec.restartable(deaf))
        await started.wait()
        await h.remove(tid)
        assert (await waiter.wait()).kind is OK.FORCE_ABORTED
    assert EK.TASK_FAILED not in rec.kinds(tid)


async def test_an_attempt_forced_before_it_ran_reports_without_running_its_body(
    anyio_backend_name: str,
) -> None:
    ran: list[int] = []
    reports: list[tv.fsm.AttemptEnded] = []
    crashes: list[BaseException] = []

    async def body(ctx: tv.TaskContext) -> None:
        ran.append(1)

    kind = AsyncioLauncher if anyio_backend_name == "asyncio" else TrioLauncher
    launcher = kind(lambda rec, end: reports.append(end), crashes.append, copy_context())
    rec = Attempt(ctx(), body)
    launcher.start(rec)
    launcher.force(rec)
    with anyio.fail_after(2):
        while not reports:
            await anyio.lowlevel.checkpoint()
    assert ran == []
    assert [(r.end, r.reason) for r in reports] == [
        (EndKind.INTERRUPTED, "cancelled before it started")
    ]
    assert crashes == []


async def test_remove_with_zero_grace_right_after_add_does_not_hang() -> None:
    ran: list[int] = []

    async def job(ctx: tv.TaskContext) -> None:
        ran.append(ctx.attempt)
        await anyio.sleep(30)

    async with supervisor(grace=0, force_wait=5).serve() as h:
        tid, waiter = await h.add_and_watch(tv.TaskSpec(job))
        await h.remove(tid)  # before the attempt's task got its first turn
        with anyio.fail_after(2):
            outcome = await waiter.wait()
    assert outcome.kind is OK.FORCE_ABORTED
    assert outcome.reason == "force-cancelled after grace"


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
async def test_keyboard_interrupt_and_system_exit_propagate_from_run_after_shutdown(
    exc_type: type[BaseException],
) -> None:
    rec = Recorder()
    bystander_stopped = anyio.Event()
    bystander_started = anyio.Event()

    async def bystander(ctx: tv.TaskContext) -> None:
        bystander_started.set()
        await ctx.cancelled()
        bystander_stopped.set()

    async def bomb(ctx: tv.TaskContext) -> None:
        await bystander_started.wait()
        raise exc_type()

    with pytest.raises(exc_type):
        await supervisor(rec).run([tv.TaskSpec(bystander), tv.TaskSpec.once(bomb)])
    assert bystander_stopped.is_set()
    assert rec.supervisor_kinds()[-1] is EK.ALL_STOPPED_WITHIN_GRACE  # subscribers drained
    assert rec.of("bystander")[-1].outcome is OK.CANCELED


async def test_keyboard_interrupt_in_a_task_interrupts_the_serve_block() -> None:
    async def bomb(ctx: tv.TaskContext) -> None:
        raise KeyboardInterrupt

    reached_end = False

    async def serve() -> None:
        nonlocal reached_end
        async with supervisor().serve() as h:
            await h.add(tv.TaskSpec.once(bomb))
            await anyio.sleep(30)  # interrupted by the crash
            reached_end = True

    with pytest.raises(KeyboardInterrupt):
        await serve()
    assert not reached_end


REQUEST_ID: ContextVar[str] = ContextVar("REQUEST_ID", default="unset")


async def test_attempts_run_in_a_copy_of_the_context_serve_was_entered_in() -> None:
    seen: list[str] = []

    async def job(ctx: tv.TaskContext) -> None:
        seen.append(REQUEST_ID.get())
        REQUEST_ID.set(f"changed by attempt {ctx.attempt}")  # stays inside this attempt
        if ctx.attempt < 2:
            raise tv.Fail("again")

    token = REQUEST_ID.set("from the caller")
    try:
        await supervisor().run([tv.TaskSpec.restartable(job)])
    finally:
        REQUEST_ID.reset(token)
    assert seen == ["from the caller", "from the caller"]
