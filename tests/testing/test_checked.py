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
S = fsm.NS_PER_S


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


def test_a_fork_shares_no_model_state_at_any_depth() -> None:
    # The model keeps each task's intensity window as a list inside a dict: a restart in one
    # branch must not enter the other's window, or that one would judge its own restart refused.
    guarded = tv.TaskSpec.restartable(
        tv.TaskFn("guarded", _body),
        backoff=tv.BackoffPolicy.constant(1.0),
        intensity=tv.Intensity(1, 10.0),  # at most one restart after failures within 10 s
    )
    c = CheckedCore(fsm.CoreConfig(1.0), random.Random(3))
    tid = c.new_id()
    c.feed(fsm.AddTasks(c.ticket(), ((tid, guarded),)))
    c.end(tid, fsm.EndKind.FAILED, "boom")  # restart 1, at 0 s
    c.fire_next()  # attempt 2 runs from 1 s
    windows = {k: list(v) for k, v in c.model.controls.windows.items()}
    twin = c.fork()
    for at in (20, 40):  # the twin restarts twice more, each allowed (10 s apart or more)
        twin.feed(fsm.AttemptEnded(tid, twin.in_flight[tid], fsm.EndKind.FAILED, "boom"), at * S)
        twin.fire_next()
    assert twin.model.controls.windows[tid] == [0, 20 * S, 40 * S]
    assert c.model.controls.windows == windows == {tid: [0]}
    assert c.model.controls.window == [0]  # the supervisor-wide window, too
    assert c.in_flight == {tid: 2}
    # The original's own restart at 15 s is allowed (0 s is out of its window); with the twin's
    # restarts leaked into its window the model would call it refused.
    c.feed(fsm.AttemptEnded(tid, 2, fsm.EndKind.FAILED, "boom"), 15 * S)
    assert c.state.tasks[tid].phase is fsm.Phase.BACKOFF
    assert tid not in c.outcomes
    for core in (c, twin):
        core.drain()
        core.verify()


def test_a_forked_contract_model_shares_no_container_with_its_parent() -> None:
    c, tid = _core_with_a_failed_attempt()
    twin = c.model.fork()
    assert twin.controls is not c.model.controls
    assert twin.controls.m is twin  # the parts point at their own model
    assert twin.registry.policies == c.model.registry.policies
    assert twin.registry.policies is not c.model.registry.policies
    twin.registry.events.clear()
    twin.controls.streak_start[tid] = -1
    assert c.events  # the parent's history is its own
    assert c.model.controls.streak_start[tid] == 0
    assert twin.config is c.model.config  # immutable values are shared


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
