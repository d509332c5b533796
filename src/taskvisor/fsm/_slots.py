"""Admission control: named slots with QUEUE, REPLACE and DROP_IF_RUNNING.

The contract is docs/spec/api.md section 6.

Owns: ``ControllerConfig``, ``AdmissionPolicy``, ``ControllerSpec``, the slot values
(``Slot``, ``Submission``, ``SlotSnapshot``), the slot lifecycle as data (``SLOT_TRANSITIONS``)
and ``decide``, the pure rule for what a new submission does to a slot. The supervisor machine
(``_supervisor``) applies these decisions inside ``step``; a slot is freed only when its owner
has fully left the registry (the core's ``Finished``), never on an event or a removal reply
(invariant I6). Must not import anything that does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from taskvisor._errors import ConfigError, ConfigTypeError
from taskvisor.fsm._duration import capacity
from taskvisor.fsm._events import RejectionKind, TaskId
from taskvisor.fsm._spec import TaskSpec

__all__ = [
    "SLOT_TRANSITIONS",
    "AdmissionPolicy",
    "ControllerConfig",
    "ControllerSpec",
    "Slot",
    "SlotDecision",
    "SlotSnapshot",
    "SlotStatus",
    "SlotTrigger",
    "Submission",
    "check_slot_move",
    "decide",
]


class AdmissionPolicy(enum.Enum):
    """What a submission does when its slot already has an owner."""

    QUEUE = "queue"  # wait in FIFO order (bounded by max_slot_queue)
    REPLACE = "replace"  # cancel the owner; take the head of the queue
    DROP_IF_RUNNING = "drop_if_running"  # rejected SLOT_BUSY


class SlotStatus(enum.Enum):
    """Where one slot stands."""

    IDLE = "idle"  # no owner
    ADMITTING = "admitting"  # a submission is being registered as the owner
    RUNNING = "running"  # the owner is in the registry
    TERMINATING = "terminating"  # the owner was asked to stop; the slot waits until it is gone


class SlotTrigger(enum.Enum):
    """What moves a slot."""

    SUBMIT = "submit"  # a submission arrives at an idle slot
    ADMITTED = "admitted"  # the registry accepted the owner
    ADMIT_FAILED = "admit failed"  # the registry rejected it (duplicate name)
    REPLACE = "replace"  # a REPLACE submission cancels the owner
    SHUTDOWN = "shutdown"  # shutdown cancels the owner
    OWNER_GONE = "owner gone"  # the owner fully left the registry


S, G = SlotStatus, SlotTrigger

#: (from status, trigger) -> statuses it may move to.
SLOT_TRANSITIONS: Mapping[tuple[SlotStatus, SlotTrigger], frozenset[SlotStatus]] = {
    (S.IDLE, G.SUBMIT): frozenset({S.ADMITTING}),
    (S.ADMITTING, G.ADMITTED): frozenset({S.RUNNING}),
    (S.ADMITTING, G.ADMIT_FAILED): frozenset({S.ADMITTING, S.IDLE}),  # try the next in line
    (S.RUNNING, G.REPLACE): frozenset({S.TERMINATING}),
    (S.RUNNING, G.SHUTDOWN): frozenset({S.TERMINATING}),
    (S.TERMINATING, G.REPLACE): frozenset({S.TERMINATING}),
    (S.RUNNING, G.OWNER_GONE): frozenset({S.ADMITTING, S.IDLE}),
    (S.TERMINATING, G.OWNER_GONE): frozenset({S.ADMITTING, S.IDLE}),
}

del S, G


def check_slot_move(source: SlotStatus, trigger: SlotTrigger, target: SlotStatus) -> None:
    """Raise ``AssertionError`` unless ``SLOT_TRANSITIONS`` allows the move."""
    if target not in SLOT_TRANSITIONS.get((source, trigger), frozenset()):
        raise AssertionError(f"slot {source.name} --{trigger.name}--> {target.name}")


@attrs.frozen(init=False)
class ControllerConfig:
    """The admission controller's bounds.

    Attributes:
        queue_capacity: submissions the runtime buffers before ``try_submit`` raises.
        max_slot_queue: submissions that may wait in one slot's FIFO queue.
    """

    queue_capacity: int
    max_slot_queue: int

    def __init__(self, queue_capacity: int = 1024, max_slot_queue: int = 100) -> None:
        self.__attrs_init__(
            capacity(queue_capacity, "ControllerConfig.queue_capacity"),
            capacity(max_slot_queue, "ControllerConfig.max_slot_queue"),
        )


@attrs.frozen(init=False)
class ControllerSpec:
    """A task submitted to a slot under an admission policy (slot defaults to the task name)."""

    task_spec: TaskSpec
    admission: AdmissionPolicy
    slot: str

    def __init__(
        self,
        task_spec: TaskSpec,
        admission: AdmissionPolicy = AdmissionPolicy.QUEUE,
        slot: str | None = None,
    ) -> None:
        if not isinstance(task_spec, TaskSpec):
            raise ConfigTypeError("ControllerSpec.task_spec", "a TaskSpec", task_spec)
        if not isinstance(admission, AdmissionPolicy):
            raise ConfigTypeError("ControllerSpec.admission", "an AdmissionPolicy", admission)
        slot = task_spec.name if slot is None else slot
        if not isinstance(slot, str) or not slot:
            raise ConfigError("ControllerSpec.slot", f"expected a non-empty str, got {slot!r}")
        self.__attrs_init__(task_spec, admission, slot)


@attrs.frozen
class Submission:
    """One submission, identified by the ``TaskId`` it will run under."""

    task_id: TaskId
    spec: ControllerSpec


@attrs.frozen
class Slot:
    """One slot: its status, its owner (a live task) and its FIFO queue."""

    name: str
    status: SlotStatus = SlotStatus.IDLE
    owner: TaskId | None = None
    queue: tuple[Submission, ...] = ()


@attrs.frozen
class SlotSnapshot:
    """What ``controller_snapshot()`` reports per slot."""

    slot: str
    status: SlotStatus
    owner: TaskId | None
    queue_depth: int


class SlotDecision(enum.Enum):
    """What a new submission does to its slot (``decide``)."""

    START = "start"  # the slot is idle: admit it now
    ENQUEUE = "enqueue"  # wait at the tail
    REPLACE = "replace"  # take the head; cancel the owner if it still runs
    REJECT_BUSY = "reject busy"  # SLOT_BUSY
    REJECT_FULL = "reject full"  # QUEUE_FULL


def decide(slot: Slot, admission: AdmissionPolicy, max_slot_queue: int) -> SlotDecision:
    """The admission rule of docs/spec/api.md section 6, as a pure function of the slot."""
    if slot.status is SlotStatus.IDLE:
        return SlotDecision.START
    if admission is AdmissionPolicy.DROP_IF_RUNNING:
        return SlotDecision.REJECT_BUSY
    if admission is AdmissionPolicy.REPLACE:
        return SlotDecision.REPLACE
    if len(slot.queue) >= max_slot_queue:
        return SlotDecision.REJECT_FULL
    return SlotDecision.ENQUEUE


REJECTION_OF = {
    SlotDecision.REJECT_BUSY: RejectionKind.SLOT_BUSY,
    SlotDecision.REJECT_FULL: RejectionKind.QUEUE_FULL,
}
