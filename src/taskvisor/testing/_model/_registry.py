"""The registry and outcomes part of the contract model (I1, I2; docs/spec/api.md sections 1, 4, 5).

Owns: ``RegistryModel``: every task id fed (``AddTasks`` items and submissions) and its spec,
which ids were added and removed (``TASK_ADDED`` / ``TASK_REMOVED``), the live names, each
task's one ``Finished`` outcome, removal claims, and the tasks asked to stop for good. It checks
that an id is added and removed once and nothing is published for it afterwards, that names
are unique among live tasks, that every end comes with its ``Finished`` in the same step and
agrees with its ``TASK_REMOVED``, that an ``AddTasks`` batch is accepted or rejected whole as
the contract says, and which ``Remove`` claims which task. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor.fsm import (
    NS_PER_S,
    AddReply,
    AddTasks,
    Event,
    Finished,
    Input,
    OutcomeKind,
    RejectionKind,
    Remove,
    RemoveReply,
    StartAttempt,
    Submit,
    SupervisorState,
    TaskId,
    TaskOutcome,
    TaskSpec,
    check_trace,
)
from taskvisor.fsm._spec import ResolvedSpec
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["RegistryModel"]

OK = OutcomeKind
RK = RejectionKind


class RegistryModel:
    """Task ids, names and outcomes as the inputs and events describe them.

    Attributes:
        events: every published event, in order.
        specs: the spec of every task id fed so far (``AddTasks`` items and submissions).
        policies: each added task's resolved policy; ``ceilings`` its I4 bound in seconds.
        added: the name of every task that got ``TASK_ADDED``; ``removed``: those that got
            ``TASK_REMOVED``.
        names: live names and their ids (I2).
        outcomes: the one ``Finished`` outcome of each task (I1).
        claims: how many removals claimed each task (at most one, I1).
        for_good: tasks asked to stop for good (removal claimed, replaced or shut down).
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.events: list[Event] = []
        self.specs: dict[TaskId, TaskSpec] = {}
        self.policies: dict[TaskId, ResolvedSpec] = {}
        self.ceilings: dict[TaskId, float] = {}
        self.added: dict[TaskId, str] = {}
        self.removed: set[TaskId] = set()
        self.names: dict[str, TaskId] = {}
        self.outcomes: dict[TaskId, TaskOutcome] = {}
        self.claims: dict[TaskId, int] = {}
        self.for_good: set[TaskId] = set()

    def live(self) -> set[TaskId]:
        """Tasks added and not yet removed."""
        return set(self.added) - self.removed

    def fed(self, inp: Input) -> None:
        """Record the specs an input brings (before its effects are read)."""
        if isinstance(inp, AddTasks):
            for tid, spec in inp.items:
                self.specs[tid] = spec
        elif isinstance(inp, Submit):
            self.specs[inp.task_id] = inp.spec.task_spec

    # -- events ----------------------------------------------------------------------------

    def not_after_removal(self, ev: Event) -> None:
        """I1: nothing is published for an id once it was removed."""
        tid = ev.task_id
        if tid is not None and tid in self.removed:
            fail("I1", f"{ev.kind.name} for {tid!r} after its TASK_REMOVED")

    def task_added(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid, name = ev.task_id, ev.task
        assert tid is not None
        assert name is not None
        if tid in self.added:
            fail("I1", f"{tid!r} added twice")
        if name in self.names:
            fail("I2", f"{name!r} added as {tid!r} while {self.names[name]!r} is live")
        self.names[name] = tid
        self.added[tid] = name
        policy = self.specs[tid].resolve(self.m.config.defaults)
        self.policies[tid] = policy
        self.ceilings[tid] = policy.backoff.ceiling_ns / NS_PER_S

    def task_removed(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if tid is None or tid not in self.added:
            fail("I1", f"TASK_REMOVED for {tid!r}, never added")
        self.removed.add(tid)
        s.removed[tid] = ev.outcome
        name = self.added[tid]
        if self.names.get(name) == tid:
            del self.names[name]

    def add_failed(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if not isinstance(inp, AddTasks) or tid not in dict(inp.items):
            fail("I1", f"TASK_ADD_FAILED for {tid!r} outside its AddTasks")
        assert tid is not None
        s.rejected[tid] = ev.rejection

    def remove_requested(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if tid is None or tid not in self.added:
            fail("I1", f"TASK_REMOVE_REQUESTED for {tid!r}, not a live task")
        s.remove_requested.add(tid)
        self.for_good.add(tid)
        self.m.restarts.stop_for_good(tid)

    def task_starting(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if tid is None or tid not in self.added:
            fail("I1", f"TASK_STARTING for {tid!r}, not a live task")

    # -- effects ---------------------------------------------------------------------------

    def attempt_started(self, s: StepRecord, eff: StartAttempt) -> None:
        tid = eff.task_id
        if tid not in self.added or tid in self.removed:
            fail("I1", f"StartAttempt for {tid!r}, not a live task")

    def finished(self, s: StepRecord, eff: Finished) -> None:
        """I1: one outcome per id, agreeing with its ``TASK_REMOVED`` or its rejection."""
        tid, outcome = eff.task_id, eff.outcome
        if tid in self.outcomes:
            fail("I1", f"{tid!r} finished twice: {self.outcomes[tid]} then {outcome}")
        self.outcomes[tid] = outcome
        s.outcomes[tid] = outcome
        if tid in self.added:
            restarts = self.m.restarts
            if tid not in s.removed:
                fail("I1", f"Finished for {tid!r} without a TASK_REMOVED before it")
            if s.removed[tid] is not outcome.kind:
                fail("I1", f"{tid!r}: TASK_REMOVED says {s.removed[tid]}, Finished {outcome}")
            if tid in restarts.in_flight:
                fail("I7", f"{tid!r} finished while attempt {restarts.in_flight[tid]} runs")
            if outcome.attempts != restarts.started.get(tid, 0):
                fail("I1", f"{tid!r}: outcome counts {outcome.attempts} attempts")
            if outcome.kind is OK.REJECTED:
                fail("I1", f"{tid!r} was admitted, then REJECTED")
            if tid in self.for_good and outcome.kind not in (OK.CANCELED, OK.FORCE_ABORTED):
                fail("I7", f"{tid!r} was asked to stop for good but ended {outcome.kind}")
            if tid in s.expect_aborted and outcome.kind is not OK.FORCE_ABORTED:
                fail("I7", f"{tid!r} was abandoned but ended {outcome.kind}")
        else:
            if outcome.kind is not OK.REJECTED or outcome.rejection is None:
                fail("I1", f"{tid!r} never admitted, but ended {outcome}")
            if s.rejected.get(tid, "none") is not outcome.rejection:
                fail("I1", f"{tid!r} ended {outcome.rejection} without that rejection event")

    def add_reply(self, s: StepRecord, inp: Input, eff: AddReply) -> None:
        """I2: a batch is rejected whole, for a clash or during shutdown, else accepted."""
        if not isinstance(inp, AddTasks) or eff.ticket != inp.ticket:
            fail("I1", f"{eff!r} without its AddTasks")
        expected = None
        if self.m.stopping.shutdown_at is not None:
            expected = RK.SHUTTING_DOWN
        else:
            seen: set[str] = set()
            for _tid, spec in inp.items:
                if spec.name in s.names_before or spec.name in seen:
                    expected = RK.ALREADY_EXISTS
                seen.add(spec.name)
        if eff.rejection is not expected:
            fail("I2", f"AddTasks got {eff.rejection}, the contract says {expected}")
        for tid, _spec in inp.items:
            if expected is None and tid not in self.added:
                fail("I1", f"accepted batch, but {tid!r} has no TASK_ADDED")
            if expected is not None and s.rejected.get(tid) is not expected:
                fail("I1", f"rejected batch, but {tid!r} has no TASK_ADD_FAILED({expected})")

    def remove_reply(self, s: StepRecord, inp: Input, eff: RemoveReply) -> None:
        """I1: which ``Remove`` claims a task (a live one, or a queued submission); once."""
        if not isinstance(inp, Remove) or eff.ticket != inp.ticket:
            fail("I1", f"{eff!r} without its Remove")
        slots = self.m.slots
        queued = slots.queued_named(inp.name) if inp.task_id is None else set()
        target = inp.task_id if inp.task_id is not None else self.names.get(inp.name or "")
        live = target is not None and target in self.added and target not in self.removed
        if live:
            claim = target not in self.for_good
        elif target is not None:
            claim = slots.is_queued(target)
        else:
            claim = bool(queued)
            target = eff.task_id if eff.task_id in queued else None
        if eff.claimed is not claim or (claim and eff.task_id != target):
            fail("I1", f"{eff!r} for {inp!r}: the contract says claimed={claim} for {target!r}")
        if claim:
            assert eff.task_id is not None
            self.claims[eff.task_id] = self.claims.get(eff.task_id, 0) + 1
            if self.claims[eff.task_id] > 1:
                fail("I1", f"two removals claimed {eff.task_id!r}")
            if live:
                s.expect_remove_requested.add(eff.task_id)

    # -- after the step ----------------------------------------------------------------------

    def check_ended(self, s: StepRecord) -> None:
        """I1: every task removed or rejected in this step got its ``Finished`` in it."""
        owed = (set(s.removed) | set(s.rejected)) - set(s.outcomes)
        if owed:
            fail("I1", f"no Finished in the step that ended {sorted(owed)}")

    def check_remove_requested(self, s: StepRecord) -> None:
        if s.expect_remove_requested - s.remove_requested:
            fail("I6", f"no TASK_REMOVE_REQUESTED for {s.expect_remove_requested}")

    def check_names(self, after: SupervisorState) -> None:
        if after.names != self.names:
            fail("I2", f"core names {dict(after.names.items())} != events {self.names}")

    def verify(self, state: SupervisorState) -> None:
        """Whole-run checks once every task is gone: I1 for every id, then ``check_trace``."""
        if state.tasks:
            fail("I1", f"verify() with {len(state.tasks)} tasks still live")
        missing = sorted(set(self.specs) - set(self.outcomes))
        if missing:
            fail("I1", f"no outcome for {missing}")
        in_flight = self.m.restarts.in_flight
        if in_flight:
            fail("I7", f"attempts left running: {in_flight}")
        if set(self.added) != self.removed:
            fail("I1", f"added but never removed: {sorted(set(self.added) - self.removed)}")
        check_trace(self.events, self.ceilings)
