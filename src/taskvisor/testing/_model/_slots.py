"""The controller slots part of the contract model (I6; docs/spec/api.md section 6).

Owns: ``SlotModel``: every submission's ``ControllerSpec`` and, per slot, its owner and its
FIFO queue as the events describe them. It checks the admission decision for each submission
(start, queue, replace the head, or reject ``SLOT_BUSY`` / ``QUEUE_FULL`` /
``CONTROLLER_SHUTTING_DOWN``), that a queued submission is admitted only in FIFO order and only
once the owner is gone, that every ``CONTROLLER_REJECTED`` has its cause (superseded by a
REPLACE, removed from the queue by a ``Remove`` naming it, a shutdown, a name clash at
admission), and that the core's slots agree after every step. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor.fsm import (
    AdmissionPolicy,
    ControllerSpec,
    Event,
    Input,
    OutcomeKind,
    RejectionKind,
    Remove,
    Shutdown,
    Submit,
    SubmitReply,
    SupervisorState,
    TaskId,
)
from taskvisor.fsm._slots import SlotStatus
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["SlotModel", "SlotView"]

OK = OutcomeKind
RK = RejectionKind


class SlotView:
    """What the events say about one slot: its owner and its FIFO queue (I6)."""

    __slots__ = ("owner", "queue")

    def __init__(self) -> None:
        self.owner: TaskId | None = None
        self.queue: list[TaskId] = []

    def busy(self) -> bool:
        return self.owner is not None or bool(self.queue)


class SlotModel:
    """Submissions and the slots they share.

    Attributes:
        submitted: the ``ControllerSpec`` of every submission.
        slots: each slot's owner and queue, by slot name.
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.submitted: dict[TaskId, ControllerSpec] = {}
        self.slots: dict[str, SlotView] = {}

    def _slot(self, tid: TaskId) -> SlotView:
        return self.slots.setdefault(self.submitted[tid].slot, SlotView())

    def queued_named(self, name: str | None) -> set[TaskId]:
        """Queued submissions whose task has this name."""
        submitted = self.submitted
        return {
            q
            for slot in self.slots.values()
            for q in slot.queue
            if submitted[q].task_spec.name == name
        }

    def is_queued(self, tid: TaskId) -> bool:
        return any(tid in slot.queue for slot in self.slots.values())

    # -- events ----------------------------------------------------------------------------

    def add_requested(self, s: StepRecord, inp: Input, ev: Event) -> None:
        """I6: a queued submission is admitted in FIFO order, once the owner is gone."""
        tid = ev.task_id
        if tid is None or tid not in self.submitted:
            return
        slot = self._slot(tid)
        if slot.owner is not None:
            fail("I6", f"{tid!r} admitted to slot while its owner {slot.owner!r} is live")
        if not slot.queue or slot.queue[0] != tid:
            fail("I6", f"{tid!r} admitted out of FIFO order; queue {slot.queue}")
        s.admitting.add(tid)

    def task_added(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if tid is not None and tid in self.submitted:
            slot = self._slot(tid)
            slot.queue.pop(0)
            slot.owner = tid

    def task_removed(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if tid is not None and tid in self.submitted:
            slot = self._slot(tid)
            if slot.owner == tid:
                slot.owner = None

    def controller_submitted(self, s: StepRecord, inp: Input, ev: Event) -> None:
        tid = ev.task_id
        if not isinstance(inp, Submit) or inp.task_id != tid or tid in self.submitted:
            fail("I6", f"CONTROLLER_SUBMITTED for {tid!r} without its Submit")
        s.expect_submit = self._submit_decision(inp.spec)
        self.submitted[inp.task_id] = inp.spec

    def _submit_decision(self, spec: ControllerSpec) -> RejectionKind | None:
        """What a submission must get, from the slot as events showed it (docs/spec/api.md 6)."""
        if self.m.stopping.shutdown_at is not None:
            return RK.CONTROLLER_SHUTTING_DOWN
        slot = self.slots.get(spec.slot)
        if slot is None or not slot.busy():
            return None
        if spec.admission is AdmissionPolicy.DROP_IF_RUNNING:
            return RK.SLOT_BUSY
        if spec.admission is AdmissionPolicy.REPLACE:
            return None
        controller = self.m.config.controller
        assert controller is not None
        if len(slot.queue) >= controller.max_slot_queue:
            return RK.QUEUE_FULL
        return None

    def rejected(self, s: StepRecord, inp: Input, ev: Event) -> None:
        """I6: every rejection of a submission has its cause."""
        tid, kind = ev.task_id, ev.rejection
        registry = self.m.registry
        if tid is None or tid not in self.submitted or tid in registry.added:
            fail("I6", f"CONTROLLER_REJECTED for {tid!r}: not a pending submission")
        spec = self.submitted[tid]
        slot = self._slot(tid)
        queued = tid in slot.queue
        if ev.outcome is not OK.REJECTED:
            fail("I6", f"CONTROLLER_REJECTED for {tid!r} with outcome {ev.outcome}")
        if kind is RK.SUPERSEDED_BY_REPLACE:
            if s.expect_superseded != tid:
                fail("I6", f"{tid!r} superseded, but it was not the head of a REPLACEd queue")
            s.expect_superseded = None
        elif kind is RK.REMOVED_FROM_QUEUE:
            named = isinstance(inp, Remove) and (
                inp.task_id == tid or (inp.task_id is None and inp.name == spec.task_spec.name)
            )
            if not (named and queued):
                fail("I6", f"{tid!r} REMOVED_FROM_QUEUE without a Remove naming it in a queue")
            slot.queue.remove(tid)
        elif kind is RK.CONTROLLER_SHUTTING_DOWN and queued:
            if not isinstance(inp, Shutdown) and s.escalated is None:
                fail("I6", f"queued {tid!r} rejected CONTROLLER_SHUTTING_DOWN without Shutdown")
            slot.queue.remove(tid)
        elif kind is RK.ALREADY_EXISTS:
            name = spec.task_spec.name
            if tid not in s.admitting or name not in registry.names:
                fail("I2", f"{tid!r} rejected ALREADY_EXISTS but {name!r} is free")
            slot.queue.pop(0)
        elif not isinstance(inp, Submit) or inp.task_id != tid or s.expect_submit is not kind:
            fail("I6", f"{tid!r} rejected {kind} where {s.expect_submit} was due")
        s.rejected[tid] = kind

    # -- effects ---------------------------------------------------------------------------

    def submit_reply(self, s: StepRecord, inp: Input, eff: SubmitReply) -> None:
        """I6: the reply is the decision due; an admitted submission takes its place."""
        if not isinstance(inp, Submit) or (eff.ticket, eff.task_id) != (inp.ticket, inp.task_id):
            fail("I6", f"{eff!r} without its Submit")
        if eff.rejection is not s.expect_submit:
            fail("I6", f"{inp.spec.admission.name} got {eff.rejection}; due: {s.expect_submit}")
        if eff.rejection is not None:
            return
        slot = self._slot(inp.task_id)
        if not slot.busy():
            slot.queue = [inp.task_id]  # admitted in this same step
        elif inp.spec.admission is AdmissionPolicy.REPLACE:
            if slot.queue:
                s.expect_superseded = slot.queue[0]
            slot.queue = [inp.task_id, *slot.queue[1:]]
            if slot.owner is not None and slot.owner not in self.m.registry.for_good:
                s.expect_remove_requested.add(slot.owner)
        else:
            slot.queue.append(inp.task_id)

    # -- after the step ----------------------------------------------------------------------

    def check_no_admission_while_escalating(self, s: StepRecord) -> None:
        """I6: a step that shuts the supervisor down admits nobody from a queue.

        The shutdown rejects queued work ``CONTROLLER_SHUTTING_DOWN`` (docs/spec/api.md
        section 6); admitting the next submission first would start it only to cancel it.
        """
        if s.escalated is not None and s.admitting:
            fail("I6", f"queued {sorted(s.admitting)} admitted as the supervisor shut down")

    def check_superseded(self, s: StepRecord) -> None:
        if s.expect_superseded is not None:
            fail("I6", f"REPLACE did not supersede the queue head {s.expect_superseded!r}")

    def check(self, after: SupervisorState) -> None:
        """I6: the slots the events describe are the slots the core holds."""
        model = {name: (slot.owner, slot.queue) for name, slot in self.slots.items() if slot.busy()}
        core = {
            name: (slot.owner, [sub.task_id for sub in slot.queue])
            for name, slot in after.slots.items()
        }
        if model != core:
            fail("I6", f"slots per events {model} != core {core}")
        for name, slot in after.slots.items():
            owned = slot.status in (SlotStatus.RUNNING, SlotStatus.TERMINATING)
            if owned != (slot.owner is not None):
                fail("I6", f"slot {name!r} is {slot.status.name} with owner {slot.owner!r}")
