"""``fsm.Stepper``: the one stepping loop every driver feeds (architecture rule 8)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from taskvisor import fsm
from taskvisor.fsm import AddTasks, CoreConfig, Effect, Input, SupervisorState, TaskId, TaskSpec

from .driver import fn, s


def _add(name: str, **options: object) -> AddTasks:
    return AddTasks(1, ((TaskId(1), TaskSpec.once(fn(name), **options)),))  # type: ignore[arg-type]


def test_next_deadline_is_the_cores_earliest_timer_or_none() -> None:
    core = fsm.Stepper(CoreConfig(), random.Random(0))
    assert core.next_deadline() is None
    core.feed(_add("x", timeout=5.0), s(1))
    assert core.next_deadline() == s(6) == fsm.next_deadline(core.state)


def test_time_never_goes_backwards_and_every_feed_counts_a_step() -> None:
    core = fsm.Stepper(CoreConfig(), random.Random(0), now=s(2))
    assert (core.now, core.steps) == (s(2), 0)
    with pytest.raises(ValueError, match=f"time went backwards: {s(1)} ns after {s(2)} ns"):
        core.feed(_add("x"), s(1))
    assert (core.now, core.steps, len(core.state.tasks)) == (s(2), 0, 0)
    effects = core.feed(_add("x"), s(2))  # the same instant is allowed
    assert any(isinstance(e, fsm.StartAttempt) for e in effects)
    assert (core.now, core.steps) == (s(2), 1)


class _Recorder:
    """A checker that records what it is shown."""

    def __init__(self, label: str, calls: list[tuple[str, ...]]) -> None:
        self.label = label
        self.calls = calls

    def before(self, state: SupervisorState) -> object:
        self.calls.append((self.label, "before", str(len(state.tasks))))
        return f"{self.label}-prior"

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None:
        self.calls.append((self.label, "after", str(prior), str(len(state.tasks)), str(now)))
        assert effects  # the effects the step returned


def test_a_checker_sees_the_state_before_and_after_each_step_in_chain_order() -> None:
    calls: list[tuple[str, ...]] = []
    chain = fsm.CheckerChain(_Recorder("a", calls), _Recorder("b", calls))
    core = fsm.Stepper(CoreConfig(), random.Random(0), checker=chain)
    effects = core.feed(_add("x"), 7)
    assert effects
    assert calls == [
        ("a", "before", "0"),
        ("b", "before", "0"),
        ("a", "after", "a-prior", "1", "7"),
        ("b", "after", "b-prior", "1", "7"),
    ]


@pytest.mark.parametrize(("every", "checks"), [(1, 4), (2, 2), (3, 1), (0, 0)])
def test_the_invariant_checker_checks_every_nth_step(every: int, checks: int) -> None:
    checker = fsm.InvariantChecker(every)
    core = fsm.Stepper(CoreConfig(), random.Random(0), checker=checker)
    for i in range(4):
        core.feed(AddTasks(i, ((TaskId(i + 1), TaskSpec.once(fn(f"t{i}"))),)), i)
    assert (checker.seen, checker.checks) == (4, checks)
