"""What a task body sees and what it may be: ``TaskContext``, the ``Task`` protocol, ``body_of``.

Owns: ``TaskContext`` (the per-attempt handle on cooperative cancellation, docs/spec/api.md section
2), the ``Task`` protocol (a stateful task object), and ``body_of``, which turns whatever a
``TaskSpec`` holds (a ``TaskFn``, a ``Task``, a bare ``async def f(ctx)``) into the one callable an
attempt runs. The driver calls ``_request_cancel`` when the core emits ``RequestCancel`` (or
``ForceCancel``); nothing here decides *when*. Must not import the driver or a backend directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import anyio

from taskvisor._errors import ConfigTypeError
from taskvisor._task_errors import Canceled
from taskvisor.fsm import TaskFn, TaskId

__all__ = ["Body", "Task", "TaskContext", "body_of"]

T = TypeVar("T")

#: What an attempt runs: called with the attempt's context, returns a fresh awaitable.
Body = Callable[["TaskContext"], Awaitable[Any]]


class Wakeable(Protocol):
    """What ``TaskContext._request_cancel`` sets to wake the bodies waiting in ``cancelled()``."""

    def set(self) -> None: ...


@runtime_checkable
class Task(Protocol):
    """A task object that keeps state across attempts: ``run(ctx)`` is called once per attempt."""

    name: str

    def run(self, ctx: TaskContext) -> Awaitable[None]: ...


class TaskContext:
    """Handed to every attempt: who it is, and whether it has been asked to stop.

    Attributes:
        task_id: the task's id (stable across its attempts).
        name: the task's name.
        attempt: 1-based number of this attempt, counting every attempt of the task.
    """

    __slots__ = (
        "_beat_at",
        "_beat_pending",
        "_beats",
        "_event",
        "_now_ns",
        "_requested",
        "_scopes",
        "attempt",
        "name",
        "task_id",
    )

    def __init__(
        self,
        task_id: TaskId,
        name: str,
        attempt: int,
        now_ns: Callable[[], int] | None = None,
        beats: list[TaskContext] | None = None,
    ) -> None:
        self.task_id = task_id
        self.name = name
        self.attempt = attempt
        self._requested = False
        # The watchdog's heartbeats (docs/spec/runtime.md): the driver's clock and the list of
        # attempts that beat since the core last heard, which the driver drains.
        self._now_ns = now_ns
        self._beats = beats
        self._beat_pending = False
        self._beat_at = 0
        # Allocated only when a body waits on them: most attempts never do (cheap attempts).
        # Whatever wakes the bodies waiting in cancelled(): an anyio.Event here, a list of
        # futures on asyncio (_attempt.AsyncioTaskContext).
        self._event: Wakeable | None = None
        self._scopes: list[anyio.CancelScope] | None = None

    def heartbeat(self) -> None:
        """Tell the watchdog this attempt is alive (``TaskSpec(watchdog=...)``).

        Cheap enough for a hot loop: each call reads the clock; the first one after each
        report also queues the attempt, and the core hears the latest time when its next
        deadline comes. Without a watchdog the beats are simply never needed.
        """
        now_ns = self._now_ns
        if now_ns is None:
            return
        self._beat_at = now_ns()
        if not self._beat_pending:
            self._beat_pending = True
            self._beats.append(self)  # type: ignore[union-attr]

    @property
    def is_cancelled(self) -> bool:
        """True once cancellation of this attempt was requested (cooperatively or by force)."""
        return self._requested

    async def cancelled(self) -> None:
        """Return when cancellation is requested; at once if it already was."""
        if self._requested:
            return
        event = self._event
        if not isinstance(event, anyio.Event):
            event = self._event = anyio.Event()
        await event.wait()

    async def run_until_cancelled(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless cancellation is requested first.

        Returns:
            The awaitable's result.

        Raises:
            taskvisor.Canceled: cancellation was requested before or while it ran (cancellation
                wins ties). An awaitable that was never started is closed, not run.
        """
        if self._requested:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise Canceled("canceled")
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = []
        scope = anyio.CancelScope()
        scopes.append(scope)
        try:
            with scope:
                result = await awaitable
        finally:
            scopes.remove(scope)
        if self._requested:  # cancelled while it ran, or it finished in the same instant
            raise Canceled("canceled")
        return result

    def _request_cancel(self, *, cooperative: bool = True) -> None:
        """The driver's side: the core asked this attempt to stop.

        A cooperative request also interrupts ``run_until_cancelled``; a forced one leaves that
        to the backend's cancellation, which is already on its way.
        """
        if self._requested:
            return
        self._requested = True
        if self._event is not None:
            self._event.set()
        if cooperative and self._scopes:
            for scope in self._scopes:
                scope.cancel()

    def __repr__(self) -> str:
        state = ", cancelled" if self._requested else ""
        return f"TaskContext({self.task_id!r}, {self.name!r}, attempt={self.attempt}{state})"


def body_of(task: object) -> Body:
    """The callable an attempt of ``task`` runs (``TaskFn.fn``, ``Task.run``, or ``task``).

    ``TaskFn`` and ``TaskSpec`` refuse what cannot run when they are built; this check is for
    what got past them (a spec built around their validation). Whether the callable returns an
    awaitable is only known when an attempt calls it (``_attempt``: the task ends ``FATAL``).

    Raises:
        ConfigTypeError: ``task`` is none of a ``TaskFn``, an object with ``run(ctx)``, a
            callable.
    """
    if isinstance(task, TaskFn):
        fn = task.fn
        if not callable(fn):
            raise ConfigTypeError("TaskFn.fn", "a function f(ctx) returning an awaitable", fn)
        return fn
    run = getattr(task, "run", None)
    if callable(run) and not inspect.isclass(task):
        return run  # type: ignore[no-any-return]
    if callable(task):
        return task
    raise ConfigTypeError("TaskSpec.task", "a Task, a TaskFn or an async function", task)
