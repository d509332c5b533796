"""taskvisor.fsm — the pure, deterministic core (public low-level API, like ``trio.lowlevel``).

Every decision the supervisor makes is a transition ``step(state, input, now, rng) ->
(state, effects)`` of this package. ``now`` is integer nanoseconds, ``rng`` any object with
``random()``. Nothing here does I/O, reads a clock or touches a global generator
(architecture.md, rules 1-3); the asyncio runtime and the simulator drive it alike.
"""

from taskvisor._errors import ConfigError
from taskvisor.fsm._backoff import (
    EMPTY_STREAK,
    RetryStreak,
    base_ns,
    jitter_ns,
    needs_draw,
    next_delay_ns,
    scale,
)
from taskvisor.fsm._bus import BusState, SubscriberInfo
from taskvisor.fsm._duration import NS_PER_S, Duration, ns_to_s, to_ns
from taskvisor.fsm._effects import (
    Abandon,
    AddReply,
    Effect,
    Finished,
    ForceCancel,
    Publish,
    RemoveReply,
    RequestCancel,
    ShutdownDone,
    StartAttempt,
)
from taskvisor.fsm._events import (
    DIAGNOSTIC_KINDS,
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
    Input,
    Remove,
    Shutdown,
    SubscriberPanicked,
    Tick,
)
from taskvisor.fsm._invariants import InvariantViolation, check_state, check_step, check_trace
from taskvisor.fsm._pmap import PMap
from taskvisor.fsm._policy import BackoffPolicy, JitterPolicy, RestartMode, RestartPolicy
from taskvisor.fsm._spec import INHERIT, ResolvedSpec, TaskDefaults, TaskFn, TaskSpec
from taskvisor.fsm._supervisor import (
    CancelCause,
    CoreConfig,
    RandomSource,
    ShutdownState,
    SupervisorState,
    TaskState,
    next_deadline,
    step,
)
from taskvisor.fsm._table import TRANSITIONS, IllegalTransition, Phase, Trigger

__all__ = [
    "DIAGNOSTIC_KINDS",
    "EMPTY_STREAK",
    "INHERIT",
    "NS_PER_S",
    "TICK",
    "TRANSITIONS",
    "Abandon",
    "AddReply",
    "AddTasks",
    "AttemptEnded",
    "BackoffPolicy",
    "BackoffSource",
    "BusState",
    "CancelCause",
    "ConfigError",
    "CoreConfig",
    "Duration",
    "Effect",
    "EndKind",
    "Event",
    "EventKind",
    "EventsConsumed",
    "Finished",
    "ForceCancel",
    "IllegalTransition",
    "Input",
    "InvariantViolation",
    "JitterPolicy",
    "OutcomeKind",
    "PMap",
    "Phase",
    "Publish",
    "RandomSource",
    "RejectionKind",
    "Remove",
    "RemoveReply",
    "RequestCancel",
    "ResolvedSpec",
    "RestartMode",
    "RestartPolicy",
    "RetryStreak",
    "Shutdown",
    "ShutdownDone",
    "ShutdownState",
    "StartAttempt",
    "SubscriberInfo",
    "SubscriberPanicked",
    "SupervisorState",
    "TaskDefaults",
    "TaskFn",
    "TaskId",
    "TaskOutcome",
    "TaskSpec",
    "TaskState",
    "Tick",
    "Trigger",
    "base_ns",
    "check_state",
    "check_step",
    "check_trace",
    "jitter_ns",
    "needs_draw",
    "next_deadline",
    "next_delay_ns",
    "ns_to_s",
    "scale",
    "step",
    "to_ns",
]
