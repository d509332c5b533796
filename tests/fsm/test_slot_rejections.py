"""How slots refuse: an illegal slot move names itself, a rejected submission names its task
and says why, ids cannot be reused, and REPLACE asks an owner to stop exactly once (I6).
"""

from __future__ import annotations

import sys

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import (
    EventKind,
    Finished,
    RejectionKind,
    Submit,
    SubmitReply,
)
from taskvisor.fsm._slots import SlotStatus, SlotTrigger, check_slot_move

from .driver import Driver, fn

EK = EventKind

#: The largest finite float, as an int: the edge of what a duration or a factor may be.
MAX_FLOAT_INT = int(sys.float_info.max)


async def _body(ctx: object) -> None:  # never run
    return None


SPEC = tv.TaskSpec(tv.TaskFn("a", _body))


# -- the slot table refuses an illegal move, saying which ---------------------------------------


def test_an_illegal_slot_move_is_an_assertion_error_naming_the_move() -> None:
    with pytest.raises(AssertionError) as raised:
        check_slot_move(SlotStatus.IDLE, SlotTrigger.OWNER_GONE, SlotStatus.RUNNING)
    assert str(raised.value) == "slot IDLE --OWNER_GONE--> RUNNING"
    with pytest.raises(AssertionError, match="slot RUNNING --ADMITTED--> IDLE"):
        check_slot_move(SlotStatus.RUNNING, SlotTrigger.ADMITTED, SlotStatus.IDLE)
    check_slot_move(SlotStatus.IDLE, SlotTrigger.SUBMIT, SlotStatus.ADMITTING)  # a legal one


# -- the supervisor machine: rejected submissions -------------------------------------------------


def _controller_driver(*, contract: bool = True) -> Driver:
    config = fsm.CoreConfig(
        1.0,
        force_wait=0.5,
        subscribers=[fsm.SubscriberInfo("rec")],
        controller=tv.ControllerConfig(max_slot_queue=2),
    )
    return Driver(config, contract=contract)


def _submit(d: Driver, tid: tv.TaskId, name: str, admission: tv.AdmissionPolicy) -> SubmitReply:
    cspec = tv.ControllerSpec(tv.TaskSpec.once(fn(name)), admission, slot="s")
    (reply,) = [e for e in d.feed(Submit(d.ticket(), tid, cspec)) if isinstance(e, SubmitReply)]
    return reply


def test_a_rejected_submission_names_its_task_and_says_why() -> None:
    d = _controller_driver()
    _submit(d, d.new_id(), "owner", tv.AdmissionPolicy.QUEUE)
    tid = d.new_id()
    assert _submit(d, tid, "late", tv.AdmissionPolicy.DROP_IF_RUNNING).rejection is (
        RejectionKind.SLOT_BUSY
    )
    (rejected,) = [e for e in d.events if e.kind is EK.CONTROLLER_REJECTED]
    assert (rejected.task_id, rejected.task, rejected.reason) == (
        tid,
        "late",
        "rejected: SLOT_BUSY",
    )
    (finished,) = [e for e in d.effects if isinstance(e, Finished) and e.task_id == tid]
    assert finished.name == "late"
    assert finished.outcome.reason == "rejected: SLOT_BUSY"


def test_a_submission_under_the_id_of_a_live_task_is_rejected_already_exists() -> None:
    # A reused id is what the contract model says a driver never feeds (docs/spec/api.md 4):
    # unmodelled.
    d = _controller_driver(contract=False)
    tid = d.new_id()
    _submit(d, tid, "owner", tv.AdmissionPolicy.QUEUE)
    reply = _submit(d, tid, "again", tv.AdmissionPolicy.QUEUE)
    assert reply.rejection is RejectionKind.ALREADY_EXISTS


def test_a_submission_without_a_controller_is_a_driver_bug_said_plainly() -> None:
    d = Driver.make()
    cspec = tv.ControllerSpec(tv.TaskSpec.once(fn("x")))
    with pytest.raises(ValueError, match=r"^Submit needs CoreConfig\.controller \(the runtime"):
        d.feed(Submit(d.ticket(), d.new_id(), cspec))


def test_a_submission_reusing_a_queued_or_a_registered_id_is_rejected_already_exists() -> None:
    # A reused id is what the contract model says a driver never feeds (docs/spec/api.md 4):
    # unmodelled.
    d = _controller_driver(contract=False)
    _submit(d, d.new_id(), "owner", tv.AdmissionPolicy.QUEUE)
    queued = d.new_id()
    assert _submit(d, queued, "queued", tv.AdmissionPolicy.QUEUE).rejection is None
    again = _submit(d, queued, "again", tv.AdmissionPolicy.QUEUE)
    assert again.rejection is RejectionKind.ALREADY_EXISTS
    plain = d.add(tv.TaskSpec.restartable(fn("plain")))  # registered without a slot
    reply = _submit(d, plain, "plain2", tv.AdmissionPolicy.QUEUE)
    assert reply.rejection is RejectionKind.ALREADY_EXISTS


def test_replace_asks_the_owner_to_stop_once_saying_why() -> None:
    d = _controller_driver()
    owner = d.new_id()
    _submit(d, owner, "owner", tv.AdmissionPolicy.QUEUE)
    _submit(d, d.new_id(), "new", tv.AdmissionPolicy.REPLACE)
    (asked,) = [e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]
    assert asked.reason == "superseded by REPLACE"
    _submit(d, d.new_id(), "newer", tv.AdmissionPolicy.REPLACE)  # the owner already stops
    removing = d.new_id()
    _submit(d, removing, "removing", tv.AdmissionPolicy.QUEUE)  # queued behind
    assert len([e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]) == 1


def test_replace_of_an_owner_already_being_removed_asks_nothing_more() -> None:
    d = _controller_driver()
    owner = d.new_id()
    _submit(d, owner, "owner", tv.AdmissionPolicy.QUEUE)
    d.remove(owner)  # stopping for good, the slot still RUNNING until it is gone
    _submit(d, d.new_id(), "new", tv.AdmissionPolicy.REPLACE)
    asked = [e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]
    assert [e.reason for e in asked] == [None]  # the removal's own request, no second one
