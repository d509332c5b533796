"""The retry-shaping part of the contract model (I8, I9, I4; docs/spec/api.md section 8).

Owns: ``ShapingModel``: each retry budget as a token bucket in exact rationals, each task's own
random stream as the model derives it, what each task's current pause follows, and the
decision of each pause. It checks, from what a driver observes:

- shared retry budgets: each restart after a failure takes a token when its deadline passes;
  it goes on at once only if a whole token was there, otherwise it waits exactly until its
  token has arrived, in the order of the restarts' deadlines; tokens never exceed ``burst``
  (I9);
- ``Retry-After``: the next delay is exactly the failure's, raised to ``floor``, never capped;
- start jitter within ``[0, start_jitter]`` (and a task with one never starts without it), and
  interval jitter within ``[interval * (1 - jitter), interval * (1 + jitter)]``;
- per-task random streams: with a seed, every drawn delay is the one the task's own stream
  gives (``stream_seed(seed, name, incarnation)``), whatever the other tasks do (I8);
- the ``Decision`` of every pause and of every final event, and that no other event has one.

The restart part hands it the pauses it does not own (every source but a failure's backoff)
and the end of each attempt. Plain Python, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

from taskvisor.fsm import (
    NS_PER_S,
    AttemptEnded,
    BackoffSource,
    Decision,
    Event,
    EventKind,
    Input,
    JitterPolicy,
    OutcomeKind,
    Phase,
    RestartMode,
    StartAttempt,
    SupervisorState,
    TaskId,
    Tick,
)
from taskvisor.fsm._backoff import RetryStreak, base_ns, needs_draw, next_delay_ns, scale
from taskvisor.fsm._spec import ResolvedSpec
from taskvisor.fsm._streams import next_uniform, stream_seed
from taskvisor.testing._model._common import EXACT_NS, StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["ShapingModel"]

SRC = BackoffSource
EK = EventKind
OK = OutcomeKind
_WITH_DECISION = frozenset({EK.BACKOFF_SCHEDULED, EK.ACTOR_EXHAUSTED, EK.ACTOR_DEAD})
_TAKES = (SRC.FAILURE, SRC.RETRY_AFTER)  # the pauses whose restart takes a token
#: The rule a restart-control refusal (``ControlModel.refusal``) puts on the final event.
_CONTROL_RULES = {"gave up after": "gave up after", "restart intensity": "restart intensity"}


class _Bucket:
    """A retry budget as the contract describes it, in exact rationals."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, per_second: float, burst: int) -> None:
        self.rate = Fraction(per_second) / NS_PER_S  # tokens per ns
        self.burst = Fraction(burst)
        self.tokens = self.burst  # starts full; below zero: owed to waiting restarts
        self.at: int | None = None

    def take(self, now: int) -> int:
        """Take one token at ``now``; the wait until it has arrived (0: it was there)."""
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + self.rate * (now - self.at))
        self.at = now
        self.tokens -= 1
        return 0 if self.tokens >= 0 else math.ceil(-self.tokens / self.rate)


class ShapingModel:
    """Budgets, Retry-After, dispersion, per-task streams and decisions (see the module doc).

    Attributes:
        buckets: each retry budget, by name.
        incarnations: how many tasks each name has had (their streams, I8).
        streams: each task's own stream, as the model draws from it (seeded configs only).
        prev: DECORRELATED's previous delay per task (for the stream check).
        pause: what each task's current pause follows.
        decision: why each task's current pause was scheduled.
        retry_after: the Retry-After of the failure being handled, per task.
        reset: the failure being handled began a new streak after a healthy run.
        due: the restarts due in the current tick that must take a token.
        jittered: the tasks whose start jitter pause was published.
        wrong: the final decisions of this step found wrong (failed once the step is read).
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        config = model.config
        self.seed = config.seed
        self.buckets = {name: _Bucket(b.per_second, b.burst) for name, b in config.retry_budgets}
        self.incarnations: dict[str, int] = {}
        self.streams: dict[TaskId, int] = {}
        self.prev: dict[TaskId, int | None] = {}
        self.pause: dict[TaskId, BackoffSource] = {}
        self.decision: dict[TaskId, Decision] = {}
        self.retry_after: dict[TaskId, int] = {}
        self.reset: dict[TaskId, bool] = {}
        self.due: dict[TaskId, int] = {}
        self.jittered: set[TaskId] = set()  # tasks whose start jitter was published
        self.wrong: list[str] = []  # final decisions found wrong in this step

    # -- hooks -------------------------------------------------------------------------------

    def before_step(self, s: StepRecord) -> None:
        """A tick: the restarts after failures whose deadline has come must take a token."""
        self.due = {}
        self.wrong = []
        if not isinstance(s.inp, Tick):
            return
        policies = self.m.registry.policies
        for tid, due in self.m.restarts.backoff_due.items():
            taker = due <= s.now and self.pause.get(tid) in _TAKES
            if taker and policies[tid].retry_budget is not None:
                self.due[tid] = due

    def task_added(self, s: StepRecord, inp: Input, ev: Event) -> None:
        """TASK_ADDED: the task's stream (seeded: from its name's incarnation, I8)."""
        tid, name = ev.task_id, ev.task
        assert tid is not None
        assert name is not None
        earlier = self.incarnations.get(name, 0)
        self.incarnations[name] = earlier + 1
        if self.seed is not None:
            self.streams[tid] = stream_seed(self.seed, name, earlier)
        self.prev[tid] = None
        budget = self.m.registry.policies[tid].retry_budget
        if budget is not None and budget not in self.buckets:
            fail("I9", f"{name!r} was admitted with the unknown retry budget {budget!r}")

    def ended(
        self, inp: AttemptEnded, before: int, failures: int, timed_out: bool
    ) -> BackoffSource:
        """A failure the policy retries (``before`` failures in a row, now ``failures``): the
        source its pause must have (a timed-out attempt's failure has no Retry-After)."""
        tid = inp.task_id
        self.reset[tid] = failures == 1 and before > 0
        if timed_out or inp.retry_after_ns is None:
            return SRC.FAILURE
        self.retry_after[tid] = inp.retry_after_ns
        return SRC.RETRY_AFTER

    def attempt_started(self, s: StepRecord, eff: StartAttempt, due: int | None) -> None:
        """A task with a start jitter never starts its first attempt without its pause (the
        restart part checks that it comes no earlier than the pause's deadline)."""
        tid = eff.task_id
        if eff.attempt == 1 and self.m.registry.policies[tid].start_jitter_ns:
            ev = s.backoffs.get(tid)  # a pause that began in this step (0 ns, in a tick)
            published = ev is not None and ev.backoff_source is SRC.START
            if tid not in self.jittered and not published:
                fail("I4", f"{tid!r} started at once despite its start jitter")

    def event(self, ev: Event) -> None:
        """Only pauses and final events carry a decision."""
        if (ev.decision is not None) != (ev.kind in _WITH_DECISION):
            fail("I4", f"{ev.kind.name} with decision {ev.decision}")

    def backoff(self, s: StepRecord, tid: TaskId, ev: Event, delay: int) -> bool:
        """A published pause: its delay and its decision. True: the pause is one this part owns
        (a start, an interval, a Retry-After or a budget wait), not a failure's backoff."""
        source, decision = ev.backoff_source, ev.decision
        if source is None or decision is None:
            fail("I4", f"BACKOFF_SCHEDULED for {tid!r} without a source or a decision")
        policy = self.m.registry.policies[tid]
        if source is SRC.BUDGET:
            before = self.decision.get(tid)
            if self.pause.get(tid) not in _TAKES or before is None:
                fail("I9", f"{tid!r} waits for a token without a restart after a failure")
            want = before._replace(
                source=SRC.BUDGET, budget_wait=delay / NS_PER_S, rule="retry budget"
            )
            if decision != want:
                fail("I9", f"{tid!r} budget wait explained as {decision}, expected {want}")
            # The wait itself is checked in ``after_step``, in the order of the deadlines.
        elif source is SRC.START:
            jitter = policy.start_jitter_ns
            want = Decision(0, jitter / NS_PER_S, JitterPolicy.FULL, SRC.START, 0.0, "start jitter")
            # No attempt before it (one, if it drew 0 in a tick that also started the task).
            earlier = self.m.restarts.started.get(tid, 0) - (1 if delay == 0 else 0)
            if decision != want or not 0 <= delay <= jitter or earlier > 0:
                fail("I4", f"{tid!r} start jitter {delay} / {decision}: want [0, {jitter}]")
            self._drawn(tid, delay, lambda u: scale(jitter, u), "start jitter")
            self.jittered.add(tid)
        elif source is SRC.SUCCESS:
            self._interval(tid, policy, delay, decision)
        elif source is SRC.RETRY_AFTER:
            self._retry_after(tid, policy, delay, decision)
        else:
            self._backoff(tid, policy, delay, decision)
        self.pause[tid] = source
        self.decision[tid] = decision
        return source is not SRC.FAILURE

    def final(self, s: StepRecord, inp: Input, ev: Event) -> None:
        """ACTOR_EXHAUSTED / ACTOR_DEAD: the rule that ended the task, at which retry."""
        tid, decision = ev.task_id, ev.decision
        assert tid is not None
        if decision is None:
            self.wrong.append(f"{ev.kind.name} for {tid!r} without a decision")
            return
        policy = self.m.registry.policies[tid]
        failures = self.m.restarts.failures.get(tid, 0)
        detail = None if s.expected_end is None else s.expected_end[1]
        if ev.outcome is OK.COMPLETED:
            want: tuple[object, ...] = ("completed", None, 0)
        elif ev.kind is EK.ACTOR_DEAD:
            permanent = (ev.reason or "").startswith("not retried (")
            want = ("not retried" if permanent else "fatal", SRC.FAILURE, failures)
        elif detail == "retry limit":
            want = ("retry limit", SRC.FAILURE, failures - 1)
        elif isinstance(detail, str) and detail in _CONTROL_RULES:
            rule = _CONTROL_RULES[detail]
            if s.expect_escalation is not None:
                rule = "supervisor " + rule
            want = (rule, SRC.FAILURE, failures - 1)
        elif policy.restart.mode is RestartMode.NEVER:
            want = ("never restarted", SRC.FAILURE, failures - 1)
        else:
            want = (decision.rule or "<no rule>", SRC.FAILURE, failures - 1)
        if (decision.rule, decision.source, decision.retry) != want:
            self.wrong.append(f"{ev.kind.name} of {tid!r} explained as {decision}, want {want}")
        elif decision.base != base_ns(policy.backoff, decision.retry) / NS_PER_S:
            self.wrong.append(f"{ev.kind.name} of {tid!r}: base {decision.base} is not base(n)")

    def after_step(self, s: StepRecord, after: SupervisorState) -> None:
        """The restarts due in this step took their tokens: in deadline order, each at once if a
        whole token was there, else waiting exactly until its token arrives (I9). A final
        decision found wrong fails here, after the restart checks (which name a wrong ending
        more precisely)."""
        if self.wrong:
            fail("I1", self.wrong[0])
        waits = {t: e for t, e in s.backoffs.items() if e.backoff_source is SRC.BUDGET}
        policies = self.m.registry.policies
        by_budget: dict[str, list[tuple[int, TaskId]]] = {}
        for tid, at in self.due.items():
            name = policies[tid].retry_budget
            assert name is not None
            by_budget.setdefault(name, []).append((at, tid))
        for name, due in sorted(by_budget.items()):
            bucket = self.buckets[name]
            due.sort()
            want = [bucket.take(s.now) for _ in due]
            got = [self._took(after, waits, tid) for _, tid in due]
            # Restarts due at the same instant may take in either order; across instants, an
            # earlier deadline never waits longer than a later one (served in deadline order).
            i = 0
            while i < len(due):
                j = i
                while j < len(due) and due[j][0] == due[i][0]:
                    j += 1
                if sorted(got[i:j]) != want[i:j]:
                    fail(
                        "I9",
                        f"budget {name!r}: restarts {due[i:j]} waited {got[i:j]}, "
                        f"the bucket gives {want[i:j]}",
                    )
                i = j
        for tid in self.due:
            if tid not in waits:
                self.pause.pop(tid, None)  # it took its token and went on
        self.due = {}
        for name, bucket in self.buckets.items():
            core_bucket = after.budgets.get(name)
            if core_bucket is None or core_bucket.tokens(s.now) > bucket.burst:
                fail("I9", f"budget {name!r} missing or above burst in the core")

    def gone(self, tid: TaskId) -> None:
        """The task left: forget it (its name's incarnations stay counted)."""
        for table in (self.streams, self.prev, self.pause, self.decision):
            table.pop(tid, None)
        self.retry_after.pop(tid, None)
        self.reset.pop(tid, None)
        self.jittered.discard(tid)

    # -- the rules -----------------------------------------------------------------------------

    @staticmethod
    def _took(after: SupervisorState, waits: dict[TaskId, Event], tid: TaskId) -> int:
        """How the due restart ``tid`` fared: 0 if it went on at once, else its budget wait."""
        t = after.tasks.get(tid)
        if t is not None and t.phase in (Phase.RUNNING, Phase.WAITING) and tid not in waits:
            return 0
        ev = waits.get(tid)
        if ev is None or ev.delay is None:
            fail("I9", f"{tid!r} reached its restart deadline and neither started nor waited")
        return round(ev.delay * NS_PER_S)

    def _drawn(self, tid: TaskId, delay: int, formula: Callable[[float], int], what: str) -> None:
        """With a seed, a drawn delay is the one the task's own stream gives (I8)."""
        state = self.streams.get(tid)
        if state is None:
            return
        u, self.streams[tid] = next_uniform(state)
        expected = formula(u)
        if delay < EXACT_NS and delay != expected:
            fail("I8", f"{tid!r} {what} {delay} is not its own stream's draw ({expected})")

    def _backoff(self, tid: TaskId, policy: ResolvedSpec, delay: int, decision: Decision) -> None:
        """A failure's backoff: its decision, and with a seed the task's own draw (I8)."""
        backoff = policy.backoff
        n = self.m.restarts.failures[tid] - 1
        rule = "healthy-run reset" if self.reset.get(tid) else "backoff"
        want = Decision(n, base_ns(backoff, n) / NS_PER_S, backoff.jitter, SRC.FAILURE, 0.0, rule)
        if decision != want:
            fail("I4", f"{tid!r} backoff explained as {decision}, expected {want}")
        streak = RetryStreak(n, None if n == 0 else self.prev.get(tid))
        state = self.streams.get(tid)
        drawn = needs_draw(backoff)
        if drawn and state is None:
            return  # one shared stream: the draw is unknown here; the range is checked
        u = 0.0
        if drawn and state is not None:
            u, self.streams[tid] = next_uniform(state)
        expected, after = next_delay_ns(backoff, streak, u)
        if delay < EXACT_NS and delay != expected:
            code = "I8" if drawn else "I4"
            fail(code, f"{tid!r} delay {delay} is not its own stream's draw ({expected})")
        self.prev[tid] = after.prev_ns

    def _retry_after(
        self, tid: TaskId, policy: ResolvedSpec, delay: int, decision: Decision
    ) -> None:
        given = self.retry_after.pop(tid, None)
        if given is None:
            fail("I4", f"{tid!r} pause sourced RETRY_AFTER, but its failure gave none")
        n = self.m.restarts.failures[tid] - 1
        want = Decision(n, given / NS_PER_S, JitterPolicy.NONE, SRC.RETRY_AFTER, 0.0, "retry-after")
        if delay != max(given, policy.backoff.floor_ns) or decision != want:
            fail("I4", f"{tid!r} Retry-After {given}: delay {delay}, {decision}")
        if n == 0:
            self.prev[tid] = None

    def _interval(self, tid: TaskId, policy: ResolvedSpec, delay: int, decision: Decision) -> None:
        restart = policy.restart
        interval = restart.interval_ns
        spread = Fraction(interval) * Fraction(restart.jitter)
        low, high = interval - spread, interval + spread
        if delay < EXACT_NS and not low <= delay <= high:
            fail("I4", f"{tid!r} pause {delay} after success outside [{low}, {high}]")
        jitter = JitterPolicy.NONE if math.floor(spread) == 0 else None
        want = Decision(0, interval / NS_PER_S, jitter, SRC.SUCCESS, 0.0, "interval")
        if decision != want:
            fail("I4", f"{tid!r} interval explained as {decision}, expected {want}")
        if jitter is None:
            width = 2 * math.floor(spread)
            self._drawn(tid, delay, lambda u: interval - width // 2 + scale(width, u), "interval")
        self.prev[tid] = None
