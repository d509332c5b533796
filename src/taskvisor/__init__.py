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
    CriticalTaskFailed,
    GraceExceeded,
    RestartIntensityExceeded,
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
    Decision,
    Event,
    EventKind,
    Intensity,
    JitterPolicy,
    OutcomeKind,
    RejectionKind,
    RestartPolicy,
    RetryBudget,
    TaskDefaults,
    TaskFn,
    TaskId,
    TaskOutcome,
    TaskSpec,
)
from taskvisor.fsm._slots import SlotSnapshot, SlotStatus
from taskvisor.runtime import (
    LogSubscriber,
    Subscriber,
    SubscriberStats,
    Supervisor,
    SupervisorConfig,
    SupervisorHandle,
    Task,
    TaskContext,
    TaskSnapshot,
    TaskStatus,
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
    "CriticalTaskFailed",
    "Decision",
    "Event",
    "EventKind",
    "Fail",
    "Fatal",
    "GraceExceeded",
    "Intensity",
    "JitterPolicy",
    "LogSubscriber",
    "OutcomeKind",
    "RejectionKind",
    "RestartIntensityExceeded",
    "RestartPolicy",
    "RetryBudget",
    "ShuttingDown",
    "SlotSnapshot",
    "SlotStatus",
    "Subscriber",
    "SubscriberStats",
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
    "TaskSnapshot",
    "TaskSpec",
    "TaskStatus",
    "TaskTerminationTimeout",
    "TaskWaiter",
    "TaskvisorError",
]


def _report_public_module() -> None:
    """Public classes say ``taskvisor.X`` (reprs, tracebacks, pickles), as trio's do.

    They are defined in private modules (``taskvisor.fsm._spec`` ...); their home for users is
    here. Pickles stay loadable: ``taskvisor.X`` is the same object.
    """
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) and obj.__module__.startswith("taskvisor."):
            obj.__module__ = "taskvisor"


_report_public_module()
