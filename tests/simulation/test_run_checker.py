"""``_checks.RunChecker``: the one checker of long simulated runs (storm and scale tests)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import _stepper
from taskvisor.sim._checks import RunChecker
from taskvisor.sim._engine import CoreDriver

MS = 1_000_000


async def _body(ctx: object) -> None:  # never run: the core only carries the task
    return None


def _world(d: CoreDriver, effects: Sequence[fsm.Effect]) -> None:
    """Attempts fail 1 ms after they start; a cancelled one ends at once."""
    for e in effects:
        if isinstance(e, fsm.StartAttempt):
            d.at(d.now + MS, fsm.AttemptEnded(e.task_id, e.attempt, fsm.EndKind.FAILED, "x"))
        elif isinstance(e, fsm.RequestCancel):
            d.at(d.now, fsm.AttemptEnded(e.task_id, e.attempt, fsm.EndKind.CANCELED))


def _run(
    n: int, checker_kw: dict[str, int], *, capacity: int = 1024
) -> tuple[CoreDriver, RunChecker]:
    config = fsm.CoreConfig(1.0, subscribers=[fsm.SubscriberInfo("slow", capacity)])
    d = CoreDriver(config, random.Random(0), _world)
    checker = RunChecker(config, **checker_kw).attach(d)
    backoff = tv.BackoffPolicy.constant(0.01)
    specs = tuple(
        (fsm.TaskId(i), tv.TaskSpec(tv.TaskFn(f"t{i}", _body), backoff=backoff, max_retries=3))
        for i in range(1, n + 1)
    )
    d.at(0, fsm.AddTasks(1, specs))
    d.call_at(20 * MS, lambda d: d.at(d.now, fsm.Shutdown()))
    checker.run(d)
    return d, checker


def test_a_small_run_gets_the_full_check_on_every_step() -> None:
    d, checker = _run(5, {})
    assert checker.checks == d.steps > 10
    assert checker.added == checker.removed == 5
    assert set(checker.ceilings.values()) == {0.01}


def test_beyond_small_the_full_check_is_sampled_by_live_tasks() -> None:
    d, checker = _run(40, {"small": 10, "per": 1})
    assert 0 < checker.checks < d.steps
    d, fixed = _run(40, {"every": 7})
    assert fixed.checks == d.steps // 7


def test_every_drop_is_counted_and_each_overflow_episode_reported() -> None:
    d, checker = _run(20, {}, capacity=4)  # nobody consumes: the queue fills at once
    assert checker.missed == list(d.state.bus.dropped)
    assert checker.missed[0] > 0
    assert checker.episodes == [1]


def _patched(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    real = _stepper.step

    def planted(state: Any, inp: Any, now: int, rng: Any) -> Any:
        after, effects = real(state, inp, now, rng)
        return after, change(after, effects)

    monkeypatch.setattr(_stepper, "step", planted)


def test_an_unreported_overflow_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def hide(after: Any, effects: list[fsm.Effect]) -> list[fsm.Effect]:
        return [
            e
            for e in effects
            if not (
                isinstance(e, fsm.Publish) and e.event.kind is fsm.EventKind.SUBSCRIBER_OVERFLOW
            )
        ]

    _patched(monkeypatch, hide)
    with pytest.raises(fsm.InvariantViolation, match=r"^I5: 1 overflow episodes began, 0"):
        _run(20, {"every": 10**9}, capacity=4)


def test_a_task_finished_twice_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def twice(after: Any, effects: list[fsm.Effect]) -> list[fsm.Effect]:
        return effects + [e for e in effects if isinstance(e, fsm.Finished)]

    _patched(monkeypatch, twice)
    with pytest.raises(fsm.InvariantViolation, match=r"^I1: .* finished twice"):
        _run(3, {"every": 10**9})


def test_a_restart_before_its_published_deadline_is_caught_between_full_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The task's deadline says 1 ns later than the timer the core fires: the restart is early.
    def later(after: Any, effects: list[fsm.Effect]) -> list[fsm.Effect]:
        for e in effects:
            if isinstance(e, fsm.Publish) and e.event.kind is fsm.EventKind.BACKOFF_SCHEDULED:
                assert e.event.task_id is not None
                after.tasks[e.event.task_id].deadline += 1
        return effects

    _patched(monkeypatch, later)
    with pytest.raises(
        fsm.InvariantViolation, match=r"^I4: t1 restarted at .* before its deadline"
    ):
        _run(3, {"every": 10**9})
