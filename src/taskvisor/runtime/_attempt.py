"""Running one attempt on the real backend, and turning how it ended into ``fsm.AttemptEnded``.

Owns: ``Attempt`` (the driver's record of a running attempt), the two launchers that start and
force-cancel attempts (``AsyncioLauncher``, ``TrioLauncher``) and make each attempt's
``TaskContext`` (on asyncio a lighter one, ``AsyncioTaskContext``), and ``ended_by``
(docs/spec/api.md section 2's table: which ending is which ``EndKind``). The core decides what an
ending *means* (whether an ``INTERRUPTED`` was the supervisor's own cancellation, whether to
restart); this module only reports what happened. Must not import the driver; imports
``asyncio`` (stdlib) and, lazily, ``trio`` when running on it.

Attempts are *detached* from the supervisor's task group: an asyncio task of their own, or a
trio system task. That is what lets an attempt that survives even the forced cancellation be
abandoned (core ``Abandon`` effect) without keeping ``run()``/``serve()`` from returning
(I7): structured concurrency would otherwise make the supervisor wait for it forever.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Callable
from types import CoroutineType
from typing import Any

from taskvisor._task_errors import Canceled, Fail, Fatal, TaskError
from taskvisor.fsm import AttemptEnded, EndKind
from taskvisor.runtime._context import Body, TaskContext

__all__ = [
    "AsyncioLauncher",
    "AsyncioTaskContext",
    "Attempt",
    "Launcher",
    "NotAwaitable",
    "TrioLauncher",
    "describe",
    "ended_by",
]

_END_OF: dict[type[TaskError], EndKind] = {
    Fail: EndKind.FAILED,
    Fatal: EndKind.FATAL,
    Canceled: EndKind.CANCELED,
}


class Attempt:
    """One attempt the driver started: its context, body, backend handle and force flag."""

    __slots__ = ("body", "ctx", "forced", "handle", "started")

    def __init__(self, ctx: TaskContext, body: Body) -> None:
        self.ctx = ctx
        self.body = body
        self.handle: Any = None  # asyncio.Task, or the attempt's trio.CancelScope
        self.started = False
        self.forced = False


Report = Callable[[Attempt, AttemptEnded], None]
Crash = Callable[[BaseException], None]


# Once per attempt: an input built in one C call, and EndKind members read once (in CPython
# 3.11 ``EndKind.FAILED`` is a Python-level lookup through EnumType.__getattr__).
_new_end = tuple.__new__
_FAILED, _RETURNED = EndKind.FAILED, EndKind.RETURNED


def describe(exc: BaseException) -> str:
    """``"ValueError: bad"`` (just ``"ValueError"`` when the message is empty)."""
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break supervision
        message = "<unprintable>"
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


class NotAwaitable(TypeError):
    """A task function returned something that cannot be awaited (a plain ``def``, a lambda).

    Retrying cannot help, so the attempt ends ``FATAL`` (docs/spec/api.md section 2), and this
    error is the outcome's ``error``.
    """


def _awaitable(result: object, ctx: TaskContext) -> Awaitable[object]:
    """``result`` if an attempt can await it; ``NotAwaitable`` otherwise."""
    if type(result) is CoroutineType or inspect.isawaitable(result):
        return result
    raise NotAwaitable(
        f"the function of task {ctx.name!r} returned {type(result).__name__}, not an awaitable: "
        "did you forget `async`?"
    )


def _sole_leaf(exc: BaseException) -> BaseException:
    """Unwrap an exception group holding exactly one exception (a task group's ``Fail``)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def ended_by(ctx: TaskContext, exc: Exception) -> AttemptEnded:
    """How an attempt that raised ``exc`` ended (docs/spec/api.md section 2)."""
    leaf = _sole_leaf(exc)
    if isinstance(leaf, TaskError):
        kind = _END_OF.get(type(leaf))
        if kind is None:  # a subclass: the nearest of the three
            kind = next((k for c, k in _END_OF.items() if isinstance(leaf, c)), EndKind.FAILED)
        # A Fail may say when to retry (docs/spec/api.md section 8): the core decides what it means.
        after = leaf.retry_after_ns if kind is EndKind.FAILED and isinstance(leaf, Fail) else None
        return AttemptEnded(
            ctx.task_id, ctx.attempt, kind, leaf.reason, leaf.exit_code, leaf, after
        )
    if isinstance(leaf, NotAwaitable):
        return AttemptEnded(ctx.task_id, ctx.attempt, EndKind.FATAL, str(leaf), None, leaf)
    return _new_end(
        AttemptEnded, (ctx.task_id, ctx.attempt, _FAILED, describe(exc), None, exc, None)
    )


def _interrupted(ctx: TaskContext, exc: BaseException | None, reason: str) -> AttemptEnded:
    return AttemptEnded(ctx.task_id, ctx.attempt, EndKind.INTERRUPTED, reason, None, exc)


class _Waiters(list[asyncio.Future[None]]):
    """The futures of the bodies waiting in ``ctx.cancelled()``; ``set`` wakes them all."""

    __slots__ = ()

    def set(self) -> None:
        for fut in self:
            if not fut.done():
                fut.set_result(None)


class AsyncioTaskContext(TaskContext):
    """``TaskContext`` on asyncio: ``cancelled()`` waits on a bare future.

    An ``anyio.Event`` costs an asyncio ``Event``, its deque of waiters and two more coroutine
    frames per waiting body: about 1.2 KB and four objects for the cyclic GC per idle task
    (benchmarks/bench_scale.py). Here a waiting body holds one future in a list.
    """

    __slots__ = ()

    async def cancelled(self) -> None:
        if self._requested:
            return
        waiters = self._event
        if not isinstance(waiters, _Waiters):
            waiters = self._event = _Waiters()
        fut = asyncio.get_running_loop().create_future()
        waiters.append(fut)
        try:
            await fut
        finally:
            waiters.remove(fut)


class Launcher:
    """Starts attempts and force-cancels them on one backend."""

    #: What each attempt is handed: ``context(task_id, name, attempt, now_ns, beats)``.
    context: Callable[..., TaskContext] = TaskContext

    def __init__(self, report: Report, crash: Crash, context: contextvars.Context) -> None:
        self._report = report
        self._crash = crash
        self._context = context  # every attempt runs in a copy of the supervisor's context

    def start(self, rec: Attempt) -> None:
        raise NotImplementedError

    def force(self, rec: Attempt) -> None:
        raise NotImplementedError

    def _enter(self, rec: Attempt) -> bool:
        """Mark ``rec`` started; False (reported as ended unrun) if force came first."""
        if rec.forced:  # force-cancelled before its body was entered: it ends without running
            self._report(rec, _interrupted(rec.ctx, None, "cancelled before it started"))
            return False
        rec.started = True
        return True

    def _escaped(self, rec: Attempt, exc: BaseException) -> None:
        """A ``BaseException`` that is no cancellation: report the attempt, then re-raise it
        from ``run``/``serve`` after shutting down (KeyboardInterrupt is never swallowed)."""
        ctx = rec.ctx
        self._report(
            rec, AttemptEnded(ctx.task_id, ctx.attempt, EndKind.FAILED, describe(exc), None, exc)
        )
        self._crash(exc)


class AsyncioLauncher(Launcher):
    """asyncio: one ``asyncio.Task`` per attempt; force = ``Task.cancel()`` (edge-triggered).

    A body that catches ``CancelledError`` and goes on is not cancelled again: asyncio's own
    semantics. The core then abandons it after ``force_wait``; the driver keeps the task
    referenced (asyncio holds tasks weakly) and reports it stuck.
    """

    context = AsyncioTaskContext

    def __init__(self, report: Report, crash: Crash, context: contextvars.Context) -> None:
        super().__init__(report, crash, context)
        self._loop = asyncio.get_running_loop()

    def start(self, rec: Attempt) -> None:
        rec.handle = self._loop.create_task(
            self._main(rec),
            name=f"taskvisor {rec.ctx.name} attempt {rec.ctx.attempt}",
            context=self._context.copy(),
        )

    def force(self, rec: Attempt) -> None:
        rec.forced = True
        if rec.started:
            # Not before it started: a task cancelled before its first step never enters
            # ``_main``, and would never report; ``_main`` checks ``forced`` instead.
            rec.handle.cancel()

    async def _main(self, rec: Attempt) -> None:
        if not self._enter(rec):
            return
        ctx = rec.ctx
        try:
            await _awaitable(rec.body(ctx), ctx)
        except Exception as exc:
            end = ended_by(ctx, exc)
        except asyncio.CancelledError as exc:
            # Ours (force or timeout), or the body's own: the core tells them apart.
            end = _interrupted(ctx, exc, describe(exc))
            task: asyncio.Task[None] = rec.handle
            if task.cancelling() > (1 if rec.forced else 0):
                self._report(rec, end)
                raise  # someone else cancels this task (the loop is closing): let it go
        except BaseException as exc:
            self._escaped(rec, exc)
            return
        else:
            end = _new_end(
                AttemptEnded, (ctx.task_id, ctx.attempt, _RETURNED, "", None, None, None)
            )
        self._report(rec, end)


class TrioLauncher(Launcher):
    """trio: one system task per attempt, in a ``CancelScope``; force = ``scope.cancel()``.

    trio's cancellation is level-triggered: every checkpoint inside a cancelled scope raises
    ``Cancelled``, so only a shielded scope (or a body that never reaches a checkpoint) survives
    force. System tasks are not children of the supervisor's nursery, so an abandoned one does
    not hold ``run``/``serve``; trio cancels it again when the main task ends and ``trio.run``
    waits for it then (trio never leaks a task).
    """

    def __init__(self, report: Report, crash: Crash, context: contextvars.Context) -> None:
        super().__init__(report, crash, context)
        import trio

        self._scope_class = trio.CancelScope
        self._cancelled = trio.Cancelled
        self._spawn = trio.lowlevel.spawn_system_task

    def start(self, rec: Attempt) -> None:
        rec.handle = self._scope_class()
        self._spawn(
            self._main,
            rec,
            name=f"taskvisor {rec.ctx.name} attempt {rec.ctx.attempt}",
            context=self._context.copy(),
        )

    def force(self, rec: Attempt) -> None:
        rec.forced = True
        rec.handle.cancel()

    async def _main(self, rec: Attempt) -> None:
        if not self._enter(rec):
            return
        ctx = rec.ctx
        scope = rec.handle
        try:
            with scope:
                await _awaitable(rec.body(ctx), ctx)
        except Exception as exc:
            end = ended_by(ctx, exc)
        except self._cancelled as exc:
            # Not our scope's: the run is ending and trio cancels its system tasks.
            self._report(rec, _interrupted(ctx, exc, describe(exc)))
            raise
        except BaseException as exc:
            self._escaped(rec, exc)
            return
        else:
            if scope.cancelled_caught:
                end = _interrupted(ctx, None, "Cancelled")
            else:
                end = _new_end(
                    AttemptEnded, (ctx.task_id, ctx.attempt, _RETURNED, "", None, None, None)
                )
        self._report(rec, end)
