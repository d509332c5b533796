"""Core findings of the stateful machines, pinned as plain examples (one per finding)."""

from __future__ import annotations

import random

import pytest

from taskvisor import fsm
from taskvisor.fsm import (
    AddTasks,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Event,
    EventKind,
    Shutdown,
    Submit,
    TaskFn,
    TaskId,
    TaskSpec,
)
from taskvisor.testing import CheckedCore

S = 1_000_000_000


async def _body(ctx: object) -> None:
    """Never run."""


def test_a_late_timer_during_shutdown_is_not_an_i7_violation() -> None:
    # The runtime ticks at max(deadline, loop time): here 0.2 s late. The core then counts the
    # force-wait from the late tick; check_state used to call that an I7 violation.
    c = CheckedCore(CoreConfig(1.0, force_wait=0.5), random.Random(0))
    tid = c.new_id()
    c.feed(AddTasks(c.ticket(), ((tid, TaskSpec(TaskFn("a", _body))),)))
    c.feed(Shutdown())
    effects = c.tick(int(1.2 * S))
    assert fsm.ForceCancel(tid, 1) in effects
    assert c.state.tasks[tid].deadline == int(1.7 * S)
    c.drain()  # and the shutdown still completes within grace + force-wait + lateness
    c.verify()


def test_check_state_still_bounds_a_grace_deadline_by_the_shutdown() -> None:
    c = CheckedCore(CoreConfig(1.0, force_wait=0.5), random.Random(0))
    tid = c.new_id()
    c.feed(AddTasks(c.ticket(), ((tid, TaskSpec(TaskFn("a", _body))),)))
    c.feed(Shutdown())
    bad = c.state.clone()
    bad.tasks[tid].deadline = 2 * S
    with pytest.raises(fsm.InvariantViolation, match="I7"):
        fsm.check_state(bad)


def test_check_trace_accepts_a_slot_naming_its_owner_before_task_added() -> None:
    c = CheckedCore(CoreConfig(controller=ControllerConfig()), random.Random(0))
    tid = c.new_id()
    c.feed(Submit(c.ticket(), tid, ControllerSpec(TaskSpec.once(TaskFn("a", _body)))))
    kinds = [e.kind for e in c.events if e.task_id == tid]
    assert kinds.index(EventKind.CONTROLLER_SLOT_TRANSITION) < kinds.index(EventKind.TASK_ADDED)
    c.drain()
    c.verify()  # runs fsm.check_trace over the whole trace


def test_check_trace_rejects_any_event_for_an_id_after_its_removal() -> None:
    tid = TaskId(1)
    trace = [
        Event(0, 0.0, EventKind.TASK_ADDED, tid, "a"),
        Event(1, 0.0, EventKind.TASK_REMOVED, tid, "a"),
        Event(2, 0.0, EventKind.CONTROLLER_SLOT_TRANSITION, tid, "a"),
    ]
    with pytest.raises(fsm.InvariantViolation, match="after its TASK_REMOVED"):
        fsm.check_trace(trace)
