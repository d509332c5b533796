"""The supervisor machine: registry, task lifecycles, run permits, shutdown and event fan-out.

Owns: the core's settings (``CoreConfig``), the state (``SupervisorState``,
``TaskState``) and its plain copies (``StateSnapshot``, ``TaskView``), and
``step(state, input, now, rng) -> (state, effects)``, the one chokepoint through which every
decision passes (architecture rules 2-5). The state is owned: ``step`` mutates the object it is
given and returns it; nothing on the hot path copies it (rule 3). ``now`` is integer nanoseconds;
``rng`` is any object with ``random() -> float``; it is drawn from for jitter unless
``CoreConfig.seed`` gives every task its own stream (``_streams``, I8).
Every task move is checked against ``_table.TRANSITIONS``. The function does not know who
drives it: the asyncio runtime and the simulator call it alike. Must not import I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, NamedTuple, Protocol, assert_never

import attrs

from taskvisor._errors import ConfigError
from taskvisor._task_errors import TaskError
from taskvisor.fsm._backoff import EMPTY_STREAK, RetryStreak, needs_draw
from taskvisor.fsm._budget import exhausted
from taskvisor.fsm._bus import BusState, SubscriberInfo
from taskvisor.fsm._decision import (
    RULE_BACKOFF,
    RULE_BUDGET,
    RULE_COMPLETED,
    RULE_FATAL,
    RULE_GAVE_UP,
    RULE_INTENSITY,
    RULE_NEVER,
    RULE_NOT_RETRIED,
    RULE_RESET,
    RULE_RETRY_LIMIT,
    RULE_SUPERVISOR_INTENSITY,
    Decision,
    failure_pause,
    final_decision,
    start_pause,
    success_pause,
)
from taskvisor.fsm._duration import NS_PER_S, capacity, ns_to_s, to_ns
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
    member_view,
)
from taskvisor.fsm._inputs import (
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
from taskvisor.fsm._intensity import Intensity, allows, count_within, record
from taskvisor.fsm._policy import RestartMode
from taskvisor.fsm._retry_budget import Bucket, RetryBudget, check_budget_name, check_budgets
from taskvisor.fsm._slots import (
    REJECTION_OF,
    ControllerConfig,
    Slot,
    SlotDecision,
    SlotSnapshot,
    SlotStatus,
    SlotTrigger,
    Submission,
    check_slot_move,
    decide,
)
from taskvisor.fsm._spec import ResolvedSpec, TaskDefaults, TaskSpec
from taskvisor.fsm._streams import next_uniform, stream_seed
from taskvisor.fsm._table import CancelCause, Phase, Trigger, check_move

__all__ = [
    "CoreConfig",
    "RandomSource",
    "ShutdownState",
    "StateSnapshot",
    "SupervisorState",
    "TaskState",
    "TaskView",
    "controller_snapshot",
    "next_deadline",
    "step",
]

EK = EventKind

if not TYPE_CHECKING:
    # Enum members are read all through every step, and in CPython 3.11 ``Phase.RUNNING``
    # dispatches through EnumType.__getattr__ (~0.1 µs a read: a fifth of an ended attempt's
    # step). In this module the enum names stand for plain classes holding the very same
    # members (``member_view``): ``is`` tests, events and effects are unchanged, and mypy
    # still reads the enums imported above. Here these names are only ever read for members
    # (annotations are strings).
    (
        EK,
        Phase,
        Trigger,
        CancelCause,
        EndKind,
        RestartMode,
        BackoffSource,
        OutcomeKind,
        RejectionKind,
        SlotStatus,
        SlotTrigger,
        SlotDecision,
    ) = (
        member_view(e)
        for e in (
            EventKind,
            Phase,
            Trigger,
            CancelCause,
            EndKind,
            RestartMode,
            BackoffSource,
            OutcomeKind,
            RejectionKind,
            SlotStatus,
            SlotTrigger,
            SlotDecision,
        )
    )


class RandomSource(Protocol):
    """Where the core's random draws come from: ``random.Random`` or any seeded equivalent."""

    def random(self) -> float: ...


@attrs.frozen(init=False)
class CoreConfig:
    """The settings the core decides with (a driver builds it from its own configuration).

    Attributes:
        grace_ns: how long a cooperative cancellation waits before forcing (0: force at once).
        force_wait_ns: how long a forced attempt may take to end before it is abandoned.
        max_concurrent: the most attempts running at once (None: unlimited).
        subscribers: name and queue capacity of each subscriber, by index.
        defaults: what ``INHERIT`` spec fields take.
        controller: the admission controller's bounds (None: no controller).
        intensity: the supervisor-wide restart intensity (None: unlimited); when exceeded the
            supervisor shuts down (docs/spec/api.md section 8, I10).
        retry_budgets: the shared retry budgets by name, sorted (docs/spec/api.md section 8; I9).
        seed: with a seed, each task draws from its own stream, derived from the seed, its
            name and its incarnation (I8); without one, every task draws from ``rng``.
    """

    grace_ns: int
    force_wait_ns: int
    max_concurrent: int | None
    subscribers: tuple[SubscriberInfo, ...]
    defaults: TaskDefaults
    controller: ControllerConfig | None
    capacities: tuple[int, ...] = attrs.field(eq=False, repr=False)
    intensity: Intensity | None = None
    retry_budgets: tuple[tuple[str, RetryBudget], ...] = ()
    seed: int | None = None

    def __init__(
        self,
        grace: object = 60.0,
        *,
        force_wait: object = 1.0,
        max_concurrent: int | None = None,
        subscribers: Sequence[SubscriberInfo] = (),
        defaults: TaskDefaults | None = None,
        controller: ControllerConfig | None = None,
        intensity: Intensity | None = None,
        retry_budgets: Mapping[str, RetryBudget] | None = None,
        seed: int | None = None,
    ) -> None:
        """Validate and convert: durations in seconds (or timedelta), as a test or a tool
        writes them. Errors name ``CoreConfig`` fields; the runtime, which has validated its
        own configuration already, uses ``checked`` instead (one value, one error)."""
        grace_ns = to_ns(grace, "CoreConfig.grace")
        force_ns = to_ns(force_wait, "CoreConfig.force_wait")
        if max_concurrent is not None:
            max_concurrent = capacity(max_concurrent, "CoreConfig.max_concurrent")
        subs = tuple(subscribers)
        for sub in subs:
            capacity(sub.capacity, f"CoreConfig.subscribers[{sub.name!r}].capacity")
        defaults = TaskDefaults() if defaults is None else defaults
        if not isinstance(defaults, TaskDefaults):
            raise ConfigError("CoreConfig.defaults", f"expected TaskDefaults, got {defaults!r}")
        if controller is not None and not isinstance(controller, ControllerConfig):
            raise ConfigError(
                "CoreConfig.controller", f"expected ControllerConfig, got {controller!r}"
            )
        if intensity is not None and not isinstance(intensity, Intensity):
            raise ConfigError(
                "CoreConfig.intensity", f"expected an Intensity or None, got {intensity!r}"
            )
        budgets = check_budgets(retry_budgets, "CoreConfig.retry_budgets")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError("CoreConfig.seed", f"expected an int or None, got {seed!r}")
        self._init(
            grace_ns, force_ns, max_concurrent, subs, defaults, controller, intensity, budgets, seed
        )

    @classmethod
    def checked(
        cls,
        *,
        grace_ns: int,
        force_wait_ns: int,
        max_concurrent: int | None,
        subscribers: Sequence[SubscriberInfo],
        defaults: TaskDefaults,
        controller: ControllerConfig | None,
        intensity: Intensity | None,
        retry_budgets: Mapping[str, RetryBudget] | None = None,
        seed: int | None = None,
    ) -> CoreConfig:
        """Build from values a driver has already validated at its public boundary."""
        config = cls.__new__(cls)
        config._init(
            grace_ns,
            force_wait_ns,
            max_concurrent,
            tuple(subscribers),
            defaults,
            controller,
            intensity,
            tuple(sorted((retry_budgets or {}).items())),
            seed,
        )
        return config

    def _init(
        self,
        grace_ns: int,
        force_ns: int,
        max_concurrent: int | None,
        subs: tuple[SubscriberInfo, ...],
        defaults: TaskDefaults,
        controller: ControllerConfig | None,
        intensity: Intensity | None,
        budgets: tuple[tuple[str, RetryBudget], ...] = (),
        seed: int | None = None,
    ) -> None:
        caps = tuple(s.capacity for s in subs)
        self.__attrs_init__(
            grace_ns,
            force_ns,
            max_concurrent,
            subs,
            defaults,
            controller,
            caps,
            intensity,
            budgets,
            seed,
        )


class TaskState:
    """One live task, owned by the state that holds it (mutated in place by ``step``).

    ``timer`` is the token of its one live deadline (lazy heap deletion); ``wait_token`` its
    place in the run-permit queue while WAITING. ``stream`` is its own random stream's state
    (None: it draws from the shared source); ``decision`` why its current pause was scheduled
    (source BUDGET while in BACKOFF: it holds a retry budget's token and waits for it, I9).
    """

    __slots__ = (
        "attempt",
        "cause",
        "deadline",
        "decision",
        "forced",
        "id",
        "last_beat",
        "last_failure",
        "name",
        "phase",
        "policy",
        "restarts",
        "spec",
        "started_at",
        "streak",
        "streak_start",
        "stream",
        "timeout_at",
        "timer",
        "wait_token",
    )

    def __init__(
        self, tid: TaskId, name: str, spec: TaskSpec, policy: ResolvedSpec, phase: Phase
    ) -> None:
        self.id = tid
        self.name = name
        self.spec = spec
        self.policy = policy
        self.phase = phase
        self.attempt = 0
        self.streak: RetryStreak = EMPTY_STREAK
        self.timer: int | None = None
        self.deadline: int | None = None
        self.started_at = 0
        self.cause: CancelCause | None = None
        self.forced = False
        self.wait_token: int | None = None
        # Crash-loop controls (docs/spec/api.md section 8): when the current failure streak's
        # first failure happened, the times of the restarts that followed failures
        # within the task's intensity window, the running attempt's timeout and last heartbeat.
        self.streak_start = 0
        self.restarts: deque[int] | None = None
        self.timeout_at: int | None = None
        self.last_beat = 0
        self.last_failure: str | None = None  # the latest failure's reason (h.snapshot())
        # Retry shaping (docs/spec/api.md section 8): its own random stream, and why its current
        # pause.
        self.stream: int | None = None
        self.decision: Decision | None = None

    def view(self) -> TaskView:
        """A plain immutable copy (what snapshots and readers outside the core hold)."""
        return TaskView(
            self.id,
            self.name,
            self.policy,
            self.phase,
            self.attempt,
            self.streak,
            self.deadline,
            self.started_at,
            self.cause,
            self.forced,
            self.streak_start,
            () if self.restarts is None else tuple(self.restarts),
            self.last_beat,
            self.last_failure,
            self.stream,
            self.decision,
        )

    def copy(self) -> TaskState:
        new = TaskState(self.id, self.name, self.spec, self.policy, self.phase)
        for field in TaskState.__slots__:
            setattr(new, field, getattr(self, field))
        if self.restarts is not None:
            new.restarts = deque(self.restarts)
        return new

    def __repr__(self) -> str:
        return f"TaskState({self.view()!r})"


class TaskView(NamedTuple):
    """An immutable copy of one task's state (no timer tokens: their order among equal
    deadlines is ``StateSnapshot.ties``)."""

    id: TaskId
    name: str
    policy: ResolvedSpec
    phase: Phase
    attempt: int
    streak: RetryStreak
    deadline: int | None
    started_at: int
    cause: CancelCause | None
    forced: bool
    streak_start: int
    restarts: tuple[int, ...]
    last_beat: int
    last_failure: str | None
    stream: int | None = None
    decision: Decision | None = None


@attrs.frozen
class ShutdownState:
    """Shutdown in progress (or done): when it began and which tasks had to be forced."""

    requested_at: int
    stuck: tuple[str, ...] = ()
    done: bool = False
    reason: str | None = None


@attrs.frozen
class StateSnapshot:
    """A plain, comparable, hashable copy of a ``SupervisorState`` (``state.snapshot()``).

    Checkers compare a snapshot taken before a step with the state after it, and explorers
    deduplicate states by it; production never takes one (architecture rule 3). Raw token
    counters (timer and permit-queue tokens) are left out, but what they decide is kept: the
    permit queue's FIFO order (``ready``) and, among deadlines at the same instant, which fires
    first (``ties``; a tick fires equal deadlines in token order, I8). So two snapshots are
    equal exactly when the states behave alike (docs/spec/core.md).

    Attributes:
        tasks: every live task, sorted by id.
        names: live names and their ids, sorted by name.
        running: run permits held.
        ready: the ids WAITING for a permit, in FIFO order.
        seq: the ``seq`` of the next event.
        bus: the subscriber queues (``BusState.snapshot()``).
        shutdown: None until shutdown is requested.
        accepted, finished: tasks ever admitted and ever ended.
        slots: the busy slots, sorted by name.
        slot_of: the slot of every owner and queued submission, sorted by id.
        budgets: each retry budget's ``(name, (level, at, grants))``, sorted by name.
        incarnations: how many tasks each name has had (with a seed), sorted by name.
        ties: for each instant at which two or more live deadlines fall, the ids of their
            tasks in the order a tick fires them; instants in time order. Only the rank among
            equal deadlines is kept, not the tokens, so states reached by different paths
            with the same firing order compare equal.
    """

    tasks: tuple[TaskView, ...]
    names: tuple[tuple[str, TaskId], ...]
    running: int
    ready: tuple[TaskId, ...]
    seq: int
    bus: tuple[object, ...]
    shutdown: ShutdownState | None
    accepted: int
    finished: int
    slots: tuple[Slot, ...]
    slot_of: tuple[tuple[TaskId, str], ...]
    restarts: tuple[int, ...] = ()
    escalation: Escalate | None = None
    budgets: tuple[tuple[str, tuple[int, int | None, tuple[int, ...]]], ...] = ()
    incarnations: tuple[tuple[str, int], ...] = ()
    ties: tuple[tuple[TaskId, ...], ...] = ()

    def task(self, tid: TaskId) -> TaskView | None:
        """The task with id ``tid``, if live."""
        for t in self.tasks:
            if t.id == tid:
                return t
        return None

    def next_deadline(self) -> int | None:
        """What ``next_deadline`` returned for the state this snapshot was taken of."""
        return min((t.deadline for t in self.tasks if t.deadline is not None), default=None)


class SupervisorState:
    """Everything the core knows, owned by one driver and mutated in place by ``step``.

    Attributes:
        tasks: live tasks by id (what ``list()`` shows).
        names: live names to ids (I2).
        running: run permits held: attempts RUNNING or STOPPING (I3).
        ready: tasks WAITING for a permit, FIFO by ``ready_head..ready_tail`` (token -> id).
        timers: every deadline, a ``heapq`` of ``(deadline, token, id)``; an entry whose token
            no longer matches its task is stale and skipped (lazy deletion).
        seq: the ``seq`` of the next event.
        bus: subscriber queue depths and drops (I5).
        shutdown: None until shutdown is requested.
        accepted, finished: tasks ever admitted and ever ended (I1: equal once all are gone).
        slots: slots that are not idle-and-empty, by name (I6).
        slot_of: the slot of every owner and every queued submission, by task id.
        budgets: each shared retry budget's bucket, by name (I9).
        incarnations: with a seed, how many tasks each name has had (its streams, I8). One
            int per distinct name ever registered: memory grows with distinct names.
    """

    __slots__ = (
        "accepted",
        "budgets",
        "bus",
        "config",
        "escalation",
        "finished",
        "incarnations",
        "names",
        "ready",
        "ready_head",
        "ready_tail",
        "restarts",
        "running",
        "seq",
        "shutdown",
        "slot_of",
        "slots",
        "tasks",
        "timer_seq",
        "timers",
        "txn",
    )

    def __init__(self, config: CoreConfig) -> None:
        self.config = config
        self.txn: _Txn | None = None  # the step's scratch, made once per state (see ``step``)
        self.tasks: dict[TaskId, TaskState] = {}
        self.names: dict[str, TaskId] = {}
        self.running = 0
        self.ready: dict[int, TaskId] = {}
        self.ready_head = 0
        self.ready_tail = 0
        self.timers: list[tuple[int, int, TaskId]] = []
        self.timer_seq = 0
        self.seq = 0
        self.bus = BusState.empty(len(config.subscribers))
        self.shutdown: ShutdownState | None = None
        self.accepted = 0
        self.finished = 0
        self.slots: dict[str, Slot] = {}
        self.slot_of: dict[TaskId, str] = {}
        self.restarts: deque[int] = deque()  # the supervisor's intensity window (I10)
        self.escalation: Escalate | None = None  # why the core shut itself down, if it did
        self.budgets = {name: Bucket(budget) for name, budget in config.retry_budgets}
        self.incarnations: dict[str, int] = {}

    @classmethod
    def initial(cls, config: CoreConfig) -> SupervisorState:
        """A supervisor with no tasks, admitting."""
        return cls(config)

    def snapshot(self) -> StateSnapshot:
        """A plain comparable copy of this state, for checkers and tests (never on a hot path)."""
        tasks = self.tasks
        ready = tuple(
            tid
            for token, tid in self.ready.items()
            if (t := tasks.get(tid)) is not None and t.wait_token == token
        )
        return StateSnapshot(
            tasks=tuple(tasks[tid].view() for tid in sorted(tasks)),
            names=tuple(sorted(self.names.items())),
            running=self.running,
            ready=ready,
            seq=self.seq,
            bus=self.bus.snapshot(),
            shutdown=self.shutdown,
            accepted=self.accepted,
            finished=self.finished,
            slots=tuple(self.slots[name] for name in sorted(self.slots)),
            slot_of=tuple(sorted(self.slot_of.items())),
            restarts=tuple(self.restarts),
            escalation=self.escalation,
            budgets=tuple((name, b.snapshot()) for name, b in sorted(self.budgets.items())),
            incarnations=tuple(sorted(self.incarnations.items())),
            ties=_ties(tasks),
        )

    def clone(self) -> SupervisorState:
        """An independent copy that steps on its own (for explorers that branch)."""
        new = SupervisorState(self.config)
        new.tasks = {tid: t.copy() for tid, t in self.tasks.items()}
        new.names = dict(self.names)
        new.running = self.running
        new.ready = dict(self.ready)
        new.ready_head = self.ready_head
        new.ready_tail = self.ready_tail
        new.timers = list(self.timers)
        new.timer_seq = self.timer_seq
        new.seq = self.seq
        new.bus = self.bus.copy()
        new.shutdown = self.shutdown
        new.accepted = self.accepted
        new.finished = self.finished
        new.slots = dict(self.slots)
        new.slot_of = dict(self.slot_of)
        new.restarts = deque(self.restarts)
        new.escalation = self.escalation
        new.budgets = {name: b.copy() for name, b in self.budgets.items()}
        new.incarnations = dict(self.incarnations)
        return new

    def __repr__(self) -> str:
        return f"<SupervisorState tasks={len(self.tasks)} seq={self.seq}>"


def _ties(tasks: Mapping[TaskId, TaskState]) -> tuple[tuple[TaskId, ...], ...]:
    """The firing order of equal deadlines (``StateSnapshot.ties``): at one instant a tick fires
    the live deadlines in token order, which decides e.g. who takes the one free run permit or
    a retry budget's next token, so it is part of what a state will do (I8)."""
    live = sorted(
        (t.deadline, t.timer, t.id)
        for t in tasks.values()
        if t.timer is not None and t.deadline is not None
    )
    ties: list[tuple[TaskId, ...]] = []
    for _, group in groupby(live, key=itemgetter(0)):
        ids = tuple(tid for _, _, tid in group)
        if len(ids) > 1:
            ties.append(ids)
    return tuple(ties)


def controller_snapshot(state: SupervisorState) -> list[SlotSnapshot]:
    """Every busy slot: status, owner and queue depth, sorted by slot name."""
    return [
        SlotSnapshot(name, slot.status, slot.owner, len(slot.queue))
        for name, slot in sorted(state.slots.items())
    ]


def next_deadline(state: SupervisorState) -> int | None:
    """The earliest deadline at which a ``Tick`` has work to do, or None (aioquic's get_timer).

    A step never leaves a stale entry on top of the heap, so the top is live.
    """
    timers = state.timers
    return timers[0][0] if timers else None


def step(
    state: SupervisorState, inp: Input, now: int, rng: RandomSource
) -> tuple[SupervisorState, list[Effect]]:
    """Apply one input at time ``now`` to ``state``, in place; return it and the effects.

    A refused input (a bug in the driver, e.g. more events consumed than queued) raises before
    anything is written, so the state is left as it was (architecture rule 3).
    """
    # One scratch object per state, reset here rather than built per step: a step runs per
    # attempt, and building one cost a tenth of a step (benchmarks/bench_core.py).
    txn = state.txn
    if txn is None:
        txn = state.txn = _Txn(state, rng)
    txn.tasks = state.tasks
    txn.now = now
    txn.at = now / NS_PER_S
    txn.rng = rng
    effects: list[Effect] = []
    txn.effects = effects
    kind = type(inp)
    if kind is AttemptEnded:
        txn.attempt_ended(inp)  # type: ignore[arg-type]
    elif kind is Tick:
        txn.tick()
    elif kind is AddTasks:
        txn.add(inp)  # type: ignore[arg-type]
    elif kind is Remove:
        txn.remove(inp)  # type: ignore[arg-type]
    elif kind is Shutdown:
        txn.begin_shutdown(inp)  # type: ignore[arg-type]
    elif kind is EventsConsumed:
        assert isinstance(inp, EventsConsumed)
        state.bus.consumed(inp.subscriber, inp.count)
    elif kind is Submit:
        txn.submit(inp)  # type: ignore[arg-type]
    elif kind is SubscriberPanicked:
        assert isinstance(inp, SubscriberPanicked)
        txn.panicked(inp)
    elif kind is SubscriberRecovered:
        assert isinstance(inp, SubscriberRecovered)
        state.bus.panicking.discard(inp.subscriber)
    elif kind is Heartbeat:
        assert isinstance(inp, Heartbeat)
        txn.heartbeat(inp)
    else:  # pragma: no cover - mypy proves the union is handled (see _dispatch_is_total)
        raise TypeError(f"not an input: {inp!r}")
    timers = state.timers
    if timers:  # the common case inline: a live entry on top and the heap within bounds
        _, token, tid = timers[0]
        t = state.tasks.get(tid)
        if t is None or t.timer != token or len(timers) > 2 * len(state.tasks) + _TIMER_SLACK:
            txn.drop_stale_timers()
    return state, effects


def _dispatch_is_total(inp: Input) -> None:  # pragma: no cover - a type-level proof only
    """mypy's exhaustiveness check over ``Input`` (``step`` dispatches on ``type()``)."""
    if isinstance(
        inp,
        AttemptEnded
        | Tick
        | AddTasks
        | Remove
        | Shutdown
        | EventsConsumed
        | Submit
        | SubscriberPanicked
        | SubscriberRecovered
        | Heartbeat,
    ):
        return
    assert_never(inp)


class _Txn:
    """One transition in progress over the state it mutates (the one chokepoint)."""

    __slots__ = ("at", "caps", "config", "effects", "now", "rng", "s", "tasks")

    def __init__(self, s: SupervisorState, rng: RandomSource) -> None:
        # Made once per state; ``step`` sets the per-step fields (tasks, now, at, rng, effects).
        self.s = s
        self.config = s.config
        self.caps = s.config.capacities
        self.tasks = s.tasks
        self.now = 0
        self.at = 0.0
        self.rng = rng
        self.effects: list[Effect] = []

    # -- events -------------------------------------------------------------------------------

    def emit(
        self,
        kind: EventKind,
        t: TaskState | None,
        task_id: TaskId | None = None,
        task: str | None = None,
        reason: str | None = None,
        delay: float | None = None,
        timeout: float | None = None,
        duration: float | None = None,
        exit_code: int | None = None,
        backoff_source: BackoffSource | None = None,
        outcome: OutcomeKind | None = None,
        rejection: RejectionKind | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Publish one event to every subscriber with room; report drops (I5, rule 7).

        A task event takes its id, name and attempt from ``t``. The event is a tuple built in
        one call (a fifth of an attrs instance); this runs three times per attempt. Pass the
        fields after ``t`` by keyword: they are not keyword-only because CPython 3.11 looks up
        every omitted keyword-only default in a dict on each call (twice the call's cost).
        """
        s = self.s
        seq = s.seq
        s.seq = seq + 1
        attempt = None
        if t is not None:
            task_id, task, attempt = t.id, t.name, t.attempt or None
        event = _new_event(
            Event,
            (
                seq,
                self.at,
                kind,
                task_id,
                task,
                attempt,
                reason,
                delay,
                timeout,
                duration,
                exit_code,
                backoff_source,
                outcome,
                rejection,
                decision,
            ),
        )
        caps = self.caps
        if not caps:
            self.effects.append(_new_publish(Publish, (event, ())))
            return
        recipients = s.bus.take(caps)
        if recipients is None:  # a queue is full: the drop is counted, maybe reported (I5)
            self.offer_with_drops(event)
            return
        self.effects.append(_new_publish(Publish, (event, recipients)))

    def offer_with_drops(self, event: Event) -> None:
        """Publish ``event`` when some subscriber's queue is full (``BusState.offer``)."""
        s, kind = self.s, event.kind
        caps = self.caps
        diagnostic = kind is EK.SUBSCRIBER_OVERFLOW or kind is EK.SUBSCRIBER_PANICKED
        accepted, report = s.bus.offer(caps, diagnostic)
        self.effects.append(_new_publish(Publish, (event, accepted)))
        for index in report:  # one report per overflow episode; every drop is counted (I5)
            self.emit(
                EK.SUBSCRIBER_OVERFLOW,
                None,
                task=self.config.subscribers[index].name,
                reason=(
                    f"queue full (capacity {caps[index]}): dropped {kind.name} #{event.seq}; "
                    f"dropping until it catches up ({s.bus.dropped[index]} dropped so far)"
                ),
            )

    def panicked(self, inp: SubscriberPanicked) -> None:
        """A subscriber raised: report the first panic of an episode (docs/spec/api.md section 9).

        A panic while handling a diagnostic event is not reported: a subscriber that fails on
        every event would otherwise be fed its own SUBSCRIBER_PANICKED forever (I5, rule 7).
        Later panics of the same episode are counted by the runtime, not reported, until the
        subscriber handles an event without raising (``SubscriberRecovered``).
        """
        kind = inp.event_kind
        if kind is EK.SUBSCRIBER_OVERFLOW or kind is EK.SUBSCRIBER_PANICKED:
            return
        panicking = self.s.bus.panicking
        if inp.subscriber in panicking:
            return
        panicking.add(inp.subscriber)
        name = self.config.subscribers[inp.subscriber].name
        self.emit(EK.SUBSCRIBER_PANICKED, None, task=name, reason=inp.reason)

    # -- registry -----------------------------------------------------------------------------

    def move(
        self,
        t: TaskState,
        trigger: Trigger,
        phase: Phase,
        timer: int | None = None,
        deadline: int | None = None,
        wait_token: int | None = None,
    ) -> TaskState:
        """The one place a task changes phase; the table must allow it (checked first).

        A move re-arms or clears the task's one deadline: ``timer``, ``deadline`` and
        ``wait_token`` are None unless given, so a stale heap entry can never fire (I4).
        """
        check_move(t.phase, trigger, phase)
        if phase is _GONE:
            return t
        t.phase = phase
        t.timer = timer
        t.deadline = deadline
        t.wait_token = wait_token
        return t

    def move_at(self, t: TaskState, trigger: Trigger, phase: Phase, deadline: int) -> None:
        """``move`` with the task's one deadline armed at ``deadline`` (pushed on the heap).

        The move is checked before anything is written (rule 3); one call instead of
        ``move(..., *schedule(...))`` on the restart path (benchmarks/bench_core.py).
        """
        check_move(t.phase, trigger, phase)
        s = self.s
        token = s.timer_seq
        s.timer_seq = token + 1
        heappush(s.timers, (deadline, token, t.id))
        t.phase = phase
        t.timer = token
        t.deadline = deadline
        t.wait_token = None

    def schedule(self, t: TaskState, deadline: int) -> tuple[int, int]:
        """Push ``t``'s next deadline; returns ``(timer, deadline)`` to give to ``move``."""
        s = self.s
        token = s.timer_seq
        s.timer_seq = token + 1
        heappush(s.timers, (deadline, token, t.id))
        return token, deadline

    def drop_stale_timers(self) -> None:
        """Leave a live entry on top of the heap, and keep the heap bounded (rule 7)."""
        s = self.s
        timers, tasks = s.timers, self.tasks
        if len(timers) > 2 * len(tasks) + _TIMER_SLACK:
            # Lazy deletion only drops stale entries that reach the top; behind an early live
            # deadline they pile up (rate of reschedules x deadline horizon). Rebuild from the
            # live deadlines: O(n), amortised O(1) per push. (deadline, token) keys are unique,
            # so the order, and every trace, stays the same (I8); memory stays bounded (rule 7).
            timers = [
                (t.deadline, t.timer, t.id)
                for t in tasks.values()
                if t.timer is not None and t.deadline is not None
            ]
            heapify(timers)
            s.timers = timers
        while timers:
            _, token, tid = timers[0]
            t = tasks.get(tid)
            if t is not None and t.timer == token:
                break
            heappop(timers)

    def add(self, inp: AddTasks) -> None:
        self.check_budget_names(spec for _, spec in inp.items)  # refused before any write
        for tid, spec in inp.items:
            self.emit(EK.TASK_ADD_REQUESTED, None, task_id=tid, task=spec.name)
        rejection, culprit = self._admission(inp)
        if rejection is not None:
            reason = (
                "supervisor is shutting down"
                if rejection is RejectionKind.SHUTTING_DOWN
                else f"a task named {culprit!r} already exists"
            )
            outcome = TaskOutcome(OutcomeKind.REJECTED, reason, rejection=rejection)
            for tid, spec in inp.items:
                self.emit(
                    EK.TASK_ADD_FAILED,
                    None,
                    task_id=tid,
                    task=spec.name,
                    reason=reason,
                    outcome=OutcomeKind.REJECTED,
                    rejection=rejection,
                )
                self.effects.append(Finished(tid, spec.name, outcome))
            self.effects.append(AddReply(inp.ticket, rejection, culprit))
            return
        for tid, spec in inp.items:
            self.register(tid, spec)
        self.effects.append(AddReply(inp.ticket))

    def register(self, tid: TaskId, spec: TaskSpec) -> None:
        """Admit one task whose name is free: TASK_ADDED, then start it or queue for a permit."""
        t = TaskState(tid, spec.name, spec, spec.resolve(self.config.defaults), Phase.NEW)
        s = self.s
        self.tasks[tid] = t
        s.names[t.name] = tid
        s.accepted += 1
        self.emit(EK.TASK_ADDED, t)
        if self.shape_start(t):  # its own random stream (I8); its first attempt may wait
            return
        self.start_or_wait(t, Trigger.ADMIT)

    def _admission(self, inp: AddTasks) -> tuple[RejectionKind | None, str | None]:
        if self.s.shutdown is not None:
            return RejectionKind.SHUTTING_DOWN, None
        names = self.s.names
        seen: set[str] = set()
        seen_ids: set[TaskId] = set()  # one id twice in a batch would break I1 and I2
        for tid, spec in inp.items:
            if spec.name in names or spec.name in seen or tid in self.tasks or tid in seen_ids:
                return RejectionKind.ALREADY_EXISTS, spec.name
            seen.add(spec.name)
            seen_ids.add(tid)
        return None, None

    # -- attempts -----------------------------------------------------------------------------

    def start_or_wait(self, t: TaskState, trigger: Trigger) -> None:
        s = self.s
        limit = self.config.max_concurrent
        if limit is None or s.running < limit:
            self.start(t, trigger)
            return
        self.move(t, trigger, Phase.WAITING, wait_token=s.ready_tail)
        s.ready[s.ready_tail] = t.id
        s.ready_tail += 1

    def start(self, t: TaskState, trigger: Trigger) -> None:
        self.s.running += 1
        attempt = t.attempt + 1
        now = self.now
        policy = t.policy
        timeout = policy.timeout_ns
        timeout_at = None if timeout is None else now + timeout
        deadline = timeout_at
        if policy.watchdog_ns is not None:  # the first heartbeat is due `watchdog` after start
            beat_due = now + policy.watchdog_ns
            deadline = beat_due if deadline is None else min(deadline, beat_due)
        if deadline is not None:
            self.move_at(t, trigger, Phase.RUNNING, deadline)
        else:
            self.move(t, trigger, Phase.RUNNING)
        t.attempt = attempt
        t.started_at = now
        t.timeout_at = timeout_at
        t.last_beat = now
        self.emit(EK.TASK_STARTING, t)
        self.effects.append(_new_effect(StartAttempt, (t.id, t.name, attempt, t.spec)))

    def release_permit(self) -> None:
        """An attempt stopped holding a permit: start waiting tasks in FIFO order (I3)."""
        s = self.s
        s.running -= 1
        if s.ready_head == s.ready_tail:  # nobody waits (always so without max_concurrent)
            return
        limit = self.config.max_concurrent
        ready = s.ready
        while s.ready_head < s.ready_tail and (limit is None or s.running < limit):
            token = s.ready_head
            tid = ready.pop(token)
            s.ready_head += 1
            t = self.tasks.get(tid)
            if t is not None and t.phase is Phase.WAITING and t.wait_token == token:
                self.start(t, Trigger.PERMIT)

    def heartbeat(self, inp: Heartbeat) -> None:
        """The running attempt called ``ctx.heartbeat()`` at ``inp.at`` (not after ``now``).

        Only the time is kept: the watchdog deadline already in the heap is re-armed lazily
        when it fires, so a heartbeat costs no heap push however often it comes.
        """
        t = self.tasks.get(inp.task_id)
        if t is None or t.attempt != inp.attempt or t.phase is not Phase.RUNNING:
            return  # stale: the attempt is over or being stopped
        at = min(inp.at, self.now)
        if at > t.last_beat:
            t.last_beat = at

    def attempt_ended(self, inp: AttemptEnded) -> None:
        t = self.tasks.get(inp.task_id)
        if t is None or t.attempt != inp.attempt:
            return  # stale: an abandoned attempt, or a duplicate report
        phase = t.phase
        if phase is not Phase.RUNNING and phase is not Phase.STOPPING:
            return
        duration = (self.now - t.started_at) / NS_PER_S
        cause = t.cause
        end = inp.end
        error = inp.error
        if cause is None and end is EndKind.FAILED and error is None:
            # The common ending, first: a plain failure of an attempt nobody cancelled (the
            # ended attempt's hot path, benchmarks/bench_core.py); the chain below decides
            # the same for it.
            self.failure(t, inp.reason, inp.exit_code, None, duration, None, inp.retry_after_ns)
            self.release_permit()
            return
        if (
            error is not None
            and end is EndKind.FAILED
            and cause is None
            and not retries(t.policy, error)
        ):
            # Which failures retry (docs/spec/api.md section 8): an exception outside
            # ``retry_on`` is permanent. ``Fail`` and timeouts always retry; ``error`` None is a
            # plain failure (tested first: the common case, and the ended attempt's hot path).
            reason = f"not retried ({type(inp.error).__name__} is not in retry_on): {inp.reason}"
            self.fatal(t, reason, inp.exit_code, inp.error, duration, RULE_NOT_RETRIED)
            self.release_permit()
            return
        if cause is CancelCause.TIMEOUT:
            timeout = ns_to_s(t.policy.timeout_ns or 0)
            self.failure(
                t, f"timed out after {timeout:g}s", None, inp.error, duration, timeout=timeout
            )
        elif cause is CancelCause.WATCHDOG:
            watchdog = ns_to_s(t.policy.watchdog_ns or 0)
            self.failure(t, _watchdog_reason(watchdog), None, inp.error, duration, watchdog)
        elif cause is not None:
            if t.forced:
                self.finish(
                    t,
                    Trigger.END_FINAL,
                    TaskOutcome(
                        OutcomeKind.FORCE_ABORTED, "force-cancelled after grace", attempts=t.attempt
                    ),
                )
            else:
                kind = EK.TASK_STOPPED if end is EndKind.RETURNED else EK.TASK_CANCELED
                self.emit(kind, t, duration=duration)
                self.finish(
                    t,
                    Trigger.END_FINAL,
                    TaskOutcome(OutcomeKind.CANCELED, self.canceled_reason(), attempts=t.attempt),
                )
        elif end is EndKind.RETURNED:
            self.success(t, duration)
        elif end is EndKind.FATAL:
            self.fatal(t, inp.reason, inp.exit_code, inp.error, duration)
        elif end is EndKind.CANCELED:
            self.emit(EK.TASK_CANCELED, t, reason=inp.reason, duration=duration)
            self.finish(
                t,
                Trigger.END_FINAL,
                TaskOutcome(
                    OutcomeKind.CANCELED, inp.reason, inp.exit_code, inp.error, attempts=t.attempt
                ),
            )
        else:  # FAILED, or INTERRUPTED while nobody cancelled it (docs/spec/api.md section 2)
            self.failure(
                t, inp.reason, inp.exit_code, inp.error, duration, retry_after=inp.retry_after_ns
            )
        self.release_permit()

    def fatal(
        self,
        t: TaskState,
        reason: str,
        exit_code: int | None,
        error: BaseException | None,
        duration: float,
        rule: str = RULE_FATAL,
    ) -> None:
        """A permanent failure: TASK_FAILED, ACTOR_DEAD(FATAL), then the task is gone."""
        self.emit(EK.TASK_FAILED, t, reason=reason, exit_code=exit_code, duration=duration)
        outcome = TaskOutcome(OutcomeKind.FATAL, reason, exit_code, error, attempts=t.attempt)
        self.emit(
            EK.ACTOR_DEAD,
            t,
            reason=reason,
            exit_code=exit_code,
            outcome=OutcomeKind.FATAL,
            decision=final_decision(t.policy.backoff, t.streak.failures + 1, rule),
        )
        self.finish(t, Trigger.END_FINAL, outcome)

    def success(self, t: TaskState, duration: float) -> None:
        t.last_failure = None  # healthy again: a success ends the streak
        self.emit(EK.TASK_STOPPED, t, duration=duration)
        restart = t.policy.restart
        if restart.mode is RestartMode.ALWAYS:
            u = self.draw(t) if restart.spread_ns else 0.0  # always(interval, jitter)
            delay, decision = success_pause(restart, u)
            self.emit(
                EK.BACKOFF_SCHEDULED,
                t,
                delay=ns_to_s(delay),
                backoff_source=BackoffSource.SUCCESS,
                decision=decision,
            )
            self.move_at(t, Trigger.END_RESTART, Phase.BACKOFF, self.now + delay)
            t.streak = EMPTY_STREAK
            t.cause = None
            t.decision = decision
            return
        decision = final_decision(t.policy.backoff, 0, RULE_COMPLETED, None)
        self.emit(EK.ACTOR_EXHAUSTED, t, outcome=OutcomeKind.COMPLETED, decision=decision)
        self.finish(t, Trigger.END_FINAL, TaskOutcome(OutcomeKind.COMPLETED, attempts=t.attempt))

    def failure(
        self,
        t: TaskState,
        reason: str,
        exit_code: int | None,
        error: BaseException | None,
        duration: float,
        timeout: float | None = None,
        retry_after: int | None = None,
    ) -> None:
        if retry_after is not None and retry_after < 0:  # refused before any write (rule 3)
            raise ValueError(f"AttemptEnded.retry_after_ns must be >= 0, got {retry_after}")
        self.emit(
            EK.TASK_FAILED,
            t,
            reason=reason,
            exit_code=exit_code,
            duration=duration,
            timeout=timeout,
        )
        t.last_failure = reason
        policy = t.policy
        now = self.now
        streak = t.streak
        reset = policy.reset_after_ns
        if reset is not None and now - t.started_at >= reset:
            # Healthy-run reset (docs/spec/api.md section 8, Kubernetes): an attempt that ran
            # at least `reset_after` ends the streak first; its failure is retry 0 of a new one.
            streak = EMPTY_STREAK
        if streak.failures == 0:
            # The streak begins with this failure: a task that ran well for longer than
            # give_up_after before it failed is not "already too old" (tenacity's
            # stop_after_delay counts from the first try; a supervised task has no first try).
            t.streak_start = now
        limit = self.config.intensity
        if (policy.limited or limit is not None) and self.ends_streak(
            t, reason, exit_code, error, streak.failures + 1, limit
        ):
            return
        # The restart is allowed: it enters the intensity windows (I10).
        if policy.intensity is not None:
            if t.restarts is None:
                t.restarts = deque()
            record(t.restarts, now, policy.intensity.within_ns)
        if limit is not None:
            record(self.s.restarts, now, limit.within_ns)
        backoff = policy.backoff
        # A Retry-After replaces the backoff and its draw (docs/spec/api.md section 8).
        u = self.draw(t) if retry_after is None and needs_draw(backoff) else 0.0
        fresh = streak is not t.streak  # a healthy-run reset began a new streak
        delay, streak, decision = failure_pause(backoff, streak, u, retry_after)
        if fresh and decision.rule == RULE_BACKOFF:
            decision = decision._replace(rule=RULE_RESET)
        self.emit(
            EK.BACKOFF_SCHEDULED,
            t,
            delay=delay / NS_PER_S,
            reason=reason,
            backoff_source=decision.source,
            decision=decision,
        )
        self.move_at(t, Trigger.END_RESTART, Phase.BACKOFF, now + delay)
        # A timed-out attempt that ended is a plain failure: its cancel state is cleared.
        t.streak = streak
        t.cause = None
        t.forced = False
        t.decision = decision

    def ends_streak(
        self,
        t: TaskState,
        reason: str,
        exit_code: int | None,
        error: BaseException | None,
        failures: int,
        limit: Intensity | None,
    ) -> bool:
        """Whether a rule ends ``t`` at this failure (the ``failures``-th of its streak); if so,
        end it: ACTOR_EXHAUSTED(FAILED), and the supervisor's escalation when its intensity is
        what ended it (I10).

        Only called when the task's policy or the supervisor has such a rule
        (``ResolvedSpec.limited``): a task with none is restarted without these checks.
        """
        policy = t.policy
        now = self.now
        final = None
        escalate = False
        rule = RULE_NEVER
        if policy.restart.mode is RestartMode.NEVER:
            final = reason
        elif exhausted(failures, policy.max_retries):
            final = f"retry limit ({policy.max_retries}) reached; last failure: {reason}"
            rule = RULE_RETRY_LIMIT
        elif policy.give_up_after_ns is not None and now - t.streak_start > policy.give_up_after_ns:
            final = (
                f"gave up after {ns_to_s(policy.give_up_after_ns):g}s of failures; "
                f"last failure: {reason}"
            )
            rule = RULE_GAVE_UP
        elif policy.intensity is not None and not allows(
            count_within(t.restarts or (), now, policy.intensity.within_ns),
            policy.intensity.max_restarts,
        ):
            final = f"{_intensity_text(policy.intensity)}; last failure: {reason}"
            rule = RULE_INTENSITY
        elif (
            limit is not None
            and self.s.shutdown is None
            and not allows(count_within(self.s.restarts, now, limit.within_ns), limit.max_restarts)
        ):
            # The supervisor's intensity (I10): this restart would exceed it, so the task is
            # not restarted and the whole supervisor shuts down, once.
            final = f"supervisor {_intensity_text(limit)}; last failure: {reason}"
            escalate = True
            rule = RULE_SUPERVISOR_INTENSITY
        if final is not None:
            outcome = TaskOutcome(OutcomeKind.FAILED, final, exit_code, error, attempts=t.attempt)
            self.emit(
                EK.ACTOR_EXHAUSTED,
                t,
                reason=final,
                exit_code=exit_code,
                outcome=OutcomeKind.FAILED,
                decision=final_decision(policy.backoff, failures, rule),
            )
            escalation = None
            if escalate and limit is not None:
                escalation = (
                    Escalate("restart intensity", None, None, limit.max_restarts, limit.within),
                    f"supervisor {_intensity_text(limit)}",
                )
            self.finish(t, Trigger.END_FINAL, outcome, escalation)
            return True
        return False

    # -- retry shaping (docs/spec/api.md section 8; I8, I9) ---------------------------------

    def draw(self, t: TaskState) -> float:
        """One draw in [0, 1] for ``t``: its own stream with a seed (I8), else the shared one."""
        state = t.stream
        if state is None:
            return self.rng.random()
        u, t.stream = next_uniform(state)
        return u

    def check_budget_names(self, specs: Iterable[TaskSpec]) -> None:
        """Refuse a spec naming a retry budget the configuration does not have.

        The runtime checks first and raises ``ConfigError`` from ``add``/``run``/``submit``;
        here it guards the other drivers, before anything is written (rule 3).
        """
        budgets = self.s.budgets
        for spec in specs:
            check_budget_name(
                spec.name, spec.retry_budget, budgets, "the supervisor's retry_budgets"
            )

    def shape_start(self, t: TaskState) -> bool:
        """A new task: its own random stream (with a seed, I8), then its start jitter, if any.

        Returns True when its first attempt waits a uniform delay in ``[0, start_jitter]``
        (BACKOFF_SCHEDULED with source START).
        """
        seed = self.config.seed
        if seed is not None:
            incarnations = self.s.incarnations
            earlier = incarnations.get(t.name, 0)
            incarnations[t.name] = earlier + 1
            t.stream = stream_seed(seed, t.name, earlier)
        jitter = t.policy.start_jitter_ns
        if not jitter:
            return False
        delay, decision = start_pause(jitter, self.draw(t))
        t.decision = decision
        self.emit(
            EK.BACKOFF_SCHEDULED,
            t,
            delay=ns_to_s(delay),
            backoff_source=BackoffSource.START,
            decision=decision,
        )
        self.move_at(t, Trigger.ADMIT, Phase.BACKOFF, self.now + delay)
        return True

    def wait_for_token(self, t: TaskState) -> bool:
        """A restart after a failure reached its deadline: take a token of its budget (I9).

        Returns True when there was no whole token: the restart took the next one ahead of time
        and waits in BACKOFF until it arrives (BACKOFF_SCHEDULED with source BUDGET). Tokens are
        taken in the order of the restarts' deadlines, because that is the order they pass.
        """
        name = t.policy.retry_budget
        decision = t.decision
        if name is None or decision is None:
            return False
        source = decision.source
        if source is not BackoffSource.FAILURE and source is not BackoffSource.RETRY_AFTER:
            return False  # a start or an interval pause, or it holds its token already (BUDGET)
        wait = self.s.budgets[name].take(self.now)
        if not wait:
            return False
        seconds = ns_to_s(wait)
        decision = decision._replace(
            source=BackoffSource.BUDGET, budget_wait=seconds, rule=RULE_BUDGET
        )
        t.decision = decision
        self.emit(
            EK.BACKOFF_SCHEDULED,
            t,
            delay=seconds,
            reason=f"waiting for a token of retry budget {name!r}",
            backoff_source=BackoffSource.BUDGET,
            decision=decision,
        )
        self.move_at(t, Trigger.BUDGET, Phase.BACKOFF, self.now + wait)
        return True

    def finish(
        self,
        t: TaskState,
        trigger: Trigger,
        outcome: TaskOutcome,
        escalation: tuple[Escalate, str] | None = None,
    ) -> None:
        """The task leaves the registry with ``outcome``: TASK_REMOVED, then Finished (I1).

        ``escalation`` (or a critical task's failure) then shuts the supervisor down; its slot
        is freed first but admits nobody, since everything queued is about to be rejected.
        """
        self.move(t, trigger, Phase.GONE)
        s = self.s
        del self.tasks[t.id]
        if s.names.get(t.name) == t.id:
            del s.names[t.name]
        s.finished += 1
        self.emit(
            EK.TASK_REMOVED,
            t,
            outcome=outcome.kind,
            reason=outcome.reason or None,
            exit_code=outcome.exit_code,
        )
        self.effects.append(Finished(t.id, t.name, outcome))
        kind = outcome.kind
        if t.policy.critical and (kind is OutcomeKind.FAILED or kind is OutcomeKind.FATAL):
            # A critical task's failure takes the supervisor down (docs/spec/api.md section 8).
            escalation = (
                Escalate("critical task", t.name, outcome, None, None),
                f"critical task {t.name!r} ended {kind.name}",
            )
        if escalation is not None and s.shutdown is not None:
            escalation = None  # already shutting down: nothing escalates twice (I10)
        if t.id in s.slot_of:
            self.owner_gone(t.id, admit=escalation is None)
        if escalation is not None:
            self.escalate(*escalation)
        sd = s.shutdown
        if sd is not None and not self.tasks and not sd.done:
            self.complete_shutdown()

    def escalate(self, why: Escalate, reason: str) -> None:
        """Shut the supervisor down for ``why``, once (I10): the runtime raises it at the end."""
        s = self.s
        if s.shutdown is not None:
            return  # already shutting down: nothing escalates twice
        s.escalation = why
        self.effects.append(why)
        self.begin_shutdown(Shutdown(reason))

    # -- timers -------------------------------------------------------------------------------

    def tick(self) -> None:
        timers, tasks, now = self.s.timers, self.tasks, self.now
        while timers and timers[0][0] <= now:
            _, token, tid = heappop(timers)
            t = tasks.get(tid)
            if t is None or t.timer != token:
                continue
            self.deadline_passed(t)
            timers = self.s.timers  # drop_stale_timers never runs mid-step; same list

    def deadline_passed(self, t: TaskState) -> None:
        phase = t.phase
        if phase is Phase.BACKOFF:
            if not self.wait_for_token(t):  # a restart after a failure takes a token (I9)
                self.start_or_wait(t, Trigger.DEADLINE)
        elif phase is Phase.RUNNING:  # the timeout or the watchdog (I4's sibling: no early fire)
            now = self.now
            timeout_at = t.timeout_at
            watchdog = t.policy.watchdog_ns
            if timeout_at is not None and now >= timeout_at:
                self.time_out(t, CancelCause.TIMEOUT, t.policy.timeout_ns or 0, None)
                return
            assert watchdog is not None, "a running task's deadline is its timeout or watchdog"
            beat_due = t.last_beat + watchdog
            if now >= beat_due:
                seconds = ns_to_s(watchdog)
                self.time_out(t, CancelCause.WATCHDOG, watchdog, _watchdog_reason(seconds))
                return
            # A heartbeat came in time: re-arm for the next one (or the timeout, if earlier).
            due = beat_due if timeout_at is None else min(beat_due, timeout_at)
            t.timer, t.deadline = self.schedule(t, due)
        elif phase is Phase.STOPPING and not t.forced:  # grace ran out (I7)
            self.force(t, Trigger.DEADLINE)
        elif phase is Phase.STOPPING:  # even force did not stop it: abandon, report (I7)
            self.effects.append(Abandon(t.id, t.attempt))
            self.note_stuck(t)
            self.finish(
                t,
                Trigger.DEADLINE,
                TaskOutcome(
                    OutcomeKind.FORCE_ABORTED,
                    "did not stop after forced cancellation; abandoned",
                    attempts=t.attempt,
                ),
            )
            self.release_permit()
        else:  # pragma: no cover - WAITING tasks hold no timer
            raise AssertionError(f"deadline for a task in {t.phase}")

    def time_out(self, t: TaskState, cause: CancelCause, limit_ns: int, reason: str | None) -> None:
        """End a running attempt like a timeout: TIMEOUT_HIT, then force it.

        The contract: docs/spec/api.md sections 2 and 8.
        """
        timing = self.schedule(t, self.now + self.config.force_wait_ns)
        self.move(t, Trigger.TIMEOUT, Phase.STOPPING, *timing)
        t.cause = cause
        t.forced = True
        self.emit(EK.TIMEOUT_HIT, t, timeout=ns_to_s(limit_ns), reason=reason)
        self.effects.append(ForceCancel(t.id, t.attempt))

    def force(self, t: TaskState, trigger: Trigger) -> None:
        self.note_stuck(t)
        self.effects.append(ForceCancel(t.id, t.attempt))
        self.move_at(t, trigger, Phase.STOPPING, self.now + self.config.force_wait_ns)
        t.forced = True

    def note_stuck(self, t: TaskState) -> None:
        sd = self.s.shutdown
        if sd is not None and not sd.done and t.name not in sd.stuck:
            self.s.shutdown = attrs.evolve(sd, stuck=(*sd.stuck, t.name))

    # -- removal and shutdown -----------------------------------------------------------------

    def remove(self, inp: Remove) -> None:
        s = self.s
        tid = inp.task_id if inp.task_id is not None else s.names.get(inp.name or "")
        if tid is None and inp.name is not None:
            tid = self.queued_by_name(inp.name)
        if tid is not None and tid not in self.tasks and tid in s.slot_of:
            # A queued submission never started: it is rejected before it runs (docs/spec/api.md 6).
            self.effects.append(RemoveReply(inp.ticket, True, tid))
            self.unqueue(tid, RejectionKind.REMOVED_FROM_QUEUE)
            return
        t = None if tid is None else self.tasks.get(tid)
        if t is None or t.cause is CancelCause.REMOVE or t.cause is CancelCause.SHUTDOWN:
            self.effects.append(RemoveReply(inp.ticket, False, tid))
            return
        self.effects.append(RemoveReply(inp.ticket, True, t.id))
        self.emit(EK.TASK_REMOVE_REQUESTED, t)
        self.cancel(t, CancelCause.REMOVE)

    def canceled_reason(self) -> str:
        """The outcome reason of a cancellation: names the signal of a signalled shutdown."""
        sd = self.s.shutdown
        if sd is not None and sd.reason:
            return f"canceled: {sd.reason}"
        return "canceled"

    def cancel(self, t: TaskState, cause: CancelCause) -> None:
        """Stop ``t``: at once if no attempt runs, else cooperatively, forced after grace."""
        phase = t.phase
        if phase is Phase.WAITING or phase is Phase.BACKOFF:
            self.finish(
                t,
                Trigger.CANCEL,
                TaskOutcome(OutcomeKind.CANCELED, self.canceled_reason(), attempts=t.attempt),
            )
        elif phase is Phase.STOPPING:  # a timeout is already forcing it; the removal takes over
            self.move(t, Trigger.CANCEL, Phase.STOPPING, t.timer, t.deadline)
            t.cause = cause
        elif self.config.grace_ns == 0:
            self.move(t, Trigger.CANCEL, Phase.STOPPING)
            t.cause = cause
            self.force(t, Trigger.CANCEL)
        else:
            self.effects.append(RequestCancel(t.id, t.attempt))
            self.move_at(t, Trigger.CANCEL, Phase.STOPPING, self.now + self.config.grace_ns)
            t.cause = cause

    def begin_shutdown(self, inp: Shutdown) -> None:
        s = self.s
        if s.shutdown is not None:
            if s.shutdown.done:
                self.effects.append(ShutdownDone(tuple(sorted(s.shutdown.stuck))))
            return
        s.shutdown = ShutdownState(self.now, reason=inp.reason)
        self.emit(EK.SHUTDOWN_REQUESTED, None, reason=inp.reason)
        self.close_slots()
        for tid in sorted(self.tasks, key=int):  # id order (I8); key=int sorts in C
            t = self.tasks.get(tid)
            if t is not None and t.cause not in _STOPPING_FOR_GOOD:
                self.cancel(t, CancelCause.SHUTDOWN)
        sd = s.shutdown
        if not self.tasks and not sd.done:
            self.complete_shutdown()

    def complete_shutdown(self) -> None:
        sd = self.s.shutdown
        assert sd is not None
        stuck = tuple(sorted(sd.stuck))
        self.s.shutdown = attrs.evolve(sd, done=True, stuck=stuck)
        if stuck:
            self.emit(EK.GRACE_EXCEEDED, None, reason="force-cancelled: " + ", ".join(stuck))
        else:
            self.emit(EK.ALL_STOPPED_WITHIN_GRACE, None)
        self.effects.append(ShutdownDone(stuck))

    # -- slots (docs/spec/api.md section 6; invariant I6)
    # -------------------------------------------------

    def slot_move(self, slot: Slot, trigger: SlotTrigger, status: SlotStatus, **kw: object) -> Slot:
        """The one place a slot changes status; the table must allow it."""
        check_slot_move(slot.status, trigger, status)
        moved = attrs.evolve(slot, status=status, **kw)  # type: ignore[arg-type]
        self.put_slot(moved)
        # The event names the owner *after* the move, so no event carries a task's id once it
        # has been removed (docs/spec/api.md section 5, I1).
        self.emit(
            EK.CONTROLLER_SLOT_TRANSITION,
            None,
            task_id=moved.owner,
            task=moved.name,
            reason=f"{slot.status.name} -> {status.name}",
        )
        return moved

    def put_slot(self, slot: Slot) -> None:
        # Idle, empty slots are forgotten so memory stays bounded by the busy slots.
        if slot.status is SlotStatus.IDLE and not slot.queue:
            self.s.slots.pop(slot.name, None)
        else:
            self.s.slots[slot.name] = slot

    def submit(self, inp: Submit) -> None:
        controller = self.config.controller
        if controller is None:  # refused before anything is written (rule 3)
            raise ValueError("Submit needs CoreConfig.controller (the runtime checks this first)")
        self.check_budget_names((inp.spec.task_spec,))
        s = self.s
        spec, tid = inp.spec, inp.task_id
        sub = Submission(tid, spec)
        self.emit(
            EK.CONTROLLER_SUBMITTED,
            None,
            task_id=tid,
            task=spec.task_spec.name,
            reason=f"slot {spec.slot!r}, {spec.admission.name}",
        )
        if s.shutdown is not None or tid in self.tasks or tid in s.slot_of:
            kind = RejectionKind.CONTROLLER_SHUTTING_DOWN
            if s.shutdown is None:
                kind = RejectionKind.ALREADY_EXISTS
            self.reject(sub, kind)
            self.effects.append(SubmitReply(inp.ticket, tid, kind))
            return
        slot = s.slots.get(spec.slot) or Slot(spec.slot)
        decision = decide(slot, spec.admission, controller.max_slot_queue)
        rejection = REJECTION_OF.get(decision)
        if rejection is not None:
            self.reject(sub, rejection)
            self.effects.append(SubmitReply(inp.ticket, tid, rejection))
            return
        s.slot_of[tid] = slot.name
        self.effects.append(SubmitReply(inp.ticket, tid))
        if decision is SlotDecision.START:
            slot = self.slot_move(slot, SlotTrigger.SUBMIT, SlotStatus.ADMITTING, queue=(sub,))
            self.admit_head(slot)
        elif decision is SlotDecision.ENQUEUE:
            self.put_slot(attrs.evolve(slot, queue=(*slot.queue, sub)))
        else:  # REPLACE: the newcomer takes the head; the old head is superseded
            queue = slot.queue
            if queue:
                s.slot_of.pop(queue[0].task_id, None)
                self.reject(queue[0], RejectionKind.SUPERSEDED_BY_REPLACE)
                queue = queue[1:]
            slot = attrs.evolve(slot, queue=(sub, *queue))
            if slot.status is SlotStatus.RUNNING:
                slot = self.slot_move(slot, SlotTrigger.REPLACE, SlotStatus.TERMINATING)
                self.put_slot(slot)
                owner = self.tasks[slot.owner] if slot.owner is not None else None
                if owner is not None and owner.cause not in _STOPPING_FOR_GOOD:
                    self.emit(EK.TASK_REMOVE_REQUESTED, owner, reason="superseded by REPLACE")
                    self.cancel(owner, CancelCause.REMOVE)
            else:  # TERMINATING stays TERMINATING: its owner is already on its way out
                check_slot_move(slot.status, SlotTrigger.REPLACE, SlotStatus.TERMINATING)
                self.put_slot(slot)

    def admit_head(self, slot: Slot) -> None:
        """Register the head of an ADMITTING slot's queue; on a name clash try the next (I6)."""
        s = self.s
        while True:
            head, rest = slot.queue[0], slot.queue[1:]
            spec = head.spec.task_spec
            self.emit(EK.TASK_ADD_REQUESTED, None, task_id=head.task_id, task=spec.name)
            if spec.name not in s.names:
                slot = attrs.evolve(slot, queue=rest)
                self.slot_move(slot, SlotTrigger.ADMITTED, SlotStatus.RUNNING, owner=head.task_id)
                self.register(head.task_id, spec)
                return
            s.slot_of.pop(head.task_id, None)
            self.reject(head, RejectionKind.ALREADY_EXISTS)
            status = SlotStatus.ADMITTING if rest else SlotStatus.IDLE
            slot = self.slot_move(slot, SlotTrigger.ADMIT_FAILED, status, queue=rest, owner=None)
            if not rest:
                return

    def owner_gone(self, tid: TaskId, *, admit: bool = True) -> None:
        """The slot's owner fully left the registry: the only event that frees a slot (I6)."""
        s = self.s
        name = s.slot_of.pop(tid)
        slot = s.slots[name]
        if slot.owner != tid:  # pragma: no cover - slot_of holds owners and queued ids only
            raise AssertionError(f"{tid!r} is not the owner of slot {name!r}")
        if slot.queue and s.shutdown is None and admit:
            slot = self.slot_move(slot, SlotTrigger.OWNER_GONE, SlotStatus.ADMITTING, owner=None)
            self.admit_head(slot)
        else:
            self.slot_move(slot, SlotTrigger.OWNER_GONE, SlotStatus.IDLE, owner=None)

    def reject(self, sub: Submission, kind: RejectionKind) -> None:
        """A submission ends without running: CONTROLLER_REJECTED, then its outcome."""
        name = sub.spec.task_spec.name
        reason = f"rejected: {kind.name}"
        self.emit(
            EK.CONTROLLER_REJECTED,
            None,
            task_id=sub.task_id,
            task=name,
            reason=reason,
            outcome=OutcomeKind.REJECTED,
            rejection=kind,
        )
        outcome = TaskOutcome(OutcomeKind.REJECTED, reason, rejection=kind)
        self.effects.append(Finished(sub.task_id, name, outcome))

    def unqueue(self, tid: TaskId, kind: RejectionKind) -> None:
        s = self.s
        name = s.slot_of.pop(tid)
        slot = s.slots[name]
        sub = next(q for q in slot.queue if q.task_id == tid)
        self.put_slot(attrs.evolve(slot, queue=tuple(q for q in slot.queue if q.task_id != tid)))
        self.reject(sub, kind)

    def queued_by_name(self, name: str) -> TaskId | None:
        # The earliest submission of that name, so the choice never depends on dict order (I8).
        found = [
            sub.task_id
            for slot in self.s.slots.values()
            for sub in slot.queue
            if sub.spec.task_spec.name == name
        ]
        return min(found) if found else None

    def close_slots(self) -> None:
        """Shutdown: every queued submission is rejected and none of them starts."""
        s = self.s
        for name in sorted(s.slots):
            slot = s.slots[name]
            for sub in slot.queue:
                s.slot_of.pop(sub.task_id, None)
                self.reject(sub, RejectionKind.CONTROLLER_SHUTTING_DOWN)
            slot = attrs.evolve(slot, queue=())
            if slot.status is SlotStatus.RUNNING:
                self.slot_move(slot, SlotTrigger.SHUTDOWN, SlotStatus.TERMINATING)
            else:
                self.put_slot(slot)


_GONE = Phase.GONE  # a module constant: ``Phase.GONE`` is a Python-level lookup in CPython 3.11
_new_event = tuple.__new__  # builds an Event from a tuple in one C call (no __new__ frame)
_new_publish = tuple.__new__
_new_effect = tuple.__new__  # the same for StartAttempt, once per attempt
_TIMER_SLACK = 64  # stale timer entries tolerated beyond one per live task before compaction
_STOPPING_FOR_GOOD = (CancelCause.REMOVE, CancelCause.SHUTDOWN)


def retries(policy: ResolvedSpec, error: BaseException | None) -> bool:
    """Whether a failure with ``error`` is retryable under ``policy.retry_on`` (docs/spec/api.md 8).

    ``Fail`` (any ``TaskError``) always retries, and a failure without an exception object
    (the runtime's own classification) too; anything else retries only inside ``retry_on``.
    """
    if error is None or isinstance(error, TaskError):
        return True
    return isinstance(error, policy.retry_on)


def _watchdog_reason(seconds: float) -> str:
    return f"watchdog: no heartbeat for {seconds:g}s"


def _intensity_text(limit: Intensity) -> str:
    return (
        f"restart intensity exceeded (more than {limit.max_restarts} restarts "
        f"within {limit.within:g}s)"
    )
