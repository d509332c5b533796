"""The stopping and shutdown part of the contract model (I7; docs/spec/api.md sections 4, 8).

Owns: ``StoppingModel``: when each running attempt was asked to stop and when it was forced,
when shutdown was requested and whether it is done, which tasks had to be forced during it
(the ``stuck`` list), and how late the timer fired during it. It checks that an attempt is
forced only after its grace and abandoned only after its force-wait, that a stop names the
attempt that runs, that nothing starts once shutdown was requested and every remaining task
is stopping (a shutdown is requested by ``Shutdown`` or by the core's own escalation), that
shutdown completes once (with the right event and ``stuck`` list) within
``grace + force_wait`` of the request, plus however late the timer fired. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor.fsm import (
    Abandon,
    Event,
    EventKind,
    ForceCancel,
    Input,
    Phase,
    RequestCancel,
    Shutdown,
    ShutdownDone,
    StartAttempt,
    SupervisorState,
    TaskId,
    Tick,
)
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["StoppingModel"]

EK = EventKind


class StoppingModel:
    """Cooperative cancellation, force, abandonment and shutdown.

    Attributes:
        cancel_asked: when cooperative cancellation of each running attempt was asked.
        forced: when each running attempt was force-cancelled.
        shutdown_at: when shutdown was requested, or None.
        done: shutdown is done (``ShutdownDone`` was emitted).
        stuck: names of the tasks forced during shutdown.
        lag: how late the timer fired during shutdown, in total (it delays shutdown by as much).
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.cancel_asked: dict[TaskId, int] = {}
        self.forced: dict[TaskId, int] = {}
        self.shutdown_at: int | None = None
        self.done = False
        self.stuck: set[str] = set()
        self.lag = 0

    def attempt_over(self, tid: TaskId) -> None:
        """The core took the end of ``tid``'s running attempt."""
        self.forced.pop(tid, None)
        self.cancel_asked.pop(tid, None)

    def ticked(self, s: StepRecord) -> None:
        """A late timer during shutdown delays its end by as much (I7's bound grows)."""
        if isinstance(s.inp, Tick) and self.shutdown_at is not None and not self.done:
            due = s.before.next_deadline()
            if due is not None and due <= s.now:
                self.lag += s.now - due

    # -- events ----------------------------------------------------------------------------

    def shutdown_requested(self, s: StepRecord, inp: Input, ev: Event) -> None:
        asked = isinstance(inp, Shutdown) or s.escalated is not None
        if not asked or self.shutdown_at is not None:
            fail("I7", "SHUTDOWN_REQUESTED twice or without a Shutdown")
        self.shutdown_at = s.now
        registry, restarts = self.m.registry, self.m.restarts
        for live in registry.live():
            registry.for_good.add(live)
            restarts.stop_for_good(live)

    def done_event(self, s: StepRecord, inp: Input, ev: Event) -> None:
        s.done_event = ev.kind

    # -- effects ---------------------------------------------------------------------------

    def attempt_started(self, s: StepRecord, eff: StartAttempt) -> None:
        if self.shutdown_at is not None:
            fail("I7", f"{eff.task_id!r} started after shutdown was requested")

    def stopping(self, s: StepRecord, eff: RequestCancel | ForceCancel | Abandon) -> None:
        """I7: stop the attempt that runs; force after grace, abandon after force-wait."""
        tid, attempt, now = eff.task_id, eff.attempt, s.now
        restarts = self.m.restarts
        what = type(eff).__name__
        if s.in_flight_before.get(tid) != attempt or restarts.in_flight.get(tid) != attempt:
            fail("I7", f"{what} names {tid!r} attempt {attempt}, which was not running")
        shutting = self.shutdown_at is not None and not self.done
        config = self.m.config
        if isinstance(eff, RequestCancel):
            self.cancel_asked[tid] = now
        elif isinstance(eff, ForceCancel):
            asked = self.cancel_asked.get(tid)
            early = asked is not None and now < asked + config.grace_ns
            if early and tid not in self.forced:
                fail("I7", f"{tid!r} forced at {now}, before grace from {asked}")
            self.forced[tid] = now
            if shutting:
                self.stuck.add(self.m.registry.added[tid])
        else:
            forced = self.forced.get(tid)
            if forced is None or now < forced + config.force_wait_ns:
                fail("I7", f"{tid!r} abandoned at {now}, before its force-wait")
            restarts.abandoned_attempt(tid, attempt)
            s.expect_aborted.add(tid)
            if shutting:
                self.stuck.add(self.m.registry.added[tid])

    def shutdown_done(self, s: StepRecord, inp: Input, eff: ShutdownDone) -> None:
        """I7: done once (again only for a repeated ``Shutdown``), with the forced tasks named."""
        if self.shutdown_at is None:
            fail("I7", "ShutdownDone before shutdown was requested")
        if s.shutdown_done:
            fail("I7", "two ShutdownDone in one step")
        s.shutdown_done = True
        if self.done and not isinstance(inp, Shutdown):
            fail("I7", "ShutdownDone again without a Shutdown")
        if eff.stuck != tuple(sorted(self.stuck)):
            fail("I7", f"ShutdownDone.stuck={eff.stuck}, forced: {sorted(self.stuck)}")
        if not self.done:
            want = EK.GRACE_EXCEEDED if self.stuck else EK.ALL_STOPPED_WITHIN_GRACE
            if s.done_event is not want:
                fail("I7", f"shutdown done with {s.done_event}, expected {want.name}")
        self.done = True

    # -- after the step ----------------------------------------------------------------------

    def check(self, s: StepRecord, after: SupervisorState) -> None:
        """I7: during shutdown every task is stopping, and it ends within its bound."""
        if self.shutdown_at is None:
            return
        for t in after.tasks.values():
            if t.phase is not Phase.STOPPING:
                fail("I7", f"{t.name} is {t.phase.name} during shutdown")
        # I7: done within grace + force-wait, plus however late the timer fired.
        config = self.m.config
        bound = self.shutdown_at + config.grace_ns + config.force_wait_ns + self.lag
        if isinstance(s.inp, Tick) and s.now >= bound and not self.done:
            fail("I7", f"shutdown from {self.shutdown_at} not done at {s.now} >= {bound}")
