"""``Supervisor``: the public entry point, ``run(specs)`` and ``async with serve() as handle``.

Owns: the supervisor object (config, subscribers, defaults, its random source), single-shot
use (``AlreadyRunning``), the session around a ``Driver`` (background tasks, the host's cancel
scope, graceful shutdown on leaving, which exception wins), and ``run``'s batch semantics and
signal handling. Must not decide anything about tasks (rule 5): that is the core's, through
the driver.

Signals (docs/spec/api.md section 9): ``run`` takes SIGINT/SIGTERM whenever it runs in the main
thread;
``serve`` only those whose handler is still the default one (``_signals.signals_to_handle``), so
it never takes a signal from a web server that owns it. A signal starts a graceful shutdown;
once it is complete, ``serve`` cancels the block's body through the host's cancel scope (as
``asyncio.timeout`` does), and the block exits normally.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from taskvisor._errors import (
    AlreadyRunning,
    ConfigError,
    CriticalTaskFailed,
    GraceExceeded,
    RestartIntensityExceeded,
)
from taskvisor.fsm import ControllerConfig, Escalate, TaskDefaults, TaskOutcome, TaskSpec
from taskvisor.runtime._config import SupervisorConfig
from taskvisor.runtime._driver import Driver
from taskvisor.runtime._handle import SupervisorHandle, check_spec
from taskvisor.runtime._log import LogSubscriber
from taskvisor.runtime._signals import signals_to_handle
from taskvisor.runtime._subscriber import Subscriber

__all__ = ["Supervisor"]


class Supervisor:
    """Supervises async tasks: restarts them by policy, reports events, shuts down gracefully.

    A supervisor is single-shot: call ``run`` or enter ``serve`` once.

    Args:
        config: the supervisor's settings.
        subscribers: objects with ``on_event(event)`` (plain or ``async``), and optionally
            ``name`` and ``queue_capacity``; each gets its own bounded queue and worker.
            None (the default) means ``[LogSubscriber()]``, so failures are never silent; an
            explicit sequence, even an empty one, is used as given.
        controller: admission control (docs/spec/api.md section 6): named slots that ``submit``
        feeds;
            None (the default) leaves ``submit`` raising ``ControllerNotConfigured``.
        defaults: what a ``TaskSpec`` field that is not given inherits.
    """

    def __init__(
        self,
        config: SupervisorConfig | None = None,
        subscribers: Sequence[Subscriber] | None = None,
        controller: ControllerConfig | None = None,
        defaults: TaskDefaults | None = None,
    ) -> None:
        config = SupervisorConfig() if config is None else config
        if not isinstance(config, SupervisorConfig):
            raise ConfigError("Supervisor.config", f"expected a SupervisorConfig, got {config!r}")
        defaults = TaskDefaults() if defaults is None else defaults
        if not isinstance(defaults, TaskDefaults):
            raise ConfigError("Supervisor.defaults", f"expected TaskDefaults, got {defaults!r}")
        if controller is not None and not isinstance(controller, ControllerConfig):
            raise ConfigError(
                "Supervisor.controller", f"expected a ControllerConfig or None, got {controller!r}"
            )
        if subscribers is None:
            subscribers = (LogSubscriber(),)
        if isinstance(subscribers, str | bytes) or not isinstance(subscribers, Iterable):
            raise ConfigError("Supervisor.subscribers", f"expected a sequence, got {subscribers!r}")
        self._config = config
        self._subscribers = tuple(subscribers)
        self._defaults = defaults
        self._controller = controller
        self._rng: Any = config.make_random()
        self._used = False
        self._driver: Driver | None = None

    @property
    def config(self) -> SupervisorConfig:
        """The settings this supervisor was built with."""
        return self._config

    def _claim(self) -> None:
        if self._used:
            raise AlreadyRunning("a Supervisor runs once: build a new one")
        self._used = True

    @property
    def stopped_by(self) -> str | None:
        """The signal that shut this supervisor down (``"SIGTERM"``, ``"SIGINT"``), else None."""
        return None if self._driver is None else self._driver.stopped_by

    async def run(
        self, specs: Iterable[TaskSpec], *, signals: bool = True
    ) -> dict[str, TaskOutcome]:
        """Run ``specs`` until every one has ended, or until a shutdown (SIGINT/SIGTERM).

        The batch is registered all-or-nothing. SIGINT and SIGTERM (when called from the main
        thread) start a graceful shutdown; the previous handlers are restored afterwards.

        Args:
            specs: the tasks to run.
            signals: False leaves SIGINT and SIGTERM alone.

        Returns:
            Each task's outcome by name. Returning means every task and the supervisor are
            gone (subscribers drained), not that the tasks succeeded.

        Raises:
            AlreadyRunning: this supervisor already ran.
            TaskAlreadyExists: two specs share a name; no task body ran (every item got
                ``TASK_ADD_FAILED``).
            GraceExceeded: some tasks had to be force-cancelled during the shutdown.
            ConfigError: an item is not a valid ``TaskSpec``, or names a retry budget the
                configuration does not have.
        """
        budgets = self._config.retry_budgets
        batch = [check_spec(spec, f"specs[{i}]", budgets) for i, spec in enumerate(specs)]
        taken = signals_to_handle(only_default=False) if signals else ()
        async with self._session(taken) as driver:
            watches = await SupervisorHandle(driver).add_batch(batch)
            driver.batch = {tid for tid, w in watches if w.outcome is None}
            if not driver.batch:
                driver.run_wake.set()
            await driver.run_wake.wait()
        return {
            spec.name: w.outcome
            for spec, (_, w) in zip(batch, watches, strict=True)
            if w.outcome is not None
        }

    @asynccontextmanager
    async def serve(self, *, signals: bool = True) -> AsyncIterator[SupervisorHandle]:
        """Run the supervisor for the duration of the block; leaving it shuts down gracefully.

        In the main thread, SIGINT and SIGTERM, each if its handler is still the default one,
        start a graceful shutdown; once it is complete the block's body is cancelled (like
        ``asyncio.timeout``: at its current ``await``) and the block exits normally. The
        previous handlers are restored on leaving.

        Args:
            signals: False leaves SIGINT and SIGTERM alone (a web server that owns them).

        Yields:
            The handle to add, remove, cancel and list tasks.

        Raises:
            AlreadyRunning: this supervisor already ran.
            GraceExceeded: on leaving, some tasks had to be force-cancelled (unless a
                ``shutdown()`` call already raised it).
        """
        taken = signals_to_handle(only_default=True) if signals else ()
        async with self._session(taken) as driver:
            yield SupervisorHandle(driver)

    @asynccontextmanager
    async def _session(self, signals: tuple[signal.Signals, ...]) -> AsyncIterator[Driver]:
        self._claim()
        try:
            driver = Driver(
                self._config, self._subscribers, self._defaults, self._rng, self._controller
            )
        except BaseException:
            self._used = False  # a bad subscriber: nothing ran, the supervisor stays usable
            raise
        self._driver = driver
        body_error: BaseException | None = None
        async with anyio.create_task_group() as tg:
            await driver.start(tg, signals=signals)
            if signals:
                tg.start_soon(_end_body_after_signal, driver, name="taskvisor signal exit")
            try:
                # The host's own scope: a crash (KeyboardInterrupt in a task) or a runtime
                # failure interrupts the body of the `async with`; its own cancellation ends
                # here and does not escape.
                with anyio.CancelScope() as host:
                    driver.host_scope = host
                    yield driver
            except BaseException as exc:  # the body's error: re-raised after the shutdown
                body_error = exc
            finally:
                driver.host_scope = None
                with anyio.CancelScope(shield=True):
                    await driver.stop()
        # Outside the task group, so nothing is wrapped in an ExceptionGroup.
        if driver.failure is not None:
            raise driver.failure
        if driver.crash is not None:
            raise driver.crash
        escalation = driver.escalation
        if escalation is not None:  # the core shut down on its own (docs/spec/api.md section 8)
            error = escalation_error(escalation)
            if body_error is not None:
                raise error from body_error
            raise error
        if body_error is not None:
            if driver.stuck and not driver.grace_reported:
                body_error.add_note(
                    f"taskvisor: the shutdown that followed force-cancelled {driver.stuck}"
                )
            raise body_error
        if driver.stuck and not driver.grace_reported:
            driver.grace_reported = True
            raise GraceExceeded(self._config.grace, driver.stuck)


def escalation_error(escalation: Escalate) -> CriticalTaskFailed | RestartIntensityExceeded:
    """The error ``run()``/``serve()`` raise after the core escalated (docs/spec/api.md 8)."""
    if escalation.rule == "critical task":
        assert escalation.name is not None
        assert escalation.outcome is not None
        return CriticalTaskFailed(escalation.name, escalation.outcome)
    assert escalation.max_restarts is not None
    assert escalation.within is not None
    return RestartIntensityExceeded(escalation.max_restarts, escalation.within)


async def _end_body_after_signal(driver: Driver) -> None:
    """Once a shutdown that a signal caused is complete, cancel the body of the block."""
    await driver.stopped.wait()
    if driver.stopped_by is not None and driver.host_scope is not None:
        driver.host_scope.cancel()
