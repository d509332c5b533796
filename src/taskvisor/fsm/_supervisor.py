"""The supervisor machine: registry, task lifecycles, run permits, shutdown and event fan-out.

Owns: ``SupervisorConfig``-level core settings (``CoreConfig``), the state (``SupervisorState``,
``TaskState``), and ``step(state, input, now, rng) -> (state, effects)``, the one chokepoint
through which every decision passes (architecture rules 2-5). ``now`` is integer nanoseconds;
``rng`` is any object with ``random() -> float`` and is consulted only for jittered backoff.
Every task move is checked against ``_table.TRANSITIONS``. The function does not know who
drives it: the asyncio runtime and the simulator call it alike. Must not import I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol, assert_never

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm._backoff import EMPTY_STREAK, RetryStreak, needs_draw, next_delay_ns
from taskvisor.fsm._budget import exhausted
from taskvisor.fsm._bus import BusState, BusWriter, SubscriberInfo
from taskvisor.fsm._duration import capacity, ns_to_s, to_ns
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
    SubmitReply,
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
    AddTasks,
    AttemptEnded,
    EndKind,
    EventsConsumed,
    Input,
    Remove,
    Shutdown,
    Submit,
    SubscriberPanicked,
    Tick,
)
from taskvisor.fsm._pmap import PMap
from taskvisor.fsm._policy import RestartMode
from taskvisor.fsm._slots import (
    REJECTION_OF,
    ControllerConfig,
    Decision,
    Slot,
    SlotSnapshot,
    SlotStatus,
    SlotTrigger,
    Submission,
    check_slot_move,
    decide,
)
from taskvisor.fsm._spec import ResolvedSpec, TaskDefaults, TaskSpec
from taskvisor.fsm._table import Phase, Trigger, check_move
from taskvisor.fsm._timers import TimerHeap

__all__ = [
    "CancelCause",
    "CoreConfig",
    "RandomSource",
    "ShutdownState",
    "SupervisorState",
    "TaskState",
    "controller_snapshot",
    "next_deadline",
    "step",
]

EK = EventKind


class RandomSource(Protocol):
    """Where the core's random draws come from: ``random.Random`` or any seeded equivalent."""

    def random(self) -> float: ...


class CancelCause(enum.Enum):
    """Why a running attempt is being stopped."""

    REMOVE = "remove"
    SHUTDOWN = "shutdown"
    TIMEOUT = "timeout"


@attrs.frozen(init=False)
class CoreConfig:
    """The settings the core decides with (the runtime builds it from ``SupervisorConfig``).

    Attributes:
        grace_ns: how long a cooperative cancellation waits before forcing (0: force at once).
        force_wait_ns: how long a forced attempt may take to end before it is abandoned.
        max_concurrent: the most attempts running at once (None: unlimited).
        subscribers: name and queue capacity of each subscriber, by index.
        defaults: what ``INHERIT`` spec fields take.
        controller: the admission controller's bounds (None: no controller).
    """

    grace_ns: int
    force_wait_ns: int
    max_concurrent: int | None
    subscribers: tuple[SubscriberInfo, ...]
    defaults: TaskDefaults
    controller: ControllerConfig | None
    capacities: tuple[int, ...] = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        grace: object = 60.0,
        *,
        force_wait: object = 1.0,
        max_concurrent: int | None = None,
        subscribers: Sequence[SubscriberInfo] = (),
        defaults: TaskDefaults | None = None,
        controller: ControllerConfig | None = None,
    ) -> None:
        grace_ns = to_ns(grace, "SupervisorConfig.grace")
        force_ns = to_ns(force_wait, "SupervisorConfig.force_wait")
        if max_concurrent is not None:
            max_concurrent = capacity(max_concurrent, "SupervisorConfig.max_concurrent")
        subs = tuple(subscribers)
        for sub in subs:
            capacity(sub.capacity, f"subscriber {sub.name!r}.queue_capacity")
        defaults = TaskDefaults() if defaults is None else defaults
        if not isinstance(defaults, TaskDefaults):
            raise ConfigError("Supervisor.defaults", f"expected TaskDefaults, got {defaults!r}")
        if controller is not None and not isinstance(controller, ControllerConfig):
            raise ConfigError(
                "Supervisor.controller", f"expected ControllerConfig, got {controller!r}"
            )
        caps = tuple(s.capacity for s in subs)
        self.__attrs_init__(grace_ns, force_ns, max_concurrent, subs, defaults, controller, caps)


@attrs.frozen
class TaskState:
    """One live task. ``timer`` is the token of its one live deadline (lazy heap deletion)."""

    id: TaskId
    name: str
    spec: TaskSpec = attrs.field(eq=False)
    policy: ResolvedSpec
    phase: Phase
    attempt: int = 0
    streak: RetryStreak = EMPTY_STREAK
    timer: int | None = None
    deadline: int | None = None
    started_at: int = 0
    cause: CancelCause | None = None
    forced: bool = False
    wait_token: int | None = None


@attrs.frozen
class ShutdownState:
    """Shutdown in progress (or done): when it began and which tasks had to be forced."""

    requested_at: int
    stuck: tuple[str, ...] = ()
    done: bool = False


@attrs.frozen
class SupervisorState:
    """Everything the core knows. Drivers hold the current value and pass it back to ``step``.

    Attributes:
        tasks: live tasks by id (what ``list()`` shows).
        names: live names to ids (I2).
        running: run permits held: attempts RUNNING or STOPPING (I3).
        ready: tasks WAITING for a permit, FIFO by ``ready_head..ready_tail``.
        timers: every live deadline.
        seq: the ``seq`` of the next event.
        bus: subscriber queue depths and drops (I5).
        shutdown: None until shutdown is requested.
        accepted, finished: tasks ever admitted and ever ended (I1: equal once all are gone).
        slots: slots that are not idle-and-empty, by name (I6).
        slot_of: the slot of every owner and every queued submission, by task id.
    """

    config: CoreConfig
    tasks: PMap[TaskId, TaskState]
    names: PMap[str, TaskId]
    running: int
    ready: PMap[int, TaskId]
    ready_head: int
    ready_tail: int
    timers: TimerHeap[TaskId] = attrs.field(eq=False)
    timer_seq: int
    seq: int
    bus: BusState
    shutdown: ShutdownState | None
    accepted: int
    finished: int
    slots: PMap[str, Slot]
    slot_of: PMap[TaskId, str]

    @classmethod
    def initial(cls, config: CoreConfig) -> SupervisorState:
        """A supervisor with no tasks, admitting."""
        return cls(
            config=config,
            tasks=PMap(),
            names=PMap(),
            running=0,
            ready=PMap(),
            ready_head=0,
            ready_tail=0,
            timers=TimerHeap(),
            timer_seq=0,
            seq=0,
            bus=BusState.empty(len(config.subscribers)),
            shutdown=None,
            accepted=0,
            finished=0,
            slots=PMap(),
            slot_of=PMap(),
        )


def controller_snapshot(state: SupervisorState) -> list[SlotSnapshot]:
    """Every busy slot: status, owner and queue depth, sorted by slot name."""
    return [
        SlotSnapshot(name, slot.status, slot.owner, len(slot.queue))
        for name, slot in sorted(state.slots.items())
    ]


def next_deadline(state: SupervisorState) -> int | None:
    """The earliest deadline at which a ``Tick`` has work to do, or None (aioquic's get_timer)."""
    top = state.timers.peek()
    return None if top is None else top[0]


def step(
    state: SupervisorState, inp: Input, now: int, rng: RandomSource
) -> tuple[SupervisorState, list[Effect]]:
    """Apply one input at time ``now``; return the new state and the effects to carry out."""
    txn = _Txn(state, now, rng)
    if isinstance(inp, AttemptEnded):
        txn.attempt_ended(inp)
    elif isinstance(inp, Tick):
        txn.tick()
    elif isinstance(inp, AddTasks):
        txn.add(inp)
    elif isinstance(inp, Remove):
        txn.remove(inp)
    elif isinstance(inp, Shutdown):
        txn.begin_shutdown(inp)
    elif isinstance(inp, EventsConsumed):
        txn.bus_writer().consumed(inp.subscriber, inp.count)
    elif isinstance(inp, Submit):
        txn.submit(inp)
    elif isinstance(inp, SubscriberPanicked):
        # A panic while handling a diagnostic event is not reported: a subscriber that fails on
        # every event would otherwise be fed its own SUBSCRIBER_PANICKED forever (I5, rule 7).
        if inp.event_kind not in DIAGNOSTIC_KINDS:
            name = state.config.subscribers[inp.subscriber].name
            txn.emit(EK.SUBSCRIBER_PANICKED, None, task=name, reason=inp.reason)
    else:  # pragma: no cover - mypy proves this unreachable
        assert_never(inp)
    return txn.commit()


class _Txn:
    """A transition in progress: mutable scratch space that ``commit`` freezes (one chokepoint)."""

    __slots__ = (
        "accepted",
        "at",
        "bus",
        "config",
        "effects",
        "finished",
        "names",
        "now",
        "ready",
        "ready_head",
        "ready_tail",
        "rng",
        "running",
        "seq",
        "shutdown",
        "slot_of",
        "slots",
        "tasks",
        "timer_seq",
        "timers",
        "writer",
    )

    def __init__(self, s: SupervisorState, now: int, rng: RandomSource) -> None:
        self.config = s.config
        self.tasks = s.tasks
        self.names = s.names
        self.running = s.running
        self.ready = s.ready
        self.ready_head = s.ready_head
        self.ready_tail = s.ready_tail
        self.timers = s.timers
        self.timer_seq = s.timer_seq
        self.seq = s.seq
        self.bus = s.bus
        self.writer: BusWriter | None = None
        self.shutdown = s.shutdown
        self.accepted = s.accepted
        self.finished = s.finished
        self.slots = s.slots
        self.slot_of = s.slot_of
        self.now = now
        self.at = ns_to_s(now)
        self.rng = rng
        self.effects: list[Effect] = []

    def commit(self) -> tuple[SupervisorState, list[Effect]]:
        self._drop_stale_timers()
        state = SupervisorState(
            config=self.config,
            tasks=self.tasks,
            names=self.names,
            running=self.running,
            ready=self.ready,
            ready_head=self.ready_head,
            ready_tail=self.ready_tail,
            timers=self.timers,
            timer_seq=self.timer_seq,
            seq=self.seq,
            bus=self.bus if self.writer is None else self.writer.freeze(),
            shutdown=self.shutdown,
            accepted=self.accepted,
            finished=self.finished,
            slots=self.slots,
            slot_of=self.slot_of,
        )
        return state, self.effects

    # -- events -------------------------------------------------------------------------------

    def emit(
        self,
        kind: EventKind,
        t: TaskState | None,
        *,
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
    ) -> None:
        """Publish one event to every subscriber with room; report drops (I5, rule 7).

        A task event takes its id, name and attempt from ``t``. Explicit keywords and a
        positional ``Event`` keep this hot path cheap (it runs three times per attempt).
        """
        attempt = None
        if t is not None:
            task_id, task, attempt = t.id, t.name, t.attempt or None
        event = Event(
            self.seq,
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
        )
        self.seq += 1
        caps = self.config.capacities
        if not caps:
            self.effects.append(Publish(event, ()))
            return
        writer = self.writer or self.bus_writer()
        accepted, report = writer.offer(kind in DIAGNOSTIC_KINDS)
        self.effects.append(Publish(event, accepted))
        for index in report:  # one report per overflow episode; every drop is counted (I5)
            self.emit(
                EK.SUBSCRIBER_OVERFLOW,
                None,
                task=self.config.subscribers[index].name,
                reason=(
                    f"queue full (capacity {caps[index]}): dropped {kind.name} #{event.seq}; "
                    f"dropping until it catches up ({writer.dropped(index)} dropped so far)"
                ),
            )

    def bus_writer(self) -> BusWriter:
        """The step's scratch copy of the bus (one per transition, frozen at commit)."""
        if self.writer is None:
            self.writer = BusWriter(self.bus, self.config.capacities)
        return self.writer

    # -- registry -----------------------------------------------------------------------------

    def move(self, t: TaskState, trigger: Trigger, phase: Phase, **changes: Any) -> TaskState:
        """The one place a task changes phase; the table must allow it.

        A move re-arms or clears the task's one deadline: ``timer``, ``deadline`` and
        ``wait_token`` are None unless given, so a stale heap entry can never fire (I4).
        """
        check_move(t.phase, trigger, phase)
        if phase is Phase.GONE:
            return t
        get = changes.get
        moved = TaskState(
            t.id,
            t.name,
            t.spec,
            t.policy,
            phase,
            get("attempt", t.attempt),
            get("streak", t.streak),
            get("timer"),
            get("deadline"),
            get("started_at", t.started_at),
            get("cause", t.cause),
            get("forced", t.forced),
            get("wait_token"),
        )
        self.tasks = self.tasks.set(t.id, moved)
        return moved

    def schedule(self, t: TaskState, deadline: int) -> dict[str, object]:
        """Arm ``t``'s one deadline; returns the fields to set on the task."""
        token = self.timer_seq
        self.timer_seq += 1
        self.timers = self.timers.push(deadline, token, t.id)
        return {"timer": token, "deadline": deadline}

    def _drop_stale_timers(self) -> None:
        timers = self.timers
        if len(timers) > 2 * len(self.tasks) + _TIMER_SLACK:
            # Lazy deletion only drops stale entries that reach the top; behind an early live
            # deadline they pile up (rate of reschedules x deadline horizon). Rebuild from the
            # live deadlines: O(n), amortised O(1) per push. (deadline, token) keys are unique,
            # so the order, and every trace, stays the same (I8); memory stays bounded (rule 7).
            timers = TimerHeap()
            for live in self.tasks.values():
                if live.timer is not None and live.deadline is not None:
                    timers = timers.push(live.deadline, live.timer, live.id)
        while (top := timers.peek()) is not None:
            t = self.tasks.get(top[2])
            if t is not None and t.timer == top[1]:
                break
            timers = timers.pop()
        self.timers = timers

    def add(self, inp: AddTasks) -> None:
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
        self.names = self.names.set(t.name, tid)
        self.accepted += 1
        self.emit(EK.TASK_ADDED, t)
        self.start_or_wait(t, Trigger.ADMIT)

    def _admission(self, inp: AddTasks) -> tuple[RejectionKind | None, str | None]:
        if self.shutdown is not None:
            return RejectionKind.SHUTTING_DOWN, None
        seen: set[str] = set()
        seen_ids: set[TaskId] = set()  # one id twice in a batch would break I1 and I2
        for tid, spec in inp.items:
            if spec.name in self.names or spec.name in seen or tid in self.tasks or tid in seen_ids:
                return RejectionKind.ALREADY_EXISTS, spec.name
            seen.add(spec.name)
            seen_ids.add(tid)
        return None, None

    # -- attempts -----------------------------------------------------------------------------

    def start_or_wait(self, t: TaskState, trigger: Trigger) -> None:
        limit = self.config.max_concurrent
        if limit is None or self.running < limit:
            self.start(t, trigger)
            return
        token = self.ready_tail
        self.ready = self.ready.set(token, t.id)
        self.ready_tail += 1
        self.move(t, trigger, Phase.WAITING, wait_token=token, timer=None, deadline=None)

    def start(self, t: TaskState, trigger: Trigger) -> None:
        self.running += 1
        attempt = t.attempt + 1
        timing: dict[str, object] = {"timer": None, "deadline": None}
        if t.policy.timeout_ns is not None:
            timing = self.schedule(t, self.now + t.policy.timeout_ns)
        t = self.move(
            t,
            trigger,
            Phase.RUNNING,
            attempt=attempt,
            started_at=self.now,
            wait_token=None,
            **timing,
        )
        self.emit(EK.TASK_STARTING, t)
        self.effects.append(StartAttempt(t.id, t.name, attempt, t.spec))

    def release_permit(self) -> None:
        """An attempt stopped holding a permit: start waiting tasks in FIFO order (I3)."""
        self.running -= 1
        limit = self.config.max_concurrent
        while self.ready_head < self.ready_tail and (limit is None or self.running < limit):
            token = self.ready_head
            tid = self.ready[token]
            self.ready = self.ready.delete(token)
            self.ready_head += 1
            t = self.tasks.get(tid)
            if t is not None and t.phase is Phase.WAITING and t.wait_token == token:
                self.start(t, Trigger.PERMIT)

    def attempt_ended(self, inp: AttemptEnded) -> None:
        t = self.tasks.get(inp.task_id)
        if t is None or t.attempt != inp.attempt or t.phase not in _HOLDS_PERMIT:
            return  # stale: an abandoned attempt, or a duplicate report
        duration = ns_to_s(self.now - t.started_at)
        if t.cause is CancelCause.TIMEOUT:
            timeout = ns_to_s(t.policy.timeout_ns or 0)
            self.failure(
                t, f"timed out after {timeout:g}s", None, inp.error, duration, timeout=timeout
            )
        elif t.cause is not None:
            if t.forced:
                self.finish(
                    t,
                    Trigger.END_FINAL,
                    TaskOutcome(
                        OutcomeKind.FORCE_ABORTED, "force-cancelled after grace", attempts=t.attempt
                    ),
                )
            else:
                kind = EK.TASK_STOPPED if inp.end is EndKind.RETURNED else EK.TASK_CANCELED
                self.emit(kind, t, duration=duration)
                self.finish(
                    t,
                    Trigger.END_FINAL,
                    TaskOutcome(OutcomeKind.CANCELED, "canceled", attempts=t.attempt),
                )
        elif inp.end is EndKind.RETURNED:
            self.success(t, duration)
        elif inp.end is EndKind.FATAL:
            self.emit(
                EK.TASK_FAILED, t, reason=inp.reason, exit_code=inp.exit_code, duration=duration
            )
            outcome = TaskOutcome(
                OutcomeKind.FATAL, inp.reason, inp.exit_code, inp.error, attempts=t.attempt
            )
            self.emit(
                EK.ACTOR_DEAD,
                t,
                reason=inp.reason,
                exit_code=inp.exit_code,
                outcome=OutcomeKind.FATAL,
            )
            self.finish(t, Trigger.END_FINAL, outcome)
        elif inp.end is EndKind.CANCELED:
            self.emit(EK.TASK_CANCELED, t, reason=inp.reason, duration=duration)
            self.finish(
                t,
                Trigger.END_FINAL,
                TaskOutcome(
                    OutcomeKind.CANCELED, inp.reason, inp.exit_code, inp.error, attempts=t.attempt
                ),
            )
        else:  # FAILED, or INTERRUPTED while nobody cancelled it (api.md section 2)
            self.failure(t, inp.reason, inp.exit_code, inp.error, duration)
        self.release_permit()

    def success(self, t: TaskState, duration: float) -> None:
        self.emit(EK.TASK_STOPPED, t, duration=duration)
        restart = t.policy.restart
        if restart.mode is RestartMode.ALWAYS:
            delay = restart.interval_ns
            self.emit(
                EK.BACKOFF_SCHEDULED, t, delay=ns_to_s(delay), backoff_source=BackoffSource.SUCCESS
            )
            timing = self.schedule(t, self.now + delay)
            self.move(
                t, Trigger.END_RESTART, Phase.BACKOFF, streak=EMPTY_STREAK, cause=None, **timing
            )
            return
        self.emit(EK.ACTOR_EXHAUSTED, t, outcome=OutcomeKind.COMPLETED)
        self.finish(t, Trigger.END_FINAL, TaskOutcome(OutcomeKind.COMPLETED, attempts=t.attempt))

    def failure(
        self,
        t: TaskState,
        reason: str,
        exit_code: int | None,
        error: BaseException | None,
        duration: float,
        timeout: float | None = None,
    ) -> None:
        self.emit(
            EK.TASK_FAILED,
            t,
            reason=reason,
            exit_code=exit_code,
            duration=duration,
            timeout=timeout,
        )
        policy = t.policy
        failures = t.streak.failures + 1
        final = None
        if policy.restart.mode is RestartMode.NEVER:
            final = reason
        elif exhausted(failures, policy.max_retries):
            final = f"retry limit ({policy.max_retries}) reached; last failure: {reason}"
        if final is not None:
            outcome = TaskOutcome(OutcomeKind.FAILED, final, exit_code, error, attempts=t.attempt)
            self.emit(
                EK.ACTOR_EXHAUSTED, t, reason=final, exit_code=exit_code, outcome=OutcomeKind.FAILED
            )
            self.finish(t, Trigger.END_FINAL, outcome)
            return
        backoff = policy.backoff
        u = self.rng.random() if needs_draw(backoff) else 0.0
        delay, streak = next_delay_ns(backoff, t.streak, u)
        self.emit(
            EK.BACKOFF_SCHEDULED,
            t,
            delay=ns_to_s(delay),
            reason=reason,
            backoff_source=BackoffSource.FAILURE,
        )
        timing = self.schedule(t, self.now + delay)
        # A timed-out attempt that ended is a plain failure: its cancel state is cleared.
        self.move(
            t, Trigger.END_RESTART, Phase.BACKOFF, streak=streak, cause=None, forced=False, **timing
        )

    def finish(self, t: TaskState, trigger: Trigger, outcome: TaskOutcome) -> None:
        """The task leaves the registry with ``outcome``: TASK_REMOVED, then Finished (I1)."""
        self.move(t, trigger, Phase.GONE)
        self.tasks = self.tasks.delete(t.id)
        if self.names.get(t.name) == t.id:
            self.names = self.names.delete(t.name)
        self.finished += 1
        self.emit(
            EK.TASK_REMOVED,
            t,
            outcome=outcome.kind,
            reason=outcome.reason or None,
            exit_code=outcome.exit_code,
        )
        self.effects.append(Finished(t.id, t.name, outcome))
        if t.id in self.slot_of:
            self.owner_gone(t.id)
        if self.shutdown is not None and not self.tasks and not self.shutdown.done:
            self.complete_shutdown()

    # -- timers -------------------------------------------------------------------------------

    def tick(self) -> None:
        while (top := self.timers.peek()) is not None and top[0] <= self.now:
            _, token, tid = top
            self.timers = self.timers.pop()
            t = self.tasks.get(tid)
            if t is None or t.timer != token:
                continue
            self.deadline_passed(t)

    def deadline_passed(self, t: TaskState) -> None:
        if t.phase is Phase.BACKOFF:
            self.start_or_wait(t, Trigger.DEADLINE)
        elif t.phase is Phase.RUNNING:  # the attempt's timeout (I4's sibling: no early fire)
            timing = self.schedule(t, self.now + self.config.force_wait_ns)
            t = self.move(
                t, Trigger.TIMEOUT, Phase.STOPPING, cause=CancelCause.TIMEOUT, forced=True, **timing
            )
            self.emit(EK.TIMEOUT_HIT, t, timeout=ns_to_s(t.policy.timeout_ns or 0))
            self.effects.append(ForceCancel(t.id, t.attempt))
        elif t.phase is Phase.STOPPING and not t.forced:  # grace ran out (I7)
            self.force(t, Trigger.DEADLINE)
        elif t.phase is Phase.STOPPING:  # even force did not stop it: abandon, report (I7)
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

    def force(self, t: TaskState, trigger: Trigger) -> None:
        self.note_stuck(t)
        self.effects.append(ForceCancel(t.id, t.attempt))
        self.move(
            t,
            trigger,
            Phase.STOPPING,
            forced=True,
            **self.schedule(t, self.now + self.config.force_wait_ns),
        )

    def note_stuck(self, t: TaskState) -> None:
        sd = self.shutdown
        if sd is not None and not sd.done and t.name not in sd.stuck:
            self.shutdown = attrs.evolve(sd, stuck=(*sd.stuck, t.name))

    # -- removal and shutdown -----------------------------------------------------------------

    def remove(self, inp: Remove) -> None:
        tid = inp.task_id if inp.task_id is not None else self.names.get(inp.name or "")
        if tid is None and inp.name is not None:
            tid = self.queued_by_name(inp.name)
        if tid is not None and tid not in self.tasks and tid in self.slot_of:
            # A queued submission never started: it is rejected before it runs (api.md 6).
            self.effects.append(RemoveReply(inp.ticket, True, tid))
            self.unqueue(tid, RejectionKind.REMOVED_FROM_QUEUE)
            return
        t = None if tid is None else self.tasks.get(tid)
        if t is None or t.cause in (CancelCause.REMOVE, CancelCause.SHUTDOWN):
            self.effects.append(RemoveReply(inp.ticket, False, tid))
            return
        self.effects.append(RemoveReply(inp.ticket, True, t.id))
        self.emit(EK.TASK_REMOVE_REQUESTED, t)
        self.cancel(t, CancelCause.REMOVE)

    def cancel(self, t: TaskState, cause: CancelCause) -> None:
        """Stop ``t``: at once if no attempt runs, else cooperatively, forced after grace."""
        if t.phase in (Phase.WAITING, Phase.BACKOFF):
            self.finish(
                t, Trigger.CANCEL, TaskOutcome(OutcomeKind.CANCELED, "canceled", attempts=t.attempt)
            )
        elif t.phase is Phase.STOPPING:  # a timeout is already forcing it; the removal takes over
            self.move(
                t, Trigger.CANCEL, Phase.STOPPING, cause=cause, timer=t.timer, deadline=t.deadline
            )
        elif self.config.grace_ns == 0:
            t = self.move(t, Trigger.CANCEL, Phase.STOPPING, cause=cause)
            self.force(t, Trigger.CANCEL)
        else:
            self.effects.append(RequestCancel(t.id, t.attempt))
            self.move(
                t,
                Trigger.CANCEL,
                Phase.STOPPING,
                cause=cause,
                **self.schedule(t, self.now + self.config.grace_ns),
            )

    def begin_shutdown(self, inp: Shutdown) -> None:
        if self.shutdown is not None:
            if self.shutdown.done:
                self.effects.append(ShutdownDone(tuple(sorted(self.shutdown.stuck))))
            return
        self.shutdown = ShutdownState(self.now)
        self.emit(EK.SHUTDOWN_REQUESTED, None)
        self.close_slots()
        for tid in sorted(self.tasks):
            t = self.tasks.get(tid)
            if t is not None and t.cause not in (CancelCause.REMOVE, CancelCause.SHUTDOWN):
                self.cancel(t, CancelCause.SHUTDOWN)
        if not self.tasks and not self.shutdown.done:
            self.complete_shutdown()

    def complete_shutdown(self) -> None:
        sd = self.shutdown
        assert sd is not None
        stuck = tuple(sorted(sd.stuck))
        self.shutdown = attrs.evolve(sd, done=True, stuck=stuck)
        if stuck:
            self.emit(EK.GRACE_EXCEEDED, None, reason="force-cancelled: " + ", ".join(stuck))
        else:
            self.emit(EK.ALL_STOPPED_WITHIN_GRACE, None)
        self.effects.append(ShutdownDone(stuck))

    # -- slots (api.md section 6; invariant I6) -------------------------------------------------

    def slot_move(self, slot: Slot, trigger: SlotTrigger, status: SlotStatus, **kw: object) -> Slot:
        """The one place a slot changes status; the table must allow it."""
        check_slot_move(slot.status, trigger, status)
        moved = attrs.evolve(slot, status=status, **kw)  # type: ignore[arg-type]
        self.put_slot(moved)
        # The event names the owner *after* the move, so no event carries a task's id once it
        # has been removed (api.md section 5, I1).
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
            self.slots = self.slots.discard(slot.name)
        else:
            self.slots = self.slots.set(slot.name, slot)

    def submit(self, inp: Submit) -> None:
        spec, tid = inp.spec, inp.task_id
        sub = Submission(tid, spec)
        self.emit(
            EK.CONTROLLER_SUBMITTED,
            None,
            task_id=tid,
            task=spec.task_spec.name,
            reason=f"slot {spec.slot!r}, {spec.admission.name}",
        )
        controller = self.config.controller
        if controller is None:
            raise ValueError("Submit needs CoreConfig.controller (the runtime checks this first)")
        if self.shutdown is not None or tid in self.tasks or tid in self.slot_of:
            kind = RejectionKind.CONTROLLER_SHUTTING_DOWN
            if self.shutdown is None:
                kind = RejectionKind.ALREADY_EXISTS
            self.reject(sub, kind)
            self.effects.append(SubmitReply(inp.ticket, tid, kind))
            return
        slot = self.slots.get(spec.slot) or Slot(spec.slot)
        decision = decide(slot, spec.admission, controller.max_slot_queue)
        rejection = REJECTION_OF.get(decision)
        if rejection is not None:
            self.reject(sub, rejection)
            self.effects.append(SubmitReply(inp.ticket, tid, rejection))
            return
        self.slot_of = self.slot_of.set(tid, slot.name)
        self.effects.append(SubmitReply(inp.ticket, tid))
        if decision is Decision.START:
            slot = self.slot_move(slot, SlotTrigger.SUBMIT, SlotStatus.ADMITTING, queue=(sub,))
            self.admit_head(slot)
        elif decision is Decision.ENQUEUE:
            self.put_slot(attrs.evolve(slot, queue=(*slot.queue, sub)))
        else:  # REPLACE: the newcomer takes the head; the old head is superseded
            queue = slot.queue
            if queue:
                self.slot_of = self.slot_of.discard(queue[0].task_id)
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
        while True:
            head, rest = slot.queue[0], slot.queue[1:]
            spec = head.spec.task_spec
            self.emit(EK.TASK_ADD_REQUESTED, None, task_id=head.task_id, task=spec.name)
            if spec.name not in self.names:
                slot = attrs.evolve(slot, queue=rest)
                self.slot_move(slot, SlotTrigger.ADMITTED, SlotStatus.RUNNING, owner=head.task_id)
                self.register(head.task_id, spec)
                return
            self.slot_of = self.slot_of.discard(head.task_id)
            self.reject(head, RejectionKind.ALREADY_EXISTS)
            status = SlotStatus.ADMITTING if rest else SlotStatus.IDLE
            slot = self.slot_move(slot, SlotTrigger.ADMIT_FAILED, status, queue=rest, owner=None)
            if not rest:
                return

    def owner_gone(self, tid: TaskId) -> None:
        """The slot's owner fully left the registry: the only event that frees a slot (I6)."""
        name = self.slot_of[tid]
        self.slot_of = self.slot_of.delete(tid)
        slot = self.slots[name]
        if slot.owner != tid:  # pragma: no cover - slot_of holds owners and queued ids only
            raise AssertionError(f"{tid!r} is not the owner of slot {name!r}")
        if slot.queue and self.shutdown is None:
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
        name = self.slot_of[tid]
        self.slot_of = self.slot_of.delete(tid)
        slot = self.slots[name]
        sub = next(s for s in slot.queue if s.task_id == tid)
        self.put_slot(attrs.evolve(slot, queue=tuple(s for s in slot.queue if s.task_id != tid)))
        self.reject(sub, kind)

    def queued_by_name(self, name: str) -> TaskId | None:
        # The earliest submission of that name: PMap's order over str keys follows the hash
        # seed, so picking "the first found" would break determinism across processes (I8).
        found = [
            sub.task_id
            for slot in self.slots.values()
            for sub in slot.queue
            if sub.spec.task_spec.name == name
        ]
        return min(found) if found else None

    def close_slots(self) -> None:
        """Shutdown: every queued submission is rejected and none of them starts."""
        for name in sorted(self.slots):
            slot = self.slots[name]
            for sub in slot.queue:
                self.slot_of = self.slot_of.discard(sub.task_id)
                self.reject(sub, RejectionKind.CONTROLLER_SHUTTING_DOWN)
            slot = attrs.evolve(slot, queue=())
            if slot.status is SlotStatus.RUNNING:
                self.slot_move(slot, SlotTrigger.SHUTDOWN, SlotStatus.TERMINATING)
            else:
                self.put_slot(slot)


_HOLDS_PERMIT = frozenset({Phase.RUNNING, Phase.STOPPING})
_TIMER_SLACK = 64  # stale timer entries tolerated beyond one per live task before compaction
_STOPPING_FOR_GOOD = (CancelCause.REMOVE, CancelCause.SHUTDOWN)
