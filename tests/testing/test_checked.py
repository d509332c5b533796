"""``CheckedCore``: a thin driver over ``fsm.Stepper`` whose checker chain is the contract model."""

from __future__ import annotations

import random
from typing import Any

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import _stepper
from taskvisor.testing import CheckedCore

OK = tv.OutcomeKind


async def _body(ctx: object) -> None:  # never run: the core only carries the task
    return None


def _core_with_a_failed_attempt() -> tuple[CheckedCore, fsm.TaskId]:
    c = CheckedCore(fsm.CoreConfig(1.0, subscribers=[fsm.SubscriberInfo("rec")]), random.Random(3))
    tid = c.new_id()
    spec = tv.TaskSpec.restartable(tv.TaskFn("job", _body), backoff=tv.BackoffPolicy.constant(1.0))
    c.feed(fsm.AddTasks(c.ticket(), ((tid, spec),)))
    c.end(tid, fsm.EndKind.FAILED, "boom")
    return c, tid


def test_every_step_goes_through_one_stepper_with_the_contract_model_in_its_chain() -> None:
    c, _ = _core_with_a_failed_attempt()
    assert isinstance(c.core, fsm.Stepper)
    assert isinstance(c.core.checker, fsm.CheckerChain)
    kinds = [type(checker) for checker in c.core.checker.checkers]
    assert kinds == [fsm.InvariantChecker, type(c.model)]
    assert c.model.steps == c.core.steps == len(c.log) == 2
    assert c.events is c.model.registry.events
    assert c.in_flight is c.model.restarts.in_flight


def test_a_fork_steps_on_its_own_and_both_runs_verify() -> None:
    c, tid = _core_with_a_failed_attempt()
    twin = c.fork(random.Random(3))
    twin.fire_next()  # the twin restarts and succeeds...
    twin.end(tid, fsm.EndKind.RETURNED)
    assert twin.outcomes[tid].kind is OK.COMPLETED
    assert tid not in c.outcomes  # ...the original has not moved
    assert c.state.tasks[tid].phase is fsm.Phase.BACKOFF
    assert len(c.log) == 2
    assert len(twin.log) == 4
    c.feed(fsm.Remove(c.ticket(), task_id=tid))  # the original is removed while it waits
    assert c.outcomes[tid].kind is OK.CANCELED
    for core in (c, twin):
        core.drain()
        core.verify()


def test_a_core_that_loses_a_finished_is_caught_and_the_driver_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = _stepper.step

    def forgetful(state: Any, inp: Any, now: int, rng: Any) -> Any:
        after, effects = real(state, inp, now, rng)
        return after, [e for e in effects if not isinstance(e, fsm.Finished)]

    c, tid = _core_with_a_failed_attempt()
    monkeypatch.setattr(_stepper, "step", forgetful)
    # check_step cannot see a missing effect; the contract model can (I1).
    with pytest.raises(fsm.InvariantViolation, match=r"^I1: no Finished in the step"):
        c.feed(fsm.Remove(c.ticket(), task_id=tid))
    assert c.failed
    with pytest.raises(fsm.InvariantViolation, match="a previous step"):
        c.tick()


def test_time_never_goes_backwards() -> None:
    c, _ = _core_with_a_failed_attempt()
    c.tick(5)
    with pytest.raises(ValueError, match="never goes backwards"):
        c.tick(4)
    assert not c.failed
