"""``taskvisor.testing.assert_event_sequence`` and ``event_kinds``."""

from __future__ import annotations

import pytest

from taskvisor.fsm import Event, EventKind, TaskId
from taskvisor.testing import assert_event_sequence, event_kinds

EK = EventKind
A, B = TaskId(1), TaskId(2)


def ev(
    seq: int, kind: EventKind, tid: TaskId | None, name: str | None, reason: str | None = None
) -> Event:
    return Event(seq, 0.0, kind, tid, name, reason=reason)


TRACE = [
    ev(0, EK.TASK_ADD_REQUESTED, A, "a"),
    ev(1, EK.TASK_ADDED, A, "a"),
    ev(2, EK.TASK_ADDED, B, "b"),
    ev(3, EK.TASK_STARTING, A, "a"),
    ev(4, EK.CONTROLLER_SLOT_TRANSITION, A, "a", "ADMITTING -> RUNNING"),
    ev(5, EK.SUBSCRIBER_OVERFLOW, None, "a", "queue full"),
    ev(6, EK.TASK_FAILED, A, "a", "boom"),
    ev(7, EK.TASK_REMOVED, A, "a"),
]


def test_event_kinds_filters_by_id_by_name_or_not_at_all() -> None:
    assert event_kinds(TRACE, B) == [EK.TASK_ADDED]
    # By id: everything that carries the id, a slot transition naming its owner included.
    assert EK.CONTROLLER_SLOT_TRANSITION in event_kinds(TRACE, A)
    # By name: the task's lifecycle only, not slot or subscriber events that reuse the name.
    assert event_kinds(TRACE, "a") == [
        EK.TASK_ADD_REQUESTED,
        EK.TASK_ADDED,
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.TASK_REMOVED,
    ]
    assert len(event_kinds(TRACE)) == len(TRACE)


def test_a_matching_sequence_passes_with_kinds_or_names() -> None:
    assert_event_sequence(TRACE, [EK.TASK_ADDED], task=B)
    assert_event_sequence(
        TRACE,
        ["TASK_ADD_REQUESTED", "TASK_ADDED", "TASK_STARTING", "TASK_FAILED", "TASK_REMOVED"],
        task="a",
    )


def test_ellipsis_stands_for_any_run_including_none() -> None:
    assert_event_sequence(TRACE, ["TASK_ADD_REQUESTED", ..., "TASK_REMOVED"], task="a")
    assert_event_sequence(TRACE, [..., EK.TASK_ADDED, ...], task=B)
    assert_event_sequence(TRACE, [...], task=B)
    with pytest.raises(AssertionError):
        assert_event_sequence(TRACE, ["TASK_ADDED", ..., "TASK_STARTING"], task="a")


def test_a_mismatch_shows_what_is_missing_and_what_is_extra() -> None:
    with pytest.raises(AssertionError) as info:
        assert_event_sequence(
            TRACE, ["TASK_ADD_REQUESTED", "TASK_ADDED", "TASK_STOPPED", "TASK_REMOVED"], task="a"
        )
    text = str(info.value)
    assert "events of task a" in text
    assert "expected 4 kinds, got 5" in text
    lines = text.splitlines()
    assert "- TASK_STOPPED" in lines
    assert any(line.startswith("+ TASK_STARTING") and "seq=3" in line for line in lines)
    assert any(line.startswith("+ TASK_FAILED") and "(boom)" in line for line in lines)
    assert any(line.startswith("  TASK_ADDED") for line in lines)


def test_a_mismatch_with_wildcards_lists_both_sides() -> None:
    with pytest.raises(AssertionError, match=r"\? +1 expected \.\.\."):
        assert_event_sequence(TRACE, ["TASK_STOPPED", ...], task=A)


def test_an_unknown_kind_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'TASK_EXPLODED' is not an EventKind"):
        assert_event_sequence(TRACE, ["TASK_EXPLODED"])
