"""taskvisor.fsm — the pure, deterministic core (public low-level API, like ``trio.lowlevel``).

Every decision the supervisor makes is a transition ``step(state, input, now, rng) ->
(state, effects)`` of this package. ``now`` is integer nanoseconds, ``rng`` any object with
``random()``. Nothing here does I/O, reads a clock or touches a global generator
(docs/spec/architecture.md, rules 1-3); the asyncio runtime and the simulator drive it alike.

``__all__`` is what a driver of your own needs (docs/spec/api.md section 7): the transition, the
state and its snapshots, the inputs, effects and events, the policies a driver passes in, and
the invariant checks. The arithmetic, the tables and the state's parts stay in the private
modules; ``taskvisor.sim`` and ``taskvisor.testing`` import them from there, as trio's own
packages do with ``trio._core``.
"""

from taskvisor._errors import ConfigError
from taskvisor.fsm._bus import SubscriberInfo
from taskvisor.fsm._decision import Decision
from taskvisor.fsm._duration import NS_PER_S, Duration, ns_to_s, to_ns
from taskvisor.fsm._effects import (
    Abandon,
    AddReply,
    Effect,
    Escalate,
    Finished,
    ForceCancel,
    Publish,
    RemoveReply,
    RequestCancel,
    ShutdownDone,
    StartAttempt,
    SubmitReply,
)
from taskvisor.fsm._events import (
    BackoffSource,
    Event,
    EventKind,
    OutcomeKind,
    RejectionKind,
    TaskId,
    TaskOutcome,
)
from taskvisor.fsm._inputs import (
    TICK,
    AddTasks,
    AttemptEnded,
    EndKind,
    EventsConsumed,
    Heartbeat,
    Input,
    Remove,
    Shutdown,
    Submit,
    SubscriberPanicked,
    SubscriberRecovered,
    Tick,
)
from taskvisor.fsm._intensity import Intensity
from taskvisor.fsm._invariants import InvariantViolation, check_state, check_step, check_trace
from taskvisor.fsm._policy import BackoffPolicy, JitterPolicy, RestartMode, RestartPolicy
from taskvisor.fsm._retry_budget import RetryBudget
from taskvisor.fsm._slots import AdmissionPolicy, ControllerConfig, ControllerSpec
from taskvisor.fsm._spec import INHERIT, TaskDefaults, TaskFn, TaskSpec
from taskvisor.fsm._stepper import CheckerChain, InvariantChecker, StepChecker, Stepper
from taskvisor.fsm._supervisor import (
    CoreConfig,
    RandomSource,
    StateSnapshot,
    SupervisorState,
    TaskView,
    next_deadline,
    step,
)
from taskvisor.fsm._table import IllegalTransition, Phase

__all__ = [
    "INHERIT",
    "NS_PER_S",
    "TICK",
    "Abandon",
    "AddReply",
    "AddTasks",
    "AdmissionPolicy",
    "AttemptEnded",
    "BackoffPolicy",
    "BackoffSource",
    "CheckerChain",
    "ConfigError",
    "ControllerConfig",
    "ControllerSpec",
    "CoreConfig",
    "Decision",
    "Duration",
    "Effect",
    "EndKind",
    "Escalate",
    "Event",
    "EventKind",
    "EventsConsumed",
    "Finished",
    "ForceCancel",
    "Heartbeat",
    "IllegalTransition",
    "Input",
    "Intensity",
    "InvariantChecker",
    "InvariantViolation",
    "JitterPolicy",
    "OutcomeKind",
    "Phase",
    "Publish",
    "RandomSource",
    "RejectionKind",
    "Remove",
    "RemoveReply",
    "RequestCancel",
    "RestartMode",
    "RestartPolicy",
    "RetryBudget",
    "Shutdown",
    "ShutdownDone",
    "StartAttempt",
    "StateSnapshot",
    "StepChecker",
    "Stepper",
    "Submit",
    "SubmitReply",
    "SubscriberInfo",
    "SubscriberPanicked",
    "SubscriberRecovered",
    "SupervisorState",
    "TaskDefaults",
    "TaskFn",
    "TaskId",
    "TaskOutcome",
    "TaskSpec",
    "TaskView",
    "Tick",
    "check_state",
    "check_step",
    "check_trace",
    "next_deadline",
    "ns_to_s",
    "step",
    "to_ns",
]


def _report_public_module() -> None:
    """Public classes say ``taskvisor.fsm.X`` (reprs, tracebacks, pickles), as trio's do.

    They are defined in private modules (``taskvisor.fsm._inputs`` ...). Those ``taskvisor``
    exports as well say ``taskvisor.X`` once ``taskvisor`` is imported. Pickles stay loadable:
    ``taskvisor.fsm.X`` is the same object.
    """
    for name in __all__:
        obj = globals()[name]
        if isinstance(obj, type) and obj.__module__.startswith(f"{__name__}._"):
            obj.__module__ = __name__


_report_public_module()
