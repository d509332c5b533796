"""The exceptions of taskvisor, public through ``taskvisor``.

Owns: every exception class the library raises or lets task bodies raise.
Must not import: anything that does I/O; the pure core (``taskvisor.fsm``) imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the core imports this module: only the type, never at run time
    from taskvisor.fsm import TaskOutcome

__all__ = [
    "AlreadyRunning",
    "CommandQueueFull",
    "ConfigError",
    "ConfigTypeError",
    "ControllerNotConfigured",
    "CriticalTaskFailed",
    "GraceExceeded",
    "RestartIntensityExceeded",
    "ShuttingDown",
    "TaskAlreadyExists",
    "TaskTerminationTimeout",
    "TaskvisorError",
]


class TaskvisorError(Exception):
    """Base class of every error taskvisor raises."""


class ConfigError(TaskvisorError, ValueError):
    """A policy, spec or config value is invalid.

    Attributes:
        field: the name of the offending field, e.g. ``"BackoffPolicy.first"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self._init_args: tuple[object, ...] = (field, message)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[object, ...]]:
        # Picklable, for sweeps that run in worker processes.
        return type(self), self._init_args


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong type: a ``ConfigError`` naming the field that is also a ``TypeError``.

    So ``except TypeError`` and ``except ConfigError`` both catch it, as a Python user expects
    of a wrong type and as every other bad value of a policy, spec or config is reported.
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        super().__init__(field, f"expected {expected}, got {got!r}")
        self._init_args = (field, expected, got)


class TaskAlreadyExists(TaskvisorError):
    """A live task already has this name (I2)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a task named {name!r} already exists")
        self.name = name


class ShuttingDown(TaskvisorError):
    """The supervisor is shutting down (or has shut down) and admits nothing new."""


class GraceExceeded(TaskvisorError):
    """Some tasks did not stop within ``grace`` and had to be force-cancelled.

    Attributes:
        grace: the grace period in seconds.
        stuck: names of the tasks that had to be force-cancelled, sorted.
    """

    def __init__(self, grace: float, stuck: tuple[str, ...]) -> None:
        super().__init__(f"tasks did not stop within {grace:g}s: {', '.join(stuck)}")
        self.grace = grace
        self.stuck = stuck


class CommandQueueFull(TaskvisorError):
    """A ``try_*`` call found the bounded command queue full."""


class TaskTerminationTimeout(TaskvisorError):
    """``cancel(task_id, timeout=...)`` gave up waiting for the task to be gone."""

    def __init__(self, task_id: object, timeout: float) -> None:
        super().__init__(f"task {task_id} was not gone within {timeout:g}s")
        self.task_id = task_id
        self.timeout = timeout


class AlreadyRunning(TaskvisorError):
    """``Supervisor.run``/``serve`` was called a second time; a supervisor is single-shot."""


class ControllerNotConfigured(TaskvisorError):
    """``submit`` was called on a supervisor built without ``controller=``."""


class RestartIntensityExceeded(TaskvisorError):
    """The supervisor's restart intensity was exceeded: it shut down (docs/spec/api.md 8).

    Raised by ``run()`` / on leaving ``serve()`` once everything is down.

    Attributes:
        max_restarts: the restarts its ``SupervisorConfig.intensity`` allows...
        within: ...within this many seconds.
    """

    def __init__(self, max_restarts: int, within: float) -> None:
        super().__init__(
            f"more than {max_restarts} restarts within {within:g}s: the supervisor shut down"
        )
        self.max_restarts = max_restarts
        self.within = within


class CriticalTaskFailed(TaskvisorError):
    """A critical task ended FAILED or FATAL: the supervisor shut down (docs/spec/api.md 8).

    Raised by ``run()`` / on leaving ``serve()`` once everything is down.

    Attributes:
        name: the critical task's name.
        outcome: its ``TaskOutcome``.
    """

    def __init__(self, name: str, outcome: TaskOutcome) -> None:
        super().__init__(f"critical task {name!r} ended {outcome.kind.name}: {outcome.reason}")
        self.name = name
        self.outcome = outcome
