"""One checker for long simulated runs of the core: cheap checks every step, full ones sampled.

Owns: ``RunChecker``, the ``fsm.StepChecker`` (architecture rule 8) that the ``supervisor``
scenario (``_storm``) and the scale tests (``tests/simulation/test_scale.py``) put on their
``CoreDriver``'s stepper, so both check a run the same way:

- on every step, O(1) each: no restart before its backoff deadline (I4); attempts in flight
  within ``max_concurrent`` (I3); subscriber queues within capacity, every drop counted and the
  first drop of each overflow episode reported in the same step (I5); one ``Finished`` per
  task id (I1); one owner per controller slot at a time and its queue within
  ``max_slot_queue`` (I6, I5); shutdown done within ``grace + force_wait`` of its request (I7:
  a simulated timer is never late);
- sampled: ``fsm.check_step`` (every invariant on the step and the new state, O(live tasks))
  on every step while fewer than ``small`` tasks are live, then on every ``live // per``-th
  step (so the full check costs O(1) per step amortised), or on every ``every``-th step;
- streamed: ``fsm.check_trace`` over every event (``run``), with each task's I4 ceiling;
- at the end (``finish``): ``fsm.check_state``, shutdown completed with no task left, and
  every accepted task added and removed exactly once (I1, I7).

A violation raises ``fsm.InvariantViolation`` naming the invariant. Must not import the
runtime; does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NoReturn

from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    CoreConfig,
    Effect,
    Event,
    EventKind,
    Finished,
    Input,
    InvariantViolation,
    Publish,
    ShutdownDone,
    StartAttempt,
    StateSnapshot,
    Submit,
    SupervisorState,
    TaskId,
    TaskSpec,
    check_state,
    check_step,
    check_trace,
)
from taskvisor.fsm._events import DIAGNOSTIC_KINDS
from taskvisor.sim._engine import CoreDriver

__all__ = ["RunChecker"]

EK = EventKind


def _fail(code: str, message: str) -> NoReturn:
    raise InvariantViolation(f"{code}: {message}")


class RunChecker:
    """Checks a simulated run (see the module docstring); attach it to a ``CoreDriver``.

    Args:
        config: the core's configuration.
        every: run the full check on every ``every``-th step; 0 samples by live tasks.
        per: beyond ``small`` live tasks, the full check runs on every ``live // per``-th step.
        small: below this many live tasks, the full check runs on every step.

    Attributes:
        checks: full checks run so far.
        ceilings: each added task's I4 bound on backoff delays, ``max(max, floor)`` in seconds.
        missed: events each subscriber did not take (dropped); ``episodes``: its overflow
            episodes (each reported by one ``SUBSCRIBER_OVERFLOW``).
        shutdown_at: when shutdown was requested (ns), or None.
    """

    def __init__(
        self, config: CoreConfig, *, every: int = 0, per: int = 10, small: int = 100
    ) -> None:
        self.config = config
        self.every = every
        self.per = per
        self.small = small
        self.seen = 0
        self.checks = 0
        self.pending: list[Event] = []  # published, not yet handed to the trace check
        self.ceilings: dict[TaskId, float] = {}
        self.specs: dict[TaskId, TaskSpec] = {}  # fed, not yet added or rejected
        self.backoff_due: dict[TaskId, int] = {}
        self.finished: set[TaskId] = set()
        self.added = 0
        self.removed = 0
        self.slot_of: dict[TaskId, str] = {}
        self.owner: dict[str, TaskId] = {}
        n = len(config.subscribers)
        self.missed = [0] * n
        self.episodes = [0] * n
        # Overflow episodes: the first non-diagnostic drop after the subscriber last took an
        # event begins one (reported); later drops of the same episode are only counted (I5).
        self.in_episode = [False] * n
        self.shutdown_at: int | None = None

    def attach(self, driver: CoreDriver) -> RunChecker:
        """Make this the checker of ``driver``'s stepper; returns ``self``."""
        driver.core.checker = self
        return self

    # -- the StepChecker protocol ------------------------------------------------------------

    def before(self, state: SupervisorState) -> StateSnapshot | None:
        """A snapshot when the full check is due on this step (sampled), else None."""
        self.seen += 1
        every = self.every
        if not every:
            live = len(state.tasks)
            every = 1 if live < self.small else max(1, live // self.per)
        if self.seen % every:
            return None
        return state.snapshot()

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None:
        if isinstance(prior, StateSnapshot):
            check_step(prior, state, effects, now)
            self.checks += 1
        if isinstance(inp, AddTasks):
            self.specs.update(inp.items)
        elif isinstance(inp, Submit):
            self.specs[inp.task_id] = inp.spec.task_spec
            self.slot_of[inp.task_id] = inp.spec.slot
        owed = reported = 0
        for eff in effects:
            if isinstance(eff, Publish):
                owed += self._delivered(eff)
                ev = eff.event
                self.pending.append(ev)
                if ev.kind is EK.SUBSCRIBER_OVERFLOW:
                    reported += 1
                else:
                    self._published(state, ev, now)
            elif isinstance(eff, StartAttempt):
                due = self.backoff_due.pop(eff.task_id, None)
                if due is not None and now < due:  # I4: never before the deadline
                    _fail("I4", f"{eff.name} restarted at {now} ns before its deadline {due} ns")
            elif isinstance(eff, Finished):
                if eff.task_id in self.finished:
                    _fail("I1", f"{eff.task_id!r} finished twice")
                self.finished.add(eff.task_id)
                self.specs.pop(eff.task_id, None)
            elif isinstance(eff, ShutdownDone) and self.shutdown_at is not None:
                took = now - self.shutdown_at
                bound = self.config.grace_ns + self.config.force_wait_ns
                if took > bound:  # I7: within grace + force_wait
                    _fail("I7", f"shutdown took {took} ns > {bound} ns")
        if reported != owed:
            _fail("I5", f"{owed} overflow episodes began, {reported} SUBSCRIBER_OVERFLOW events")
        limit = self.config.max_concurrent
        if limit is not None and state.running > limit:
            _fail("I3", f"{state.running} running > max_concurrent {limit}")
        bus = state.bus
        for depth, cap in zip(bus.depths, self.config.capacities, strict=True):
            if depth > cap:
                _fail("I5", f"queue depth {depth} > capacity {cap}")
        if bus.dropped != self.missed:
            _fail("I5", f"drops {bus.dropped} != events not delivered {self.missed}")

    def _delivered(self, eff: Publish) -> int:
        """Count the drops of one event; returns how many overflow episodes it began."""
        recipients = eff.recipients
        in_episode = self.in_episode
        for i in recipients:
            # Taking an event means the subscriber had room: it consumed since any episode began.
            in_episode[i] = False
        began = 0
        if len(recipients) < len(in_episode):
            diagnostic = eff.event.kind in DIAGNOSTIC_KINDS
            for i in set(range(len(in_episode))) - set(recipients):
                self.missed[i] += 1
                if not diagnostic and not in_episode[i]:
                    in_episode[i] = True
                    self.episodes[i] += 1
                    began += 1
        return began

    def _published(self, state: SupervisorState, ev: Event, now: int) -> None:
        kind, tid = ev.kind, ev.task_id
        if kind is EK.BACKOFF_SCHEDULED and tid is not None:
            t = state.tasks.get(tid)
            if t is not None and t.deadline is not None:
                self.backoff_due[tid] = t.deadline
        elif kind is EK.TASK_ADDED and tid is not None:
            self.added += 1
            spec = self.specs.pop(tid)
            t = state.tasks.get(tid)
            policy = t.policy if t is not None else spec.resolve(self.config.defaults)
            self.ceilings[tid] = policy.backoff.ceiling_ns / NS_PER_S
            slot = self.slot_of.get(tid)
            if slot is not None:
                if slot in self.owner:  # I6: one owner at a time, freed only once it is gone
                    _fail("I6", f"{tid!r} owns {slot} while {self.owner[slot]!r} does")
                self.owner[slot] = tid
                held = state.slots.get(slot)
                bound = self.config.controller.max_slot_queue if self.config.controller else 0
                if held is not None and len(held.queue) > bound:
                    _fail("I5", f"{slot} queue {len(held.queue)} > {bound}")
        elif kind is EK.TASK_REMOVED and tid is not None:
            self.removed += 1
            slot = self.slot_of.pop(tid, None)
            if slot is not None and self.owner.get(slot) == tid:
                del self.owner[slot]
        elif kind is EK.SHUTDOWN_REQUESTED:
            self.shutdown_at = now

    # -- the whole run -----------------------------------------------------------------------

    def trace(self, driver: CoreDriver) -> Iterator[Event]:
        """Run ``driver`` to the end; yield every published event in order."""
        pending = self.pending
        while True:
            more = driver.advance()
            if pending:
                yield from pending
                pending.clear()
            if not more:
                return

    def run(self, driver: CoreDriver) -> None:
        """Run ``driver`` to the end under ``check_trace``, then ``finish``."""
        check_trace(self.trace(driver), self.ceilings)
        self.finish(driver.state)

    def finish(self, state: SupervisorState) -> None:
        """The final state: all invariants, a completed shutdown, every task added and removed
        once (I1, I7)."""
        check_state(state)
        if state.shutdown is None or not state.shutdown.done:
            _fail("I7", "the run ended without a completed shutdown")
        if state.tasks or self.owner:
            _fail("I7", f"{len(state.tasks)} tasks left, slots still owned: {self.owner}")
        if not self.added == self.removed == state.accepted == state.finished:
            _fail(
                "I1",
                f"{self.added} TASK_ADDED, {self.removed} TASK_REMOVED, "
                f"core counts accepted={state.accepted} finished={state.finished}",
            )
