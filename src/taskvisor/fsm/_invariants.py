"""Invariants I1-I9 of docs/spec/architecture.md as callable checks over states, steps and traces.

Owns: ``check_state`` (what must hold of every ``SupervisorState``), ``check_step`` (what must
hold of one transition), and ``check_trace`` (what must hold of a whole event trace). Each
raises ``InvariantViolation`` naming the invariant. The Hypothesis machines, the simulator's
``supervisor`` scenario and the runtime's conformance tests all call these same functions.
Must not import anything that does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from taskvisor.fsm._effects import Effect, Publish, StartAttempt
from taskvisor.fsm._events import BackoffSource, Event, EventKind, TaskId
from taskvisor.fsm._retry_budget import refill
from taskvisor.fsm._slots import SlotStatus
from taskvisor.fsm._supervisor import StateSnapshot, SupervisorState
from taskvisor.fsm._table import Phase

__all__ = ["InvariantViolation", "check_state", "check_step", "check_trace"]

EK = EventKind


class InvariantViolation(AssertionError):
    """An invariant (docs/spec/architecture.md) does not hold; the message names its number."""


def _fail(code: str, message: str) -> None:
    raise InvariantViolation(f"{code}: {message}")


def check_state(s: SupervisorState) -> None:
    """I1, I2, I3, I5, I7, I8, I9 as they apply to one state."""
    # I2: names and tasks are one-to-one among live tasks.
    if len(s.names) != len(s.tasks):
        _fail("I2", f"{len(s.names)} names for {len(s.tasks)} tasks")
    for name, tid in s.names.items():
        t = s.tasks.get(tid)
        if t is None or t.name != name:
            _fail("I2", f"name {name!r} maps to {tid!r}, which is not that live task")
    # I3: permits held match attempts in flight, within max_concurrent.
    holding = sum(1 for t in s.tasks.values() if t.phase in (Phase.RUNNING, Phase.STOPPING))
    if holding != s.running:
        _fail("I3", f"running={s.running} but {holding} attempts hold a permit")
    limit = s.config.max_concurrent
    if limit is not None and s.running > limit:
        _fail("I3", f"{s.running} attempts running, max_concurrent={limit}")
    # I1: every admitted task is either live or finished, exactly once.
    if s.accepted != s.finished + len(s.tasks):
        _fail("I1", f"accepted={s.accepted} != finished={s.finished} + live={len(s.tasks)}")
    # I4 (state half): every task between attempts has a live deadline.
    for t in s.tasks.values():
        if t.phase in (Phase.BACKOFF, Phase.STOPPING) and t.deadline is None:
            _fail("I4", f"{t.name} is {t.phase.name} with no deadline")
        waiting = t.wait_token is not None and s.ready.get(t.wait_token) == t.id
        if t.phase is Phase.WAITING and not waiting:
            _fail("I3", f"{t.name} is WAITING but not queued for a permit")
    # I5: subscriber queues within capacity.
    for depth, cap in zip(s.bus.depths, s.config.capacities, strict=True):
        if not 0 <= depth <= cap:
            _fail("I5", f"subscriber queue depth {depth} outside [0, {cap}]")
    # I6: a slot has at most one owner, a live task; queues within bound; bookkeeping agrees.
    _check_slots(s)
    # I7: once shutdown is done nothing is left; during it no grace outlasts its bound. A forced
    # attempt's force-wait counts from the tick that forced it, which a late timer delays, so
    # only the grace deadlines have a bound that a state can check (drivers add their lag).
    sd = s.shutdown
    if sd is not None:
        if sd.done and s.tasks:
            _fail("I7", f"shutdown done with {len(s.tasks)} tasks left")
        bound = sd.requested_at + s.config.grace_ns
        for t in s.tasks.values():
            stopping = t.phase is Phase.STOPPING and not t.forced
            if t.deadline is not None and stopping and t.deadline > bound:
                _fail("I7", f"{t.name} may outlive shutdown: grace ends {t.deadline} > {bound}")
    # I4 (bookkeeping): every live deadline is in the timer heap and its top is live, so
    # next_deadline is exact; lazy deletion leaves stale entries only below the top.
    heap = {(d, tok) for d, tok, _ in s.timers}
    for t in s.tasks.values():
        if t.timer is not None and (t.deadline, t.timer) not in heap:
            _fail("I4", f"{t.name}'s deadline {t.deadline} is not in the timer heap")
    if s.timers:
        top_deadline, top_token, top_id = s.timers[0]
        top = s.tasks.get(top_id)
        if top is None or top.timer != top_token or min(s.timers)[0] != top_deadline:
            _fail("I4", f"stale or misplaced timer on top of the heap: {s.timers[0]!r}")
    _check_shaping(s)


def check_step(
    before: StateSnapshot, after: SupervisorState, effects: Sequence[Effect], now: int
) -> None:
    """Transition checks: starts respect deadlines (I4) and permits (I3); events are ordered.

    ``before`` is ``state.snapshot()`` taken before the step (the state itself is mutated).
    """
    for eff in effects:
        if isinstance(eff, StartAttempt):
            prev = before.task(eff.task_id)
            if prev is not None:
                early = prev.deadline is not None and now < prev.deadline
                if prev.phase is Phase.BACKOFF and early:
                    _fail("I4", f"{prev.name} started at {now} before {prev.deadline}")
                if prev.phase in (Phase.RUNNING, Phase.STOPPING):
                    _fail("I3", f"{prev.name} started while an attempt still runs")
    seqs = [e.event.seq for e in effects if isinstance(e, Publish)]
    if seqs and (
        seqs != list(range(before.seq, before.seq + len(seqs))) or after.seq != seqs[-1] + 1
    ):
        _fail("I8", f"event seq not consecutive from {before.seq}: {seqs}")
    _check_takes(before, after, effects, now)
    check_state(after)


#: Events that may carry a task id before (or instead of) its TASK_ADDED. A slot's
#: ADMITTING -> RUNNING transition names its new owner just before the owner's TASK_ADDED.
_BEFORE_ADMISSION = frozenset(
    {
        EK.TASK_ADD_REQUESTED,
        EK.TASK_ADD_FAILED,
        EK.CONTROLLER_SUBMITTED,
        EK.CONTROLLER_REJECTED,
        EK.CONTROLLER_SLOT_TRANSITION,
    }
)


def check_trace(events: Iterable[Event], ceiling: dict[TaskId, float] | None = None) -> None:
    """I1, I3 and I4 over a whole trace of events in publication order."""
    added: set[TaskId] = set()
    removed: set[TaskId] = set()
    running: dict[TaskId, bool] = {}
    last_seq = -1
    for ev in events:
        if ev.seq <= last_seq:
            _fail("I8", f"seq {ev.seq} after {last_seq}")
        last_seq = ev.seq
        tid = ev.task_id
        if tid is None:
            continue
        if tid in removed:  # no event at all for an id once it was removed (I1)
            _fail("I1", f"{ev.kind.name} for {tid!r} after its TASK_REMOVED")
        if ev.kind in _BEFORE_ADMISSION:
            continue
        if ev.kind is EK.TASK_ADDED:
            if tid in added:
                _fail("I1", f"{tid!r} added twice")
            added.add(tid)
        elif tid not in added:
            _fail("I1", f"{ev.kind.name} for {tid!r} before TASK_ADDED")
        if ev.kind is EK.TASK_STARTING:
            if running.get(tid):
                _fail("I3", f"{tid!r} started while its previous attempt runs")
            running[tid] = True
        elif ev.kind in (EK.TASK_STOPPED, EK.TASK_FAILED, EK.TASK_CANCELED):
            running[tid] = False
        elif ev.kind is EK.TASK_REMOVED:
            removed.add(tid)
            running.pop(tid, None)
        elif ev.kind is EK.BACKOFF_SCHEDULED and ceiling is not None and tid in ceiling:
            if ev.backoff_source is not BackoffSource.FAILURE:
                continue  # an interval, a Retry-After, a start or a budget wait: not a backoff
            delay = ev.delay if ev.delay is not None else -1.0
            if not 0 <= delay <= ceiling[tid]:
                _fail("I4", f"delay {delay} outside [0, {ceiling[tid]}] for {tid!r}")


def _check_slots(s: SupervisorState) -> None:
    controller = s.config.controller
    bound = controller.max_slot_queue if controller is not None else 0
    tracked: dict[TaskId, str] = {}
    for name, slot in s.slots.items():
        if slot.name != name:
            _fail("I6", f"slot stored as {name!r} is named {slot.name!r}")
        if len(slot.queue) > bound:
            _fail("I5", f"slot {name!r} queue {len(slot.queue)} > max_slot_queue {bound}")
        if slot.status is SlotStatus.IDLE:
            if slot.owner is not None or not slot.queue:
                _fail("I6", f"idle slot {name!r} has an owner or is stored while empty")
        elif slot.status in (SlotStatus.RUNNING, SlotStatus.TERMINATING):
            if slot.owner is None or slot.owner not in s.tasks:
                _fail("I6", f"slot {name!r} is {slot.status.name} without a live owner")
            else:
                tracked[slot.owner] = name
        else:
            _fail("I6", f"slot {name!r} left {slot.status.name} between steps")
        for sub in slot.queue:
            if sub.task_id in s.tasks:
                _fail("I6", f"queued {sub.task_id!r} of slot {name!r} is already running")
            tracked[sub.task_id] = name
    if s.slot_of != tracked:
        _fail("I6", "slot_of disagrees with the slots' owners and queues")


# -- retry shaping: I8 (per-task streams) and I9 (shared retry budgets) ---------------------------


def _holds_token(t: object) -> bool:
    """A task in BACKOFF whose pause is a retry budget's wait: it holds a token taken ahead."""
    decision = getattr(t, "decision", None)
    return (
        getattr(t, "phase", None) is Phase.BACKOFF
        and decision is not None
        and decision.source is BackoffSource.BUDGET
    )


def _check_shaping(s: SupervisorState) -> None:
    """I8: with a seed, every task has its own stream. I9 over every bucket: never above
    ``burst``, and each waiting restart's token arrives by its deadline."""
    seeded = s.config.seed is not None
    for t in s.tasks.values():
        if (t.stream is not None) != seeded:
            _fail("I8", f"{t.name} has stream {t.stream} under seed {s.config.seed}")
        if seeded and s.incarnations.get(t.name, 0) < 1:
            _fail("I8", f"{t.name} is live but its name has no incarnation")
    holders: dict[str, list[int]] = {}
    for t in s.tasks.values():
        if _holds_token(t):
            name = t.policy.retry_budget
            if name is None or name not in s.budgets or t.deadline is None:
                _fail("I9", f"{t.name} waits for a token of {name!r}, which it does not use")
            assert name is not None
            assert t.deadline is not None
            holders.setdefault(name, []).append(t.deadline)
    for name, bucket in s.budgets.items():
        budget = bucket.budget
        if bucket.level > budget.cap:
            _fail("I9", f"budget {name!r} holds {bucket.level / budget.unit} > burst tokens")
        grants = list(bucket.grants)
        if grants != sorted(grants):
            _fail("I9", f"budget {name!r} grants tokens out of deadline order: {grants}")
        if bucket.at is None:
            if grants or bucket.level != budget.cap:
                _fail("I9", f"budget {name!r} was never used but is not full")
            continue
        for i, g in enumerate(grants):
            if g < bucket.at:
                continue
            later = len(grants) - i - 1
            while later and grants[len(grants) - later] == g:
                later -= 1
            # The level at g (uncapped: debt refills as fast) plus the tokens still owed to
            # restarts granted later: what is there at g. A token must be there (I9).
            if bucket.level + budget.gain * (g - bucket.at) + budget.unit * later < 0:
                _fail("I9", f"budget {name!r} grants a token at {g} that has not arrived")
        pending = list(grants)
        for deadline in sorted(holders.get(name, ())):
            if deadline not in pending or deadline <= bucket.at:
                _fail("I9", f"a restart of {name!r} waits until {deadline}: not a grant time")
            pending.remove(deadline)


def _check_takes(
    before: StateSnapshot, after: SupervisorState, effects: Sequence[Effect], now: int
) -> None:
    """I9 on one step: tokens are taken only by restarts after failures, one each, and a
    restart that did not wait found a whole token."""
    if not after.budgets:
        return
    started = {e.task_id for e in effects if isinstance(e, StartAttempt)}
    takes: dict[str, list[bool]] = {}  # per budget: waited?, for each restart that took
    for prev in before.tasks:
        name = prev.policy.retry_budget
        decision = prev.decision
        if name is None or prev.phase is not Phase.BACKOFF or decision is None:
            continue
        if decision.source not in (BackoffSource.FAILURE, BackoffSource.RETRY_AFTER):
            continue
        t = after.tasks.get(prev.id)
        if prev.id in started or (t is not None and t.phase is Phase.WAITING):
            takes.setdefault(name, []).append(False)
        elif t is not None and _holds_token(t):
            takes.setdefault(name, []).append(True)
    old = dict(before.budgets)
    for name, bucket in after.budgets.items():
        level, at, _ = old[name]
        taken = takes.get(name, [])
        if not taken:
            if (bucket.level, bucket.at) != (level, at):
                _fail("I9", f"budget {name!r} changed with no restart taking a token")
            continue
        budget = bucket.budget
        there = level if at is None else refill(level, at, now, budget.gain, budget.cap)
        if (bucket.level, bucket.at) != (there - budget.unit * len(taken), now):
            _fail("I9", f"budget {name!r}: {len(taken)} tokens taken, level {bucket.level}")
        went = taken.count(False)
        if went and there - budget.unit * went < 0:
            _fail("I9", f"{went} restarts of {name!r} started with {there / budget.unit} tokens")
        if went < len(taken) and there - budget.unit * (went + 1) >= 0:
            _fail("I9", f"a restart of {name!r} waited though a whole token was there")
