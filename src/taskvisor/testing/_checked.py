"""A checked driver of the pure core: every step runs under I1-I8 and a model of the contract.

Owns: ``CheckedCore``. It feeds inputs to ``fsm.step`` at an explicit virtual time, calls the
core's own ``fsm.check_step``, and then checks each transition against a small model that is
built from what a driver can observe (inputs, effects, events), not from the core's state:
attempts in flight, backoff deadlines, restart decisions, run-permit FIFO order, names, slot
owners and queues, subscriber queue depths and shutdown. After every step the model must agree
with the core's state. ``drain`` shuts down and runs to the end; ``verify`` checks the whole
run (every task ended exactly once, ``fsm.check_trace``). Plain Python: no Hypothesis, no
pytest, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from taskvisor._task_errors import TaskError
from taskvisor.fsm import (
    DIAGNOSTIC_KINDS,
    NS_PER_S,
    Abandon,
    AddReply,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    BackoffSource,
    ControllerSpec,
    CoreConfig,
    Effect,
    EndKind,
    Escalate,
    Event,
    EventKind,
    EventsConsumed,
    Finished,
    ForceCancel,
    Heartbeat,
    Input,
    InvariantViolation,
    JitterPolicy,
    OutcomeKind,
    Phase,
    Publish,
    RandomSource,
    RejectionKind,
    Remove,
    RemoveReply,
    RequestCancel,
    ResolvedSpec,
    RestartMode,
    Shutdown,
    ShutdownDone,
    SlotStatus,
    StartAttempt,
    StateSnapshot,
    Stepper,
    Submit,
    SubmitReply,
    SubscriberPanicked,
    SubscriberRecovered,
    SupervisorState,
    TaskId,
    TaskOutcome,
    TaskSpec,
    Tick,
    base_ns,
    check_step,
    check_trace,
    next_deadline,
    to_ns,
)

__all__ = ["CheckedCore"]

EK = EventKind
OK = OutcomeKind
RK = RejectionKind

#: Below this many nanoseconds a delay survives the float-seconds round trip exactly
#: (relative error 2**-53 times the value stays under half a nanosecond).
_EXACT_NS = 1 << 52


def _fail(code: str, message: str) -> None:
    raise InvariantViolation(f"{code}: {message}")


class _SlotModel:
    """What the events say about one slot: its owner and its FIFO queue (I6)."""

    __slots__ = ("owner", "queue")

    def __init__(self) -> None:
        self.owner: TaskId | None = None
        self.queue: list[TaskId] = []

    def busy(self) -> bool:
        return self.owner is not None or bool(self.queue)


class _Scratch:
    """What one step has shown so far (reset for every step)."""

    def __init__(
        self, before: StateSnapshot, in_flight: dict[TaskId, int], names: dict[str, TaskId]
    ) -> None:
        self.before = before
        self.in_flight_before = dict(in_flight)
        self.names_before = dict(names)
        self.handled: set[TaskId] = set()  # started or finished in this step (permit FIFO)
        self.removed: dict[TaskId, OutcomeKind | None] = {}  # TASK_REMOVED in this step
        self.rejected: dict[TaskId, RejectionKind | None] = {}  # rejection events in this step
        self.outcomes: dict[TaskId, TaskOutcome] = {}  # Finished in this step
        self.backoffs: dict[TaskId, Event] = {}  # BACKOFF_SCHEDULED in this step
        self.admitting: set[TaskId] = set()  # queued submissions whose admission began
        self.remove_requested: set[TaskId] = set()
        self.expect_remove_requested: set[TaskId] = set()
        self.expect_superseded: TaskId | None = None
        self.expect_submit: RejectionKind | None = None
        self.expect_aborted: set[TaskId] = set()
        self.overflows: list[int] = []  # subscribers owed a SUBSCRIBER_OVERFLOW event
        self.panic_reports = 0  # SUBSCRIBER_PANICKED events in this step
        self.escalated: Escalate | None = None  # the core shut itself down in this step
        self.expect_escalation: str | None = None  # ...as the crash-loop rules require
        self.done_event: EventKind | None = None
        self.shutdown_done = False


class CheckedCore:
    """Drives ``fsm.step`` one input at a time and checks every transition.

    Attributes:
        config: the core's configuration.
        state: the current ``SupervisorState``.
        now: the current virtual time (integer ns); it never goes backwards.
        events: every published event, in order.
        log: ``(now, input, effects)`` for every step (an I8 trace).
        in_flight: the attempt each task runs, as started by ``StartAttempt`` and not yet ended
            or abandoned (I3: at most one per task).
        ended: ``(task, attempt)`` pairs whose end the core has taken.
        abandoned: attempts the core stopped waiting for; their late ends are stale.
        outcomes: the one ``Finished`` outcome of each task (I1).
        specs: the spec of every task id fed so far (``AddTasks`` items and submissions).
        submitted: the ``ControllerSpec`` of every submission.
        failed: a step raised; the model may be out of step, so further steps are refused.
    """

    def __init__(self, config: CoreConfig, rng: RandomSource, *, now: int = 0) -> None:
        self.config = config
        self.core = Stepper(config, rng, now=now)  # the one stepping loop (rule 8)
        self.rng = rng
        self.events: list[Event] = []
        self.log: list[tuple[int, Input, tuple[Effect, ...]]] = []
        self._next_id = 1
        self._ticket = 0
        self.specs: dict[TaskId, TaskSpec] = {}
        self.submitted: dict[TaskId, ControllerSpec] = {}
        self.policies: dict[TaskId, ResolvedSpec] = {}
        self.ceilings: dict[TaskId, float] = {}
        self.added: dict[TaskId, str] = {}
        self.removed: set[TaskId] = set()
        self.outcomes: dict[TaskId, TaskOutcome] = {}
        self.in_flight: dict[TaskId, int] = {}
        self.started: dict[TaskId, int] = {}
        self.started_at: dict[TaskId, int] = {}
        self.ended: set[tuple[TaskId, int]] = set()
        self.abandoned: set[tuple[TaskId, int]] = set()
        self.failures: dict[TaskId, int] = {}
        self.cause: dict[TaskId, str] = {}  # "timeout" or "cancel", while an attempt stops
        self.forced: dict[TaskId, int] = {}  # when the current attempt was force-cancelled
        self.cancel_asked: dict[TaskId, int] = {}  # when cooperative cancellation was asked
        self.for_good: set[TaskId] = set()  # removal claimed, replaced or shut down
        self.backoff_due: dict[TaskId, int] = {}
        self.waiting: list[TaskId] = []  # tasks waiting for a permit, in the order they began
        self.names: dict[str, TaskId] = {}
        self.slots: dict[str, _SlotModel] = {}
        self.claims: dict[TaskId, int] = {}
        n = len(config.subscribers)
        self.depths = [0] * n
        self.overflowing: set[int] = set()  # subscribers in an overflow episode (reported once)
        self.panicking: set[int] = set()  # subscribers in a panic episode (reported once)
        self.dropped = [0] * n
        self.shutdown_at: int | None = None
        self.shutdown_was: int | None = None  # shutdown_at before the current step
        self.escalated = False
        self.beats: dict[TaskId, int] = {}  # the latest heartbeat heard per running task
        self.streak_start: dict[TaskId, int] = {}
        self.windows: dict[TaskId, list[int]] = {}  # restarts after failures, per task
        self.window: list[int] = []  # ... and supervisor-wide (I10)
        self.shutdown_done = False
        self.stuck: set[str] = set()
        self.shutdown_lag = 0
        self.failed = False

    @property
    def state(self) -> SupervisorState:
        """The core's state (owned and mutated by every step: snapshot it to keep a copy)."""
        return self.core.state

    @property
    def now(self) -> int:
        """The current virtual time (integer ns)."""
        return self.core.now

    @now.setter
    def now(self, value: int) -> None:
        if value < self.core.now:
            raise ValueError(f"virtual time never goes backwards: {value} < {self.core.now}")
        self.core.now = value

    # -- ids and tickets ---------------------------------------------------------------------

    def new_id(self) -> TaskId:
        """A fresh ``TaskId`` (the runtime never reuses one)."""
        tid = TaskId(self._next_id)
        self._next_id += 1
        return tid

    def ticket(self) -> int:
        """A fresh reply ticket."""
        self._ticket += 1
        return self._ticket

    # -- the one way in ----------------------------------------------------------------------

    def feed(self, inp: Input, now: int | None = None) -> list[Effect]:
        """Step the core once at ``now`` (default: the current time) and check the step.

        Raises:
            fsm.InvariantViolation: the step broke an invariant; the message names it.
            ValueError: ``now`` is earlier than the current time.
        """
        if now is not None:
            if now < self.now:
                raise ValueError(f"virtual time never goes backwards: {now} < {self.now}")
            self.now = now
        if isinstance(inp, AddTasks):
            for tid, spec in inp.items:
                self.specs[tid] = spec
        elif isinstance(inp, Submit):
            self.specs[inp.task_id] = inp.spec.task_spec
        if self.failed:
            raise InvariantViolation("a previous step of this CheckedCore failed its checks")
        before = self.state.snapshot()
        try:
            effects = self.core.feed(inp, self.now)
            after = self.state
            check_step(before, after, effects, self.now)
            self._check(before, after, inp, effects)
        except BaseException:
            self.failed = True
            raise
        self.log.append((self.now, inp, tuple(effects)))
        return effects

    # -- conveniences ------------------------------------------------------------------------

    def tick(self, now: int | None = None) -> list[Effect]:
        """Feed a ``Tick`` at ``now`` (default: the current time)."""
        return self.feed(Tick(), now)

    def fire_next(self) -> list[Effect]:
        """Jump to the core's next deadline and tick there (aioquic's timer loop)."""
        deadline = next_deadline(self.state)
        if deadline is None:
            raise ValueError("no deadline pending")
        return self.tick(max(deadline, self.now))

    def end(self, tid: TaskId, end: EndKind = EndKind.RETURNED, reason: str = "") -> list[Effect]:
        """Report that ``tid``'s attempt in flight ended with ``end``."""
        return self.feed(AttemptEnded(tid, self.in_flight[tid], end, reason))

    def play(self, script: Iterable[tuple[int, Input]]) -> None:
        """Feed a script of ``(advance_ns, input)`` steps (``input_scripts``).

        ``EventsConsumed`` counts are clamped to the subscriber's queue depth, as a runtime
        only reports events a subscriber really took.
        """
        for advance, inp in script:
            if isinstance(inp, EventsConsumed):
                depth = self.depths[inp.subscriber]
                inp = EventsConsumed(inp.subscriber, min(inp.count, depth))
            self.feed(inp, self.now + advance)

    def drain(self, *, max_steps: int = 100_000) -> None:
        """Shut down (if not yet) and run until shutdown is done (I7).

        Attempts of even-numbered tasks end cooperatively as soon as they are asked to stop;
        the others are left to the grace and force-wait deadlines, so both paths are taken.
        """
        if self.shutdown_at is None:
            self.feed(Shutdown())
        for _ in range(max_steps):
            if self.shutdown_done:
                return
            cooperative = sorted(t for t in self.in_flight if t.value % 2 == 0)
            if cooperative:
                self.end(cooperative[0], EndKind.CANCELED, "canceled")
            elif next_deadline(self.state) is not None:
                self.fire_next()
            else:
                _fail("I7", f"shutdown stuck: {len(self.state.tasks)} tasks, no deadline")
        _fail("I7", f"shutdown not done after {max_steps} steps")

    def verify(self) -> None:
        """Whole-run checks once every task is gone: I1 for every id, then ``check_trace``."""
        if self.state.tasks:
            _fail("I1", f"verify() with {len(self.state.tasks)} tasks still live")
        missing = sorted(set(self.specs) - set(self.outcomes))
        if missing:
            _fail("I1", f"no outcome for {missing}")
        if self.in_flight:
            _fail("I7", f"attempts left running: {self.in_flight}")
        if set(self.added) != self.removed:
            _fail("I1", f"added but never removed: {sorted(set(self.added) - self.removed)}")
        check_trace(self.events, self.ceilings)

    # -- the checks --------------------------------------------------------------------------

    def _check(
        self,
        before: StateSnapshot,
        after: SupervisorState,
        inp: Input,
        effects: list[Effect],
    ) -> None:
        s = _Scratch(before, self.in_flight, self.names)
        self._pending_escalation: str | None = None
        expected_end = None
        beat = isinstance(inp, Heartbeat) and self.in_flight.get(inp.task_id) == inp.attempt
        if beat and isinstance(inp, Heartbeat) and inp.at <= self.now:
            self.beats[inp.task_id] = max(self.beats.get(inp.task_id, 0), inp.at)
        if isinstance(inp, AttemptEnded):
            tid = inp.task_id
            if self.in_flight.get(tid) == inp.attempt:
                expected_end = self._expected_end(inp)
                s.expect_escalation = self._pending_escalation
                del self.in_flight[tid]
                self.ended.add((tid, inp.attempt))
                self.cause.pop(tid, None)
                self.forced.pop(tid, None)
                self.cancel_asked.pop(tid, None)
            elif effects or after.snapshot() != before:
                _fail("I3", f"a stale {inp!r} changed the core")
        elif isinstance(inp, EventsConsumed):
            self.depths[inp.subscriber] -= inp.count
            if inp.count:  # taking events off the queue ends its overflow episode
                self.overflowing.discard(inp.subscriber)
        elif isinstance(inp, Tick) and self.shutdown_at is not None and not self.shutdown_done:
            due = before.next_deadline()
            if due is not None and due <= self.now:
                self.shutdown_lag += self.now - due  # a late timer delays shutdown by as much
        for eff in effects:
            if isinstance(eff, Publish):
                self._published(s, inp, eff)
            elif isinstance(eff, StartAttempt):
                self._started(s, eff)
            elif isinstance(eff, RequestCancel | ForceCancel | Abandon):
                self._stopping(s, eff)
            elif isinstance(eff, Finished):
                self._finished(s, eff)
            elif isinstance(eff, AddReply):
                self._add_reply(s, inp, eff)
            elif isinstance(eff, RemoveReply):
                self._remove_reply(s, inp, eff)
            elif isinstance(eff, SubmitReply):
                self._submit_reply(s, inp, eff)
            elif isinstance(eff, Escalate):
                if s.escalated is not None or self.escalated:
                    _fail("I10", f"the supervisor escalated twice: {eff!r}")
                s.escalated = eff
                self.escalated = True
            else:
                self._shutdown_done(s, inp, eff)
        self._check_escalation(s)
        self._after_step(s, after, inp, expected_end)

    def _check_escalation(self, s: _Scratch) -> None:
        """I10 and critical tasks (api.md section 8): the core escalates exactly when due."""
        for tid, outcome in s.outcomes.items():
            policy = self.policies.get(tid)
            failed = outcome.kind is OK.FAILED or outcome.kind is OK.FATAL
            if policy is not None and policy.critical and failed and self.shutdown_was is None:
                s.expect_escalation = "critical task"  # finish() escalates first
        due, got = s.expect_escalation, s.escalated
        if due is None and got is not None:
            _fail("I10", f"escalated without cause: {got!r}")
        if due is not None and (got is None or got.rule != due):
            _fail("I10", f"expected the supervisor to escalate ({due}); got {got!r}")
        self.shutdown_was = self.shutdown_at

    def _expected_end(self, inp: AttemptEnded) -> tuple[str, object]:
        """The restart decision the contract requires for a real end (api.md sections 2, 3)."""
        tid = inp.task_id
        policy = self.policies[tid]
        cause = self.cause.get(tid)
        if cause == "cancel":
            return "finished", OK.FORCE_ABORTED if tid in self.forced else OK.CANCELED
        error = inp.error
        if (
            cause is None
            and inp.end is EndKind.FAILED
            and error is not None
            and not isinstance(error, TaskError)
            and not isinstance(error, policy.retry_on)
        ):
            return "finished", OK.FATAL  # outside retry_on: permanent (api.md section 8)
        if cause != "timeout":
            if inp.end is EndKind.RETURNED:
                self.failures[tid] = 0  # a success ends the streak
                if policy.restart.mode is RestartMode.ALWAYS:
                    return "backoff", BackoffSource.SUCCESS
                return "finished", OK.COMPLETED
            if inp.end is EndKind.FATAL:
                return "finished", OK.FATAL
            if inp.end is EndKind.CANCELED:
                return "finished", OK.CANCELED
        now, started = self.now, self.started_at[tid]
        failures = self.failures.get(tid, 0)
        reset = policy.reset_after_ns
        if reset is not None and now - started >= reset:
            failures = 0  # healthy-run reset (api.md section 8)
        if failures == 0:
            self.streak_start[tid] = now  # the streak begins with its first failure
        failures += 1
        self.failures[tid] = failures
        if policy.restart.mode is RestartMode.NEVER:
            return "finished", OK.FAILED
        if policy.max_retries is not None and failures > policy.max_retries:
            return "finished", "retry limit"
        give_up = policy.give_up_after_ns
        if give_up is not None and now - self.streak_start[tid] > give_up:
            return "finished", "gave up after"
        mine = self.windows.setdefault(tid, [])
        if policy.intensity is not None:
            within = policy.intensity.within_ns
            if sum(1 for r in mine if now - r < within) >= policy.intensity.max_restarts:
                return "finished", "restart intensity"
        limit = self.config.intensity
        if limit is not None and self.shutdown_at is None:
            recent = sum(1 for r in self.window if now - r < limit.within_ns)
            if recent >= limit.max_restarts:
                self._pending_escalation = "restart intensity"
                return "finished", "restart intensity"
        mine.append(now)
        self.window.append(now)
        return "backoff", BackoffSource.FAILURE

    # events

    def _published(self, s: _Scratch, inp: Input, eff: Publish) -> None:
        ev = eff.event
        self.events.append(ev)
        self._bus(s, eff)
        tid, kind = ev.task_id, ev.kind
        if tid is not None and tid in self.removed:
            _fail("I1", f"{kind.name} for {tid!r} after its TASK_REMOVED")
        if kind is EK.TASK_ADD_REQUESTED and tid is not None and tid in self.submitted:
            slot = self._slot(tid)
            if slot.owner is not None:
                _fail("I6", f"{tid!r} admitted to slot while its owner {slot.owner!r} is live")
            if not slot.queue or slot.queue[0] != tid:
                _fail("I6", f"{tid!r} admitted out of FIFO order; queue {slot.queue}")
            s.admitting.add(tid)
        elif kind is EK.TASK_ADDED:
            assert tid is not None
            assert ev.task is not None
            self._added(tid, ev.task)
        elif kind is EK.TASK_REMOVED:
            if tid is None or tid not in self.added:
                _fail("I1", f"TASK_REMOVED for {tid!r}, never added")
            assert tid is not None
            self.removed.add(tid)
            s.removed[tid] = ev.outcome
            name = self.added[tid]
            if self.names.get(name) == tid:
                del self.names[name]
            if tid in self.submitted:
                slot = self._slot(tid)
                if slot.owner == tid:
                    slot.owner = None
        elif kind is EK.CONTROLLER_SUBMITTED:
            if not isinstance(inp, Submit) or inp.task_id != tid or tid in self.submitted:
                _fail("I6", f"CONTROLLER_SUBMITTED for {tid!r} without its Submit")
            assert isinstance(inp, Submit)
            s.expect_submit = self._submit_decision(inp.spec)
            self.submitted[inp.task_id] = inp.spec
        elif kind is EK.CONTROLLER_REJECTED:
            self._rejected(s, inp, ev)
        elif kind is EK.TASK_ADD_FAILED:
            if not isinstance(inp, AddTasks) or tid not in dict(inp.items):
                _fail("I1", f"TASK_ADD_FAILED for {tid!r} outside its AddTasks")
            assert tid is not None
            s.rejected[tid] = ev.rejection
        elif kind is EK.TASK_REMOVE_REQUESTED:
            if tid is None or tid not in self.added:
                _fail("I1", f"TASK_REMOVE_REQUESTED for {tid!r}, not a live task")
            assert tid is not None
            s.remove_requested.add(tid)
            self.for_good.add(tid)
            if tid in self.in_flight:
                self.cause[tid] = "cancel"
        elif kind is EK.TIMEOUT_HIT:
            assert tid is not None
            policy = self.policies[tid]
            timeout = policy.timeout_ns
            if ev.reason is not None and ev.reason.startswith("watchdog"):
                # The watchdog (api.md section 8): no heartbeat since the last one it heard.
                beat = max(self.beats.get(tid, 0), self.started_at[tid])
                watchdog = policy.watchdog_ns
                if watchdog is None or self.now < beat + watchdog:
                    _fail("I4", f"watchdog TIMEOUT_HIT for {tid!r} at {self.now}, beat {beat}")
            elif timeout is None or self.now < self.started_at[tid] + timeout:
                _fail("I4", f"TIMEOUT_HIT for {tid!r} at {self.now} before its timeout")
            self.cause.setdefault(tid, "timeout")
        elif kind is EK.BACKOFF_SCHEDULED:
            assert tid is not None
            s.backoffs[tid] = ev
        elif kind is EK.SHUTDOWN_REQUESTED:
            asked = isinstance(inp, Shutdown) or s.escalated is not None
            if not asked or self.shutdown_at is not None:
                _fail("I7", "SHUTDOWN_REQUESTED twice or without a Shutdown")
            self.shutdown_at = self.now
            for live in set(self.added) - self.removed:
                self.for_good.add(live)
                if live in self.in_flight:
                    self.cause[live] = "cancel"
        elif kind in (EK.ALL_STOPPED_WITHIN_GRACE, EK.GRACE_EXCEEDED):
            s.done_event = kind
        elif kind is EK.SUBSCRIBER_PANICKED:
            s.panic_reports += 1
            if not isinstance(inp, SubscriberPanicked) or ev.task != (
                self.config.subscribers[inp.subscriber].name
            ):
                _fail("I5", "SUBSCRIBER_PANICKED without its input, or naming another subscriber")
        elif kind is EK.TASK_STARTING and (tid is None or tid not in self.added):
            _fail("I1", f"TASK_STARTING for {tid!r}, not a live task")

    def _bus(self, s: _Scratch, eff: Publish) -> None:
        """Subscriber queues: a drop only when full, every drop counted, and the first drop of
        each overflow episode reported (I5, rule 7)."""
        ev = eff.event
        if s.overflows:
            index = s.overflows.pop(0)
            if ev.kind is not EK.SUBSCRIBER_OVERFLOW:
                _fail("I5", f"a drop for subscriber {index} was not reported")
            if ev.task != self.config.subscribers[index].name:
                _fail("I5", f"SUBSCRIBER_OVERFLOW names {ev.task!r}, not subscriber {index}")
        recipients = set(eff.recipients)
        for i, cap in enumerate(self.config.capacities):
            if i in recipients:
                if self.depths[i] >= cap:
                    _fail("I5", f"subscriber {i} took an event beyond its capacity {cap}")
                self.depths[i] += 1
            else:
                if self.depths[i] < cap:
                    _fail("I5", f"subscriber {i} missed {ev.kind.name} with room in its queue")
                self.dropped[i] += 1
                # One report per overflow episode; later drops of the episode are counted only.
                if ev.kind not in DIAGNOSTIC_KINDS and i not in self.overflowing:
                    self.overflowing.add(i)
                    s.overflows.append(i)
        if not recipients <= set(range(len(self.config.capacities))):
            _fail("I5", f"Publish to unknown subscribers {eff.recipients}")

    def _added(self, tid: TaskId, name: str) -> None:
        if tid in self.added:
            _fail("I1", f"{tid!r} added twice")
        if name in self.names:
            _fail("I2", f"{name!r} added as {tid!r} while {self.names[name]!r} is live")
        self.names[name] = tid
        self.added[tid] = name
        policy = self.specs[tid].resolve(self.config.defaults)
        self.policies[tid] = policy
        self.ceilings[tid] = policy.backoff.ceiling_ns / NS_PER_S
        if tid in self.submitted:
            slot = self._slot(tid)
            slot.queue.pop(0)
            slot.owner = tid

    def _slot(self, tid: TaskId) -> _SlotModel:
        return self.slots.setdefault(self.submitted[tid].slot, _SlotModel())

    def _submit_decision(self, spec: ControllerSpec) -> RejectionKind | None:
        """api.md section 6: what a submission must get, from the slot as events showed it."""
        if self.shutdown_at is not None:
            return RK.CONTROLLER_SHUTTING_DOWN
        slot = self.slots.get(spec.slot)
        if slot is None or not slot.busy():
            return None
        if spec.admission is AdmissionPolicy.DROP_IF_RUNNING:
            return RK.SLOT_BUSY
        if spec.admission is AdmissionPolicy.REPLACE:
            return None
        assert self.config.controller is not None
        if len(slot.queue) >= self.config.controller.max_slot_queue:
            return RK.QUEUE_FULL
        return None

    def _rejected(self, s: _Scratch, inp: Input, ev: Event) -> None:
        tid, kind = ev.task_id, ev.rejection
        if tid is None or tid not in self.submitted or tid in self.added:
            _fail("I6", f"CONTROLLER_REJECTED for {tid!r}: not a pending submission")
        assert tid is not None
        spec = self.submitted[tid]
        slot = self._slot(tid)
        queued = tid in slot.queue
        if ev.outcome is not OK.REJECTED:
            _fail("I6", f"CONTROLLER_REJECTED for {tid!r} with outcome {ev.outcome}")
        if kind is RK.SUPERSEDED_BY_REPLACE:
            if s.expect_superseded != tid:
                _fail("I6", f"{tid!r} superseded, but it was not the head of a REPLACEd queue")
            s.expect_superseded = None
        elif kind is RK.REMOVED_FROM_QUEUE:
            named = isinstance(inp, Remove) and (
                inp.task_id == tid or (inp.task_id is None and inp.name == spec.task_spec.name)
            )
            if not (named and queued):
                _fail("I6", f"{tid!r} REMOVED_FROM_QUEUE without a Remove naming it in a queue")
            slot.queue.remove(tid)
        elif kind is RK.CONTROLLER_SHUTTING_DOWN and queued:
            if not isinstance(inp, Shutdown) and s.escalated is None:
                _fail("I6", f"queued {tid!r} rejected CONTROLLER_SHUTTING_DOWN without Shutdown")
            slot.queue.remove(tid)
        elif kind is RK.ALREADY_EXISTS:
            name = spec.task_spec.name
            if tid not in s.admitting or name not in self.names:
                _fail("I2", f"{tid!r} rejected ALREADY_EXISTS but {name!r} is free")
            slot.queue.pop(0)
        elif not isinstance(inp, Submit) or inp.task_id != tid or s.expect_submit is not kind:
            _fail("I6", f"{tid!r} rejected {kind} where {s.expect_submit} was due")
        s.rejected[tid] = kind

    # effects

    def _started(self, s: _Scratch, eff: StartAttempt) -> None:
        tid, attempt = eff.task_id, eff.attempt
        if tid not in self.added or tid in self.removed:
            _fail("I1", f"StartAttempt for {tid!r}, not a live task")
        if tid in self.in_flight:
            _fail("I3", f"{tid!r} attempt {attempt} started while {self.in_flight[tid]} runs")
        if attempt != self.started.get(tid, 0) + 1:
            _fail("I3", f"{tid!r} started attempt {attempt} after {self.started.get(tid, 0)}")
        due = self.backoff_due.pop(tid, None)
        if due is not None and self.now < due:
            _fail("I4", f"{tid!r} restarted at {self.now}, before its deadline {due}")
        if self.shutdown_at is not None:
            _fail("I7", f"{tid!r} started after shutdown was requested")
        pending = [w for w in self.waiting if w not in s.handled]
        if pending and pending[0] != tid:
            _fail("I3", f"{tid!r} started while {pending[0]!r} waits longer for a permit")
        s.handled.add(tid)
        self.in_flight[tid] = attempt
        self.started[tid] = attempt
        self.started_at[tid] = self.now
        self.beats.pop(tid, None)
        limit = self.config.max_concurrent
        if limit is not None and len(self.in_flight) > limit:
            _fail("I3", f"{len(self.in_flight)} attempts in flight, max_concurrent={limit}")

    def _stopping(self, s: _Scratch, eff: RequestCancel | ForceCancel | Abandon) -> None:
        tid, attempt = eff.task_id, eff.attempt
        what = type(eff).__name__
        if s.in_flight_before.get(tid) != attempt or self.in_flight.get(tid) != attempt:
            _fail("I7", f"{what} names {tid!r} attempt {attempt}, which was not running")
        shutting = self.shutdown_at is not None and not self.shutdown_done
        if isinstance(eff, RequestCancel):
            self.cancel_asked[tid] = self.now
        elif isinstance(eff, ForceCancel):
            asked = self.cancel_asked.get(tid)
            early = asked is not None and self.now < asked + self.config.grace_ns
            if early and tid not in self.forced:
                _fail("I7", f"{tid!r} forced at {self.now}, before grace from {asked}")
            self.forced[tid] = self.now
            if shutting:
                self.stuck.add(self.added[tid])
        else:
            forced = self.forced.get(tid)
            if forced is None or self.now < forced + self.config.force_wait_ns:
                _fail("I7", f"{tid!r} abandoned at {self.now}, before its force-wait")
            del self.in_flight[tid]
            self.abandoned.add((tid, attempt))
            s.expect_aborted.add(tid)
            if shutting:
                self.stuck.add(self.added[tid])

    def _finished(self, s: _Scratch, eff: Finished) -> None:
        tid, outcome = eff.task_id, eff.outcome
        if tid in self.outcomes:
            _fail("I1", f"{tid!r} finished twice: {self.outcomes[tid]} then {outcome}")
        self.outcomes[tid] = outcome
        s.outcomes[tid] = outcome
        s.handled.add(tid)
        if tid in self.added:
            if tid not in s.removed:
                _fail("I1", f"Finished for {tid!r} without a TASK_REMOVED before it")
            if s.removed[tid] is not outcome.kind:
                _fail("I1", f"{tid!r}: TASK_REMOVED says {s.removed[tid]}, Finished {outcome}")
            if tid in self.in_flight:
                _fail("I7", f"{tid!r} finished while attempt {self.in_flight[tid]} runs")
            if outcome.attempts != self.started.get(tid, 0):
                _fail("I1", f"{tid!r}: outcome counts {outcome.attempts} attempts")
            if outcome.kind is OK.REJECTED:
                _fail("I1", f"{tid!r} was admitted, then REJECTED")
            if tid in self.for_good and outcome.kind not in (OK.CANCELED, OK.FORCE_ABORTED):
                _fail("I7", f"{tid!r} was asked to stop for good but ended {outcome.kind}")
            if tid in s.expect_aborted and outcome.kind is not OK.FORCE_ABORTED:
                _fail("I7", f"{tid!r} was abandoned but ended {outcome.kind}")
        else:
            if outcome.kind is not OK.REJECTED or outcome.rejection is None:
                _fail("I1", f"{tid!r} never admitted, but ended {outcome}")
            if s.rejected.get(tid, "none") is not outcome.rejection:
                _fail("I1", f"{tid!r} ended {outcome.rejection} without that rejection event")
        if tid in self.waiting:
            self.waiting.remove(tid)
        self.backoff_due.pop(tid, None)

    def _add_reply(self, s: _Scratch, inp: Input, eff: AddReply) -> None:
        if not isinstance(inp, AddTasks) or eff.ticket != inp.ticket:
            _fail("I1", f"{eff!r} without its AddTasks")
        assert isinstance(inp, AddTasks)
        expected = None
        if self.shutdown_at is not None:
            expected = RK.SHUTTING_DOWN
        else:
            seen: set[str] = set()
            for _tid, spec in inp.items:
                if spec.name in s.names_before or spec.name in seen:
                    expected = RK.ALREADY_EXISTS
                seen.add(spec.name)
        if eff.rejection is not expected:
            _fail("I2", f"AddTasks got {eff.rejection}, the contract says {expected}")
        for tid, _spec in inp.items:
            if expected is None and tid not in self.added:
                _fail("I1", f"accepted batch, but {tid!r} has no TASK_ADDED")
            if expected is not None and s.rejected.get(tid) is not expected:
                _fail("I1", f"rejected batch, but {tid!r} has no TASK_ADD_FAILED({expected})")

    def _remove_reply(self, s: _Scratch, inp: Input, eff: RemoveReply) -> None:
        if not isinstance(inp, Remove) or eff.ticket != inp.ticket:
            _fail("I1", f"{eff!r} without its Remove")
        assert isinstance(inp, Remove)
        queued = {
            q: name
            for name, slot in self.slots.items()
            for q in slot.queue
            if inp.task_id is None and self.submitted[q].task_spec.name == inp.name
        }
        target = inp.task_id if inp.task_id is not None else self.names.get(inp.name or "")
        live = target is not None and target in self.added and target not in self.removed
        if live:
            claim = target not in self.for_good
        elif target is not None:
            claim = any(target in slot.queue for slot in self.slots.values())
        else:
            claim = bool(queued)
            target = eff.task_id if eff.task_id in queued else None
        if eff.claimed is not claim or (claim and eff.task_id != target):
            _fail("I1", f"{eff!r} for {inp!r}: the contract says claimed={claim} for {target!r}")
        if claim:
            assert eff.task_id is not None
            self.claims[eff.task_id] = self.claims.get(eff.task_id, 0) + 1
            if self.claims[eff.task_id] > 1:
                _fail("I1", f"two removals claimed {eff.task_id!r}")
            if live:
                s.expect_remove_requested.add(eff.task_id)

    def _submit_reply(self, s: _Scratch, inp: Input, eff: SubmitReply) -> None:
        if not isinstance(inp, Submit) or (eff.ticket, eff.task_id) != (inp.ticket, inp.task_id):
            _fail("I6", f"{eff!r} without its Submit")
        assert isinstance(inp, Submit)
        if eff.rejection is not s.expect_submit:
            _fail("I6", f"{inp.spec.admission.name} got {eff.rejection}; due: {s.expect_submit}")
        if eff.rejection is not None:
            return
        slot = self._slot(inp.task_id)
        if not slot.busy():
            slot.queue = [inp.task_id]  # admitted in this same step
        elif inp.spec.admission is AdmissionPolicy.REPLACE:
            if slot.queue:
                s.expect_superseded = slot.queue[0]
            slot.queue = [inp.task_id, *slot.queue[1:]]
            if slot.owner is not None and slot.owner not in self.for_good:
                s.expect_remove_requested.add(slot.owner)
        else:
            slot.queue.append(inp.task_id)

    def _shutdown_done(self, s: _Scratch, inp: Input, eff: ShutdownDone) -> None:
        if self.shutdown_at is None:
            _fail("I7", "ShutdownDone before shutdown was requested")
        if s.shutdown_done:
            _fail("I7", "two ShutdownDone in one step")
        s.shutdown_done = True
        if self.shutdown_done and not isinstance(inp, Shutdown):
            _fail("I7", "ShutdownDone again without a Shutdown")
        if eff.stuck != tuple(sorted(self.stuck)):
            _fail("I7", f"ShutdownDone.stuck={eff.stuck}, forced: {sorted(self.stuck)}")
        if not self.shutdown_done:
            want = EK.GRACE_EXCEEDED if self.stuck else EK.ALL_STOPPED_WITHIN_GRACE
            if s.done_event is not want:
                _fail("I7", f"shutdown done with {s.done_event}, expected {want.name}")
        self.shutdown_done = True

    # after the step: the model must agree with the core

    def _after_step(
        self,
        s: _Scratch,
        after: SupervisorState,
        inp: Input,
        expected_end: tuple[str, object] | None,
    ) -> None:
        if s.overflows:
            _fail("I5", f"drops for subscribers {s.overflows} were not reported")
        if isinstance(inp, SubscriberPanicked):
            # Reported once per episode (api.md section 9), and never for a panic while handling
            # a diagnostic event (rule 7); the episode ends when the subscriber recovers.
            due = 0
            if inp.event_kind not in DIAGNOSTIC_KINDS and inp.subscriber not in self.panicking:
                due = 1
                self.panicking.add(inp.subscriber)
            if s.panic_reports != due:
                _fail(
                    "I5", f"{s.panic_reports} SUBSCRIBER_PANICKED for a panic on {inp.event_kind}"
                )
        elif isinstance(inp, SubscriberRecovered):
            self.panicking.discard(inp.subscriber)
        if after.bus.panicking != self.panicking:
            _fail("I5", f"panic episodes {after.bus.panicking} != {self.panicking}")
        if list(after.bus.depths) != self.depths or list(after.bus.dropped) != self.dropped:
            _fail("I5", f"bus {after.bus} disagrees with deliveries {self.depths}/{self.dropped}")
        if set(after.bus.overflowing) != self.overflowing:
            _fail("I5", f"overflow episodes {after.bus.overflowing} != {self.overflowing}")
        owed = (set(s.removed) | set(s.rejected)) - set(s.outcomes)
        if owed:
            _fail("I1", f"no Finished in the step that ended {sorted(owed)}")
        if s.expect_superseded is not None:
            _fail("I6", f"REPLACE did not supersede the queue head {s.expect_superseded!r}")
        if s.expect_remove_requested - s.remove_requested:
            _fail("I6", f"no TASK_REMOVE_REQUESTED for {s.expect_remove_requested}")
        if expected_end is not None:
            assert isinstance(inp, AttemptEnded)
            self._check_end(s, after, inp.task_id, expected_end)
        for tid, ev in s.backoffs.items():
            self._check_backoff(after, tid, ev)
        holding = {
            t.id: t.attempt
            for t in after.tasks.values()
            if t.phase in (Phase.RUNNING, Phase.STOPPING)
        }
        if holding != self.in_flight:
            _fail("I3", f"core runs {holding}, the driver was told {self.in_flight}")
        if after.names != self.names:
            _fail("I2", f"core names {dict(after.names.items())} != events {self.names}")
        self._check_slots(after)
        # Permit FIFO (I3): newly waiting tasks queue behind those already waiting.
        waiting = [t for t in self.waiting if self._phase(after, t) is Phase.WAITING]
        new = sorted(
            (t for t in after.tasks.values() if t.phase is Phase.WAITING and t.id not in waiting),
            key=lambda t: t.wait_token or 0,
        )
        self.waiting = waiting + [t.id for t in new]
        limit = self.config.max_concurrent
        if self.waiting and (limit is None or after.running < limit):
            _fail("I3", f"{self.waiting[0]!r} waits while {after.running}/{limit} permits held")
        if isinstance(inp, Tick):
            deadline = next_deadline(after)
            if deadline is not None and deadline <= self.now:
                _fail("I4", f"a tick at {self.now} left deadline {deadline} behind")
        if self.shutdown_at is not None:
            for t in after.tasks.values():
                if t.phase is not Phase.STOPPING:
                    _fail("I7", f"{t.name} is {t.phase.name} during shutdown")
            # I7: done within grace + force-wait, plus however late the timer fired.
            config = self.config
            bound = self.shutdown_at + config.grace_ns + config.force_wait_ns + self.shutdown_lag
            if isinstance(inp, Tick) and self.now >= bound and not self.shutdown_done:
                _fail("I7", f"shutdown from {self.shutdown_at} not done at {self.now} >= {bound}")

    @staticmethod
    def _phase(state: SupervisorState, tid: TaskId) -> Phase | None:
        t = state.tasks.get(tid)
        return None if t is None else t.phase

    def _check_end(
        self, s: _Scratch, after: SupervisorState, tid: TaskId, expected: tuple[str, object]
    ) -> None:
        what, detail = expected
        if what == "backoff":
            ev = s.backoffs.get(tid)
            if self._phase(after, tid) is not Phase.BACKOFF or ev is None:
                _fail("I4", f"{tid!r} should restart after a pause ({detail}); it did not")
            assert ev is not None
            if ev.backoff_source is not detail:
                _fail("I4", f"{tid!r} pause after {ev.backoff_source}, expected {detail}")
            return
        outcome = s.outcomes.get(tid)
        rule = detail if isinstance(detail, str) else None
        kind = OK.FAILED if rule is not None else detail
        if outcome is None or outcome.kind is not kind:
            _fail("I1", f"{tid!r} should have ended {kind}; got {outcome}")
        assert outcome is not None
        if rule is not None and rule not in outcome.reason:
            _fail(
                "I10", f"{tid!r} ended by the {rule!r} rule, but the reason is {outcome.reason!r}"
            )

    def _check_backoff(self, after: SupervisorState, tid: TaskId, ev: Event) -> None:
        """I4: the deadline is the published delay, in the documented range for the policy."""
        t = after.tasks.get(tid)
        assert ev.delay is not None
        delay = to_ns(ev.delay, "BACKOFF_SCHEDULED.delay")
        if t is None or t.phase is not Phase.BACKOFF:
            _fail("I4", f"BACKOFF_SCHEDULED for {tid!r}, which is not in backoff")
        assert t is not None
        if delay < _EXACT_NS and t.deadline != self.now + delay:
            _fail("I4", f"{tid!r} deadline {t.deadline} != now {self.now} + delay {delay}")
        self.backoff_due[tid] = self.now + delay
        policy = self.policies[tid]
        if ev.backoff_source is BackoffSource.SUCCESS:
            if delay != policy.restart.interval_ns:
                _fail("I4", f"{tid!r} pause {delay} after success != interval")
            return
        backoff = policy.backoff
        base = base_ns(backoff, self.failures[tid] - 1)
        jitter = backoff.jitter
        if jitter is JitterPolicy.NONE:
            low, high = base, base
        elif jitter is JitterPolicy.FULL:
            low, high = 0, base
        elif jitter is JitterPolicy.EQUAL:
            low, high = base - base // 2, base
        else:
            low, high = backoff.first_ns, backoff.max_ns
        low, high = max(low, backoff.floor_ns), max(high, backoff.floor_ns)
        if delay < _EXACT_NS and not low <= delay <= high:
            _fail("I4", f"{tid!r} {jitter.name} delay {delay} outside [{low}, {high}]")
        if delay > backoff.ceiling_ns + (0 if delay < _EXACT_NS else delay >> 50):
            _fail("I4", f"{tid!r} delay {delay} above max(max, floor) {backoff.ceiling_ns}")

    def _check_slots(self, after: SupervisorState) -> None:
        """I6: the slots the events describe are the slots the core holds."""
        model = {name: (slot.owner, slot.queue) for name, slot in self.slots.items() if slot.busy()}
        core = {
            name: (slot.owner, [sub.task_id for sub in slot.queue])
            for name, slot in after.slots.items()
        }
        if model != core:
            _fail("I6", f"slots per events {model} != core {core}")
        for name, slot in after.slots.items():
            owned = slot.status in (SlotStatus.RUNNING, SlotStatus.TERMINATING)
            if owned != (slot.owner is not None):
                _fail("I6", f"slot {name!r} is {slot.status.name} with owner {slot.owner!r}")
