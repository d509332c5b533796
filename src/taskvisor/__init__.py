"""taskvisor — supervise the background tasks a long-running service must keep alive.

Restart policies with backoff and jitter, typed lifecycle events, runtime add/remove/cancel by
``TaskId``, named slots for admission control, graceful-then-forceful shutdown. One pure,
deterministic core (``taskvisor.fsm``) and two drivers: the anyio runtime and the simulator
(``taskvisor.sim``). See ``docs/`` and the README.
"""

from taskvisor._errors import (
    AlreadyRunning,
    CommandQueueFull,
    ConfigError,
    ControllerNotConfigured,
    GraceExceeded,
    ShuttingDown,
    TaskAlreadyExists,
    TaskTerminationTimeout,
    TaskvisorError,
)
from taskvisor._task_errors import Canceled, Fail, Fatal, TaskError
from taskvisor.fsm import (
    INHERIT,
    AdmissionPolicy,
    BackoffPolicy,
    BackoffSource,
    ControllerConfig,
    ControllerSpec,
    Event,
    EventKind,
    JitterPolicy,
    OutcomeKind,
    RejectionKind,
    RestartPolicy,
    SlotSnapshot,
    SlotStatus,
    TaskDefaults,
    TaskFn,
    TaskId,
    TaskOutcome,
    TaskSpec,
)
from taskvisor.runtime import (
    LogSubscriber,
    Supervisor,
    SupervisorConfig,
    SupervisorHandle,
    Task,
    TaskContext,
    TaskWaiter,
)

__version__ = "0.1.0"

__all__ = [
    "INHERIT",
    "AdmissionPolicy",
    "AlreadyRunning",
    "BackoffPolicy",
    "BackoffSource",
    "Canceled",
    "CommandQueueFull",
    "ConfigError",
    "ControllerConfig",
    "ControllerNotConfigured",
    "ControllerSpec",
    "Event",
    "EventKind",
    "Fail",
    "Fatal",
    "GraceExceeded",
    "JitterPolicy",
    "LogSubscriber",
    "OutcomeKind",
    "RejectionKind",
    "RestartPolicy",
    "ShuttingDown",
    "SlotSnapshot",
    "SlotStatus",
    "Supervisor",
    "SupervisorConfig",
    "SupervisorHandle",
    "Task",
    "TaskAlreadyExists",
    "TaskContext",
    "TaskDefaults",
    "TaskError",
    "TaskFn",
    "TaskId",
    "TaskOutcome",
    "TaskSpec",
    "TaskTerminationTimeout",
    "TaskWaiter",
    "TaskvisorError",
]
