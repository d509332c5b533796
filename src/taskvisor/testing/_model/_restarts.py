"""The attempts, restarts and delays part of the contract model (I3, I4).

The contract: docs/spec/api.md sections 2, 3 and 8.

Owns: ``RestartModel``: the attempt each task runs (from ``StartAttempt``, until its end is
taken or it is abandoned), attempt numbers, failure streaks, why a running attempt is being
stopped (a removal or shutdown, or its timeout), and backoff deadlines. It checks that attempts
are numbered 1, 2, ... and never overlap; that a stale end (a duplicate, an abandoned or a
never-started attempt) changes nothing; that every real end gets the restart decision the
contract requires (a pause after success or failure, or the right outcome once retries are
spent or a crash-loop control, ``ControlModel``, ends the task); that a timeout fires no
earlier than due; that each backoff deadline is the published delay, within the documented
range for the policy's jitter; and that no restart comes before its deadline and no tick leaves
a due deadline behind. Plain Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taskvisor.fsm import (
    AttemptEnded,
    BackoffSource,
    Effect,
    EndKind,
    Event,
    Finished,
    Input,
    JitterPolicy,
    OutcomeKind,
    Phase,
    RestartMode,
    StartAttempt,
    SupervisorState,
    TaskId,
    Tick,
    next_deadline,
    to_ns,
)
from taskvisor.fsm._backoff import base_ns
from taskvisor.testing._model._common import EXACT_NS, StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["RestartModel"]

OK = OutcomeKind


def _phase(state: SupervisorState, tid: TaskId) -> Phase | None:
    t = state.tasks.get(tid)
    return None if t is None else t.phase


class RestartModel:
    """Attempts in flight, restart decisions and backoff deadlines.

    Attributes:
        in_flight: the attempt each task runs, as started by ``StartAttempt`` and not yet ended
            or abandoned (I3: at most one per task).
        started: the last attempt number started per task; ``started_at`` when.
        ended: ``(task, attempt)`` pairs whose end the core has taken.
        abandoned: attempts the core stopped waiting for; their late ends are stale.
        failures: each task's current failure streak (a success resets it).
        cause: ``"timeout"`` or ``"cancel"`` while a running attempt is being stopped.
        backoff_due: each task's restart deadline while it pauses.
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.in_flight: dict[TaskId, int] = {}
        self.started: dict[TaskId, int] = {}
        self.started_at: dict[TaskId, int] = {}
        self.ended: set[tuple[TaskId, int]] = set()
        self.abandoned: set[tuple[TaskId, int]] = set()
        self.failures: dict[TaskId, int] = {}
        self.cause: dict[TaskId, str] = {}
        self.backoff_due: dict[TaskId, int] = {}

    def stop_for_good(self, tid: TaskId) -> None:
        """A removal or shutdown asked ``tid`` to stop: its running attempt ends as cancelled."""
        if tid in self.in_flight:
            self.cause[tid] = "cancel"

    # -- the input ---------------------------------------------------------------------------

    def attempt_ended(
        self, s: StepRecord, inp: AttemptEnded, after: SupervisorState, effects: Sequence[Effect]
    ) -> None:
        """A real end is taken (and its decision due); a stale one must change nothing (I3)."""
        tid = inp.task_id
        if self.in_flight.get(tid) == inp.attempt:
            s.expected_end = self._expected_end(s, inp)
            del self.in_flight[tid]
            self.ended.add((tid, inp.attempt))
            self.cause.pop(tid, None)
            self.m.stopping.attempt_over(tid)
        elif effects or after.snapshot() != s.before:
            fail("I3", f"a stale {inp!r} changed the core")

    def _expected_end(self, s: StepRecord, inp: AttemptEnded) -> tuple[str, object]:
        """The restart decision the contract requires for a real end (docs/spec/api.md 2, 3, 8).

        Returns ``("finished", kind)``, ``("finished", rule)`` for a failure that a rule (the
        retry limit or a crash-loop control) ends as ``FAILED``, or ``("backoff", source)``.
        """
        tid = inp.task_id
        policy = self.m.registry.policies[tid]
        controls = self.m.controls
        cause = self.cause.get(tid)
        if cause == "cancel":
            forced = self.m.stopping.forced
            return "finished", OK.FORCE_ABORTED if tid in forced else OK.CANCELED
        if cause is None and controls.permanent(inp, policy):
            return "finished", OK.FATAL  # outside retry_on: permanent (docs/spec/api.md section 8)
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
        prior = self.failures.get(tid, 0)
        failures = controls.failures_before(s, tid, policy, prior) + 1
        self.failures[tid] = failures
        if policy.restart.mode is RestartMode.NEVER:
            return "finished", OK.FAILED
        if policy.max_retries is not None and failures > policy.max_retries:
            return "finished", "retry limit"
        rule = controls.refusal(s, tid, policy)
        if rule is not None:
            return "finished", rule
        # A failure's own Retry-After (docs/spec/api.md section 8); a timed-out attempt gives none.
        return "backoff", self.m.shaping.ended(inp, prior, failures, cause == "timeout")

    # -- events and effects ------------------------------------------------------------------

    def timeout_hit(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        assert tid is not None
        timeout = self.m.registry.policies[tid].timeout_ns
        if ev.reason is not None and ev.reason.startswith("watchdog"):
            self.m.controls.watchdog_hit(s, tid, ev)
        elif timeout is None or s.now < self.started_at[tid] + timeout:
            fail("I4", f"TIMEOUT_HIT for {tid!r} at {s.now} before its timeout")
        self.cause.setdefault(tid, "timeout")

    def backoff_scheduled(self, s: StepRecord, inp: Input, ev: Event) -> None:
        assert ev.task_id is not None
        s.backoffs[ev.task_id] = ev

    def attempt_started(self, s: StepRecord, eff: StartAttempt) -> None:
        """I3: one attempt at a time, numbered in order; I4: not before its deadline."""
        tid, attempt = eff.task_id, eff.attempt
        if tid in self.in_flight:
            fail("I3", f"{tid!r} attempt {attempt} started while {self.in_flight[tid]} runs")
        if attempt != self.started.get(tid, 0) + 1:
            fail("I3", f"{tid!r} started attempt {attempt} after {self.started.get(tid, 0)}")
        due = self.backoff_due.pop(tid, None)
        if due is not None and s.now < due:
            fail("I4", f"{tid!r} restarted at {s.now}, before its deadline {due}")
        self.m.shaping.attempt_started(s, eff, due)
        self.in_flight[tid] = attempt
        self.started[tid] = attempt
        self.started_at[tid] = s.now

    def abandoned_attempt(self, tid: TaskId, attempt: int) -> None:
        """The core stopped waiting for this attempt (its late end will be stale)."""
        del self.in_flight[tid]
        self.abandoned.add((tid, attempt))

    def finished(self, s: StepRecord, eff: Finished) -> None:
        self.backoff_due.pop(eff.task_id, None)

    # -- after the step ----------------------------------------------------------------------

    def check_end(self, s: StepRecord, after: SupervisorState) -> None:
        """The decision for a real end is the one ``_expected_end`` computed (I1, I4)."""
        if s.expected_end is None:
            return
        assert isinstance(s.inp, AttemptEnded)
        tid = s.inp.task_id
        what, detail = s.expected_end
        if what == "backoff":
            ev = s.backoffs.get(tid)
            if _phase(after, tid) is not Phase.BACKOFF or ev is None:
                fail("I4", f"{tid!r} should restart after a pause ({detail}); it did not")
            if ev.backoff_source is not detail:
                fail("I4", f"{tid!r} pause after {ev.backoff_source}, expected {detail}")
            return
        outcome = s.outcomes.get(tid)
        rule = detail if isinstance(detail, str) else None
        kind = OK.FAILED if rule is not None else detail
        if outcome is None or outcome.kind is not kind:
            fail("I1", f"{tid!r} should have ended {kind}; got {outcome}")
        if rule is not None and rule not in outcome.reason:
            fail("I10", f"{tid!r} ended by the {rule!r} rule, but the reason is {outcome.reason!r}")

    def check_backoffs(self, s: StepRecord, after: SupervisorState) -> None:
        for tid, ev in s.backoffs.items():
            self._check_backoff(s, after, tid, ev)

    def _check_backoff(self, s: StepRecord, after: SupervisorState, tid: TaskId, ev: Event) -> None:
        """I4: the deadline is the published delay, in the documented range for the policy."""
        t = after.tasks.get(tid)
        assert ev.delay is not None
        delay = to_ns(ev.delay, "BACKOFF_SCHEDULED.delay")
        start = ev.backoff_source is BackoffSource.START
        if start and delay == 0 and t is not None and t.phase is not Phase.BACKOFF:
            # A start jitter that drew 0 in a tick (a slot admitted the task at a deadline):
            # its pause ended in that same tick, so it runs or waits for a permit already.
            self.m.shaping.backoff(s, tid, ev, delay)
            return
        if t is None or t.phase is not Phase.BACKOFF:
            fail("I4", f"BACKOFF_SCHEDULED for {tid!r}, which is not in backoff")
        now = s.now
        if delay < EXACT_NS and t.deadline != now + delay:
            fail("I4", f"{tid!r} deadline {t.deadline} != now {now} + delay {delay}")
        self.backoff_due[tid] = now + delay
        if self.m.shaping.backoff(s, tid, ev, delay):
            return  # a start, an interval, a Retry-After or a budget wait (docs/spec/api.md 8)
        policy = self.m.registry.policies[tid]
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
        if delay < EXACT_NS and not low <= delay <= high:
            fail("I4", f"{tid!r} {jitter.name} delay {delay} outside [{low}, {high}]")
        if delay > backoff.ceiling_ns + (0 if delay < EXACT_NS else delay >> 50):
            fail("I4", f"{tid!r} delay {delay} above max(max, floor) {backoff.ceiling_ns}")

    def check_holding(self, after: SupervisorState) -> None:
        """I3: the attempts the core holds are exactly those the driver was told to run."""
        holding = {
            t.id: t.attempt
            for t in after.tasks.values()
            if t.phase in (Phase.RUNNING, Phase.STOPPING)
        }
        if holding != self.in_flight:
            fail("I3", f"core runs {holding}, the driver was told {self.in_flight}")

    def check_tick(self, s: StepRecord, after: SupervisorState) -> None:
        """I4: a tick handles every deadline that is due."""
        if isinstance(s.inp, Tick):
            deadline = next_deadline(after)
            if deadline is not None and deadline <= s.now:
                fail("I4", f"a tick at {s.now} left deadline {deadline} behind")
