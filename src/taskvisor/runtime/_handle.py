"""``SupervisorHandle`` and ``TaskWaiter``: what ``serve()`` hands the user.

The contract: docs/spec/api.md section 4.

Owns: the handle's methods (add, add_and_watch, remove, cancel, by-name forms, list, is_alive,
shutdown, submit, submit_and_watch, controller_snapshot, subscriber_stats, and the ``try_*``
forms that raise ``CommandQueueFull`` instead of waiting for room), the validation of what they
are given, and ``TaskWaiter``. Every command is stepped by the driver (at once while nothing is
queued, else through one of its bounded queues; submissions through the controller's intake)
and is answered by the core's reply effect; ``list``/``is_alive``/``controller_snapshot`` read
the core's current state (authoritative, rule 6), and ``subscriber_stats`` the event bus's
counts. Must not import ``_supervisor``.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Collection, Sequence
from typing import NoReturn

import anyio

from taskvisor._errors import (
    ConfigError,
    ControllerNotConfigured,
    GraceExceeded,
    ShuttingDown,
    TaskAlreadyExists,
    TaskTerminationTimeout,
)
from taskvisor.fsm import (
    AddReply,
    AddTasks,
    ControllerSpec,
    Duration,
    RejectionKind,
    Remove,
    RemoveReply,
    Submit,
    SubmitReply,
    TaskId,
    TaskOutcome,
    TaskSpec,
    ns_to_s,
    to_ns,
)
from taskvisor.fsm._retry_budget import check_budget_name
from taskvisor.fsm._slots import SlotSnapshot
from taskvisor.fsm._supervisor import controller_snapshot
from taskvisor.runtime._bus import SubscriberStats
from taskvisor.runtime._checks import check_task_id
from taskvisor.runtime._context import body_of
from taskvisor.runtime._driver import Driver, Watch, new_task_id
from taskvisor.runtime._snapshot import TaskSnapshot, task_snapshots

__all__ = ["SupervisorHandle", "TaskWaiter", "check_spec"]


class TaskWaiter:
    """Waits for one task's outcome, delivered after the task has left ``list()`` (rule 6).

    Attributes:
        task_id: the task watched.
    """

    __slots__ = ("_watch", "task_id")

    def __init__(self, task_id: TaskId, watch: Watch) -> None:
        self.task_id = task_id
        self._watch = watch

    @property
    def outcome(self) -> TaskOutcome | None:
        """The outcome if the task is gone already, else None (never blocks)."""
        return self._watch.outcome

    async def wait(self) -> TaskOutcome:
        """The task's ``TaskOutcome``, once it has ended for good."""
        return await self._watch.wait()

    def __repr__(self) -> str:
        return f"TaskWaiter({self.task_id!r}, outcome={self._watch.outcome!r})"


def check_spec(
    spec: object, field: str = "spec", budgets: Collection[str] | None = None
) -> TaskSpec:
    """``spec`` if it is a ``TaskSpec`` whose task can run (and whose retry budget is one of
    ``budgets``, when given); ``ConfigError`` naming it otherwise."""
    if not isinstance(spec, TaskSpec):
        raise ConfigError(field, f"expected a TaskSpec, got {spec!r}")
    body_of(spec.task)
    if budgets is not None:
        check_budget(spec, budgets)
    return spec


def check_budget(spec: TaskSpec, budgets: Collection[str]) -> None:
    """An unknown ``retry_budget`` is refused when the task is added (docs/spec/api.md section 8).

    Validation at the boundary, like the spec's type: the core refuses it too, but a refusal
    there would be a driver bug, not the caller's error.
    """
    check_budget_name(spec.name, spec.retry_budget, budgets, "SupervisorConfig.retry_budgets")


def check_cspec(cspec: object, budgets: Collection[str] | None = None) -> ControllerSpec:
    """``cspec`` if it is a ``ControllerSpec`` whose task can run; ``ConfigError`` otherwise."""
    if not isinstance(cspec, ControllerSpec):
        raise ConfigError("cspec", f"expected a ControllerSpec, got {cspec!r}")
    check_spec(cspec.task_spec, "cspec.task_spec", budgets)
    return cspec


def _rejected(reply: AddReply, name: str) -> NoReturn:
    if reply.rejection is RejectionKind.ALREADY_EXISTS:
        raise TaskAlreadyExists(reply.name or name)
    raise ShuttingDown("the supervisor is shutting down and admits no new task")


def _timeout_s(timeout: Duration | None) -> float | None:
    return None if timeout is None else ns_to_s(to_ns(timeout, "cancel.timeout"))


class SupervisorHandle:
    """Control a running supervisor: add, submit, remove, cancel, list, shut down.

    Every ``async`` command is stepped at once while nothing is queued; behind queued ones it
    waits for room in the bounded command queue (``SupervisorConfig.registry_queue_capacity``;
    submissions: the controller's intake, ``ControllerConfig.queue_capacity``), where its
    ``try_*`` form raises ``CommandQueueFull`` instead. Commands after the shutdown completed
    raise ``ShuttingDown`` (``add``, ``submit``) or find nothing (``remove``: False).
    """

    __slots__ = ("_driver",)

    def __init__(self, driver: Driver) -> None:
        self._driver = driver

    # -- adding --------------------------------------------------------------------------------

    async def add(self, spec: TaskSpec) -> TaskId:
        """Register and start a task; returns its id.

        Raises:
            TaskAlreadyExists: a live task has this name (I2).
            ShuttingDown: the supervisor is shutting down.
            ConfigError: the spec names a retry budget the configuration does not have.
        """
        tid, _ = await self._add(spec, watch=False, nowait=False)
        return tid

    async def try_add(self, spec: TaskSpec) -> TaskId:
        """``add``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        tid, _ = await self._add(spec, watch=False, nowait=True)
        return tid

    async def add_and_watch(self, spec: TaskSpec) -> tuple[TaskId, TaskWaiter]:
        """``add``, plus a waiter for the task's outcome (however fast the task ends)."""
        tid, watch = await self._add(spec, watch=True, nowait=False)
        assert watch is not None
        return tid, TaskWaiter(tid, watch)

    async def try_add_and_watch(self, spec: TaskSpec) -> tuple[TaskId, TaskWaiter]:
        """``add_and_watch``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        tid, watch = await self._add(spec, watch=True, nowait=True)
        assert watch is not None
        return tid, TaskWaiter(tid, watch)

    async def _add(
        self, spec: TaskSpec, *, watch: bool, nowait: bool
    ) -> tuple[TaskId, Watch | None]:
        driver = self._driver
        spec = check_spec(spec, budgets=driver.config.retry_budgets)
        tid = TaskId(new_task_id())
        # Watch before the command: the task may end before this coroutine resumes.
        w = driver.watch(tid) if watch else None
        try:
            reply = await driver.command(lambda t: AddTasks(t, ((tid, spec),)), nowait=nowait)
        except BaseException:
            driver.unwatch(tid)
            raise
        assert isinstance(reply, AddReply)
        if reply.rejection is not None:
            _rejected(reply, spec.name)
        return tid, w

    async def add_batch(self, specs: Sequence[TaskSpec]) -> builtins.list[tuple[TaskId, Watch]]:
        """Register ``specs`` all-or-nothing (``run``'s batch); watches every task."""
        driver = self._driver
        budgets = driver.config.retry_budgets
        items = tuple(
            (TaskId(new_task_id()), check_spec(s, f"specs[{i}]", budgets))
            for i, s in enumerate(specs)
        )
        watches = [(tid, driver.watch(tid)) for tid, _ in items]
        try:
            reply = await driver.command(lambda t: AddTasks(t, items), nowait=False)
        except BaseException:
            for tid, _ in items:
                driver.unwatch(tid)
            raise
        assert isinstance(reply, AddReply)
        if reply.rejection is not None:
            _rejected(reply, items[0][1].name if items else "")
        return watches

    # -- removing ------------------------------------------------------------------------------

    async def remove(self, task_id: TaskId) -> bool:
        """Ask the task to stop and leave; True for the one call that claimed it.

        Cancellation is cooperative first (its ``TaskContext`` reports it), forced after
        ``grace``. Returns at once, without waiting for the task to be gone (see ``cancel``).
        """
        reply = await self._remove(check_task_id(task_id, "remove"), None, nowait=False)
        return reply.claimed

    async def try_remove(self, task_id: TaskId) -> bool:
        """``remove``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        reply = await self._remove(check_task_id(task_id, "try_remove"), None, nowait=True)
        return reply.claimed

    async def remove_by_name(self, name: str) -> bool:
        """``remove`` the live task called ``name``."""
        reply = await self._remove(None, name, nowait=False)
        return reply.claimed

    async def try_remove_by_name(self, name: str) -> bool:
        """``remove_by_name``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        reply = await self._remove(None, name, nowait=True)
        return reply.claimed

    async def cancel(self, task_id: TaskId, timeout: Duration | None = None) -> bool:  # noqa: ASYNC109 - docs/spec/api.md
        """``remove``, then wait until the task is gone; True for the call that claimed it.

        Args:
            timeout: how long to wait for the task to be gone once removal was requested
                (None: as long as it takes, which is bounded by ``grace + force_wait``).

        Raises:
            TaskTerminationTimeout: the task was still there after ``timeout``.
        """
        return await self._cancel(check_task_id(task_id, "cancel"), None, timeout, nowait=False)

    async def try_cancel(self, task_id: TaskId, timeout: Duration | None = None) -> bool:  # noqa: ASYNC109 - docs/spec/api.md
        """``cancel``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        return await self._cancel(check_task_id(task_id, "try_cancel"), None, timeout, nowait=True)

    async def cancel_by_name(self, name: str, timeout: Duration | None = None) -> bool:  # noqa: ASYNC109 - docs/spec/api.md
        """``cancel`` the live task called ``name``."""
        return await self._cancel(None, name, timeout, nowait=False)

    async def try_cancel_by_name(
        self,
        name: str,
        timeout: Duration | None = None,  # noqa: ASYNC109 - docs/spec/api.md
    ) -> bool:
        """``cancel_by_name``, raising ``CommandQueueFull`` instead of waiting for queue room."""
        return await self._cancel(None, name, timeout, nowait=True)

    async def _remove(
        self, task_id: TaskId | None, name: str | None, *, nowait: bool
    ) -> RemoveReply:
        driver = self._driver
        if not driver.accepting and driver.failure is None:
            return RemoveReply(0, False, task_id)  # shut down: nothing left to remove
        reply = await driver.command(lambda t: Remove(t, task_id=task_id, name=name), nowait=nowait)
        assert isinstance(reply, RemoveReply)
        return reply

    async def _cancel(
        self,
        task_id: TaskId | None,
        name: str | None,
        timeout: Duration | None,  # noqa: ASYNC109 - the public timeout
        *,
        nowait: bool,
    ) -> bool:
        seconds = _timeout_s(timeout)
        reply = await self._remove(task_id, name, nowait=nowait)
        tid = reply.task_id
        driver = self._driver
        if tid is None or not driver.is_live(tid):
            return reply.claimed
        watch = driver.watch(tid)
        if seconds is None:
            await watch.wait()
        else:
            with anyio.move_on_after(seconds):
                await watch.wait()
            if watch.outcome is None and watch.error is None:
                raise TaskTerminationTimeout(tid, seconds)
            await watch.wait()  # re-raises a runtime failure, if that is what woke us
        return reply.claimed

    # -- reading -------------------------------------------------------------------------------

    def list(self) -> list[tuple[TaskId, str]]:
        """Live tasks as ``(TaskId, name)``, sorted by id (the core's registry: authoritative)."""
        tasks = self._driver.state.tasks
        return [(tid, tasks[tid].name) for tid in sorted(tasks, key=int)]  # ids sort as ints

    def is_alive(self, name: str) -> bool:
        """True while a task of that name is in ``list()``."""
        return name in self._driver.state.names

    def snapshot(self) -> tuple[TaskSnapshot, ...]:
        """Every live task's status, attempt, streak, last failure and next start, by id.

        Read from the core's state without a round trip through the command queue, and
        copied: cheap enough for a health endpoint (docs/spec/api.md section 9).
        """
        driver = self._driver
        return task_snapshots(driver.state, driver.now_ns(), driver.attempts)

    def subscriber_stats(self) -> tuple[SubscriberStats, ...]:
        """Per subscriber, in the order given: events delivered, dropped and panicked since
        the start, and events queued now (the event bus's own counts, read without a round trip).
        """
        return self._driver.bus.subscriber_stats()

    # -- shutting down -------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Graceful shutdown: cancel every task, force after ``grace``, drain subscribers.

        Concurrent calls share one shutdown and one result. Returns when everything is down.

        Raises:
            GraceExceeded: some tasks had to be force-cancelled (``stuck`` names them).
        """
        driver = self._driver
        if not driver.shutdown_requested:
            with contextlib.suppress(ShuttingDown):  # already shutting down, or down
                await driver.send_shutdown()
        await driver.stopped.wait()
        if driver.stuck:
            driver.grace_reported = True
            raise GraceExceeded(driver.config.grace, driver.stuck)

    # -- admission control (docs/spec/api.md section 6)
    # ---------------------------------------------------

    async def submit(self, cspec: ControllerSpec) -> TaskId:
        """Submit ``cspec`` to its slot under its admission policy; returns its id.

        Whatever the core decides, ``submit`` returns the id the submission runs (or would
        have run) under: a rejection (``SLOT_BUSY``, ``QUEUE_FULL``, ``ALREADY_EXISTS``,
        ``CONTROLLER_SHUTTING_DOWN``, later ``SUPERSEDED_BY_REPLACE`` or
        ``REMOVED_FROM_QUEUE``) is the task's outcome, ``REJECTED`` with ``rejection`` set
        (see ``submit_and_watch``). A queued submission can be removed or cancelled by id.

        Raises:
            ControllerNotConfigured: the supervisor was built without ``controller=``.
            ShuttingDown: the supervisor has already stopped (nothing is left to decide).
        """
        tid, _ = await self._submit(cspec, watch=False, nowait=False)
        return tid

    async def try_submit(self, cspec: ControllerSpec) -> TaskId:
        """``submit``, raising ``CommandQueueFull`` when the controller's intake is full."""
        tid, _ = await self._submit(cspec, watch=False, nowait=True)
        return tid

    async def submit_and_watch(self, cspec: ControllerSpec) -> tuple[TaskId, TaskWaiter]:
        """``submit``, plus a waiter for its outcome: the task's own, or ``REJECTED``."""
        tid, watch = await self._submit(cspec, watch=True, nowait=False)
        assert watch is not None
        return tid, TaskWaiter(tid, watch)

    async def try_submit_and_watch(self, cspec: ControllerSpec) -> tuple[TaskId, TaskWaiter]:
        """``submit_and_watch``, raising ``CommandQueueFull`` when the intake is full."""
        tid, watch = await self._submit(cspec, watch=True, nowait=True)
        assert watch is not None
        return tid, TaskWaiter(tid, watch)

    async def _submit(
        self, cspec: ControllerSpec, *, watch: bool, nowait: bool
    ) -> tuple[TaskId, Watch | None]:
        driver = self._driver
        if driver.controller is None:
            raise ControllerNotConfigured("this supervisor was built without controller=")
        cspec = check_cspec(cspec, driver.config.retry_budgets)
        tid = TaskId(new_task_id())
        # Watch before the submission: a rejection (or a task that ends at once) is delivered
        # in the very step that answers it.
        w = driver.watch(tid) if watch else None
        try:
            reply = await driver.command(
                lambda t: Submit(t, tid, cspec), nowait=nowait, intake=True
            )
        except BaseException:
            driver.unwatch(tid)
            raise
        assert isinstance(reply, SubmitReply)
        return tid, w

    def controller_snapshot(self) -> builtins.list[SlotSnapshot]:
        """Every busy slot (status, owner, queue depth), sorted by slot name (the core's state).

        Raises:
            ControllerNotConfigured: the supervisor was built without ``controller=``.
        """
        if self._driver.controller is None:
            raise ControllerNotConfigured("this supervisor was built without controller=")
        return controller_snapshot(self._driver.state)

    def __repr__(self) -> str:
        return f"<SupervisorHandle tasks={len(self._driver.state.tasks)}>"
