"""Tests for ``taskvisor.fsm._events``: task ids as values, and the enum member views the hot
path reads members from."""

from __future__ import annotations

import enum

import pytest

from taskvisor.fsm import (
    BackoffSource,
    EndKind,
    EventKind,
    OutcomeKind,
    Phase,
    RejectionKind,
    TaskId,
    _supervisor,
)
from taskvisor.fsm._events import member_view
from taskvisor.fsm._policy import RestartMode
from taskvisor.fsm._slots import SlotDecision, SlotStatus, SlotTrigger
from taskvisor.fsm._table import CancelCause, Trigger


def test_a_task_id_never_equals_a_plain_int() -> None:
    # An int underneath (C-level hashing on the hot path), but not interchangeable with one:
    # an id is never mistaken for a count or an attempt number.
    tid, five = TaskId(5), 5
    assert tid != five
    assert five != tid  # the reflected comparison asks TaskId first (a subclass of int)
    assert (tid == five) is False
    assert (five == tid) is False
    assert tid == TaskId(5)
    assert (tid != TaskId(5)) is False
    assert {tid: "a"}.get(five) is None  # type: ignore[call-overload]
    assert tid.value == 5
    assert type(tid.value) is int
    assert bool(TaskId(0))  # always true, like the value object it replaced


def test_task_ids_sort_by_their_number() -> None:
    ids = [TaskId(n) for n in (10, 2, 33, 1)]
    assert sorted(ids) == sorted(ids, key=int) == [TaskId(1), TaskId(2), TaskId(10), TaskId(33)]
    assert max(ids) == TaskId(33)


ENUMS: list[type[enum.Enum]] = [
    EventKind,
    Phase,
    Trigger,
    CancelCause,
    EndKind,
    RestartMode,
    BackoffSource,
    OutcomeKind,
    RejectionKind,
    SlotStatus,
    SlotTrigger,
    SlotDecision,
]


@pytest.mark.parametrize("cls", ENUMS, ids=lambda c: c.__name__)
def test_a_member_view_holds_the_very_same_members(cls: type[enum.Enum]) -> None:
    view = member_view(cls)
    for name, member in cls.__members__.items():
        assert getattr(view, name) is member


@pytest.mark.parametrize("cls", ENUMS, ids=lambda c: c.__name__)
def test_the_supervisor_reads_members_of_the_real_enums(cls: type[enum.Enum]) -> None:
    # The supervisor module binds these names to member views (CPython 3.11's enum member
    # reads are slow); each must hold exactly the members of the enum it stands for.
    alias = "EK" if cls is EventKind else cls.__name__
    bound = getattr(_supervisor, alias)
    assert {name: getattr(bound, name) for name in cls.__members__} == dict(cls.__members__)
