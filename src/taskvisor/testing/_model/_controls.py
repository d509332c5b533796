"""The crash-loop controls part of the contract model (I10, I4; docs/spec/api.md section 8).

Owns: ``ControlModel``: the latest heartbeat heard from each running attempt, when each task's
failure streak began, the restarts after failures per task and supervisor-wide (the intensity
windows), and whether the supervisor escalated. It supplies the restart part with what the
controls decide for an attempt that ended (``retry_on`` makes a failure permanent; a healthy
run resets the streak; ``give_up_after`` and restart intensity end the task), checks that a
watchdog timeout comes no earlier than due, and that the supervisor escalates (one
``Escalate``, then a graceful shutdown) exactly when a critical task fails or its own restart
intensity is exceeded, and never twice. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor._task_errors import TaskError
from taskvisor.fsm import AttemptEnded, EndKind, Escalate, Event, Heartbeat, OutcomeKind, TaskId
from taskvisor.fsm._spec import ResolvedSpec
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["ControlModel"]

OK = OutcomeKind


class ControlModel:
    """Heartbeats, streaks, intensity windows and escalation.

    Attributes:
        beats: the latest heartbeat heard per running task (ns).
        streak_start: when each task's current failure streak began (its first failure).
        windows: restarts after failures, per task; ``window``: supervisor-wide (I10).
        escalated: the supervisor escalated (at most once).
        shutdown_was: shutdown's request time before the current step, or None.
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.beats: dict[TaskId, int] = {}
        self.streak_start: dict[TaskId, int] = {}
        self.windows: dict[TaskId, list[int]] = {}
        self.window: list[int] = []
        self.escalated = False
        self.shutdown_was: int | None = None

    def heartbeat(self, s: StepRecord, inp: Heartbeat) -> None:
        """A heartbeat of the running attempt, not from the future, is heard."""
        if self.m.restarts.in_flight.get(inp.task_id) == inp.attempt and inp.at <= s.now:
            self.beats[inp.task_id] = max(self.beats.get(inp.task_id, 0), inp.at)

    def attempt_started(self, tid: TaskId) -> None:
        self.beats.pop(tid, None)

    # -- what the controls decide for an attempt that ended ---------------------------------

    @staticmethod
    def permanent(inp: AttemptEnded, policy: ResolvedSpec) -> bool:
        """A failure whose error is outside ``retry_on`` is permanent (``FATAL``)."""
        error = inp.error
        return (
            inp.end is EndKind.FAILED
            and error is not None
            and not isinstance(error, TaskError)
            and not isinstance(error, policy.retry_on)
        )

    def failures_before(
        self, s: StepRecord, tid: TaskId, policy: ResolvedSpec, failures: int
    ) -> int:
        """The streak a failure extends: reset after a healthy run; a new streak starts now."""
        now, started = s.now, self.m.restarts.started_at[tid]
        reset = policy.reset_after_ns
        if reset is not None and now - started >= reset:
            failures = 0  # healthy-run reset (docs/spec/api.md section 8)
        if failures == 0:
            self.streak_start[tid] = now  # the streak begins with its first failure
        return failures

    def refusal(self, s: StepRecord, tid: TaskId, policy: ResolvedSpec) -> str | None:
        """The rule that ends ``tid`` instead of a restart after a failure, or None (then the
        restart is recorded in the intensity windows)."""
        now = s.now
        give_up = policy.give_up_after_ns
        if give_up is not None and now - self.streak_start[tid] > give_up:
            return "gave up after"
        mine = self.windows.setdefault(tid, [])
        if policy.intensity is not None:
            within = policy.intensity.within_ns
            if sum(1 for r in mine if now - r < within) >= policy.intensity.max_restarts:
                return "restart intensity"
        limit = self.m.config.intensity
        if limit is not None and self.m.stopping.shutdown_at is None:
            recent = sum(1 for r in self.window if now - r < limit.within_ns)
            if recent >= limit.max_restarts:
                s.expect_escalation = "restart intensity"
                return "restart intensity"
        mine.append(now)
        self.window.append(now)
        return None

    # -- events and effects ------------------------------------------------------------------

    def watchdog_hit(self, s: StepRecord, tid: TaskId, ev: Event) -> None:
        """I4: a watchdog fires only once no heartbeat came for ``watchdog`` since the last."""
        restarts = self.m.restarts
        beat = max(self.beats.get(tid, 0), restarts.started_at[tid])
        watchdog = self.m.registry.policies[tid].watchdog_ns
        if watchdog is None or s.now < beat + watchdog:
            fail("I4", f"watchdog TIMEOUT_HIT for {tid!r} at {s.now}, beat {beat}")

    def escalate(self, s: StepRecord, eff: Escalate) -> None:
        if s.escalated is not None or self.escalated:
            fail("I10", f"the supervisor escalated twice: {eff!r}")
        s.escalated = eff
        self.escalated = True

    # -- after the step ----------------------------------------------------------------------

    def check_escalation(self, s: StepRecord) -> None:
        """I10 and critical tasks (docs/spec/api.md 8): the core escalates exactly when due."""
        policies = self.m.registry.policies
        for tid, outcome in s.outcomes.items():
            policy = policies.get(tid)
            failed = outcome.kind is OK.FAILED or outcome.kind is OK.FATAL
            if policy is not None and policy.critical and failed and self.shutdown_was is None:
                s.expect_escalation = "critical task"  # finish() escalates first
        due, got = s.expect_escalation, s.escalated
        if due is None and got is not None:
            fail("I10", f"escalated without cause: {got!r}")
        if due is not None and (got is None or got.rule != due):
            fail("I10", f"expected the supervisor to escalate ({due}); got {got!r}")
        self.shutdown_was = self.m.stopping.shutdown_at
