"""``fsm.Stepper``: the one stepping loop every driver feeds (architecture rule 8)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import AddTasks, CoreConfig, Effect, Input, SupervisorState, TaskId, TaskSpec

from .driver import Fixed, fn, s


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
    core.feed(fsm.Tick(), s(3))
    assert (core.now, core.steps) == (s(3), 2)


@pytest.mark.parametrize("checked", [False, True])
def test_jitter_is_drawn_from_the_steppers_random_source(checked: bool) -> None:
    rng = Fixed(0.5)
    checker = fsm.InvariantChecker() if checked else None
    core = fsm.Stepper(CoreConfig(), rng, checker=checker)
    assert core.rng is rng
    spec = TaskSpec.restartable(fn("x"), backoff=tv.BackoffPolicy(jitter=tv.JitterPolicy.FULL))
    core.feed(AddTasks(1, ((TaskId(1), spec),)), 0)
    core.feed(fsm.AttemptEnded(TaskId(1), 1, fsm.EndKind.FAILED), s(1))
    # FULL jitter: a uniform draw times the base delay (first = 0.2 s), so u = 0.5 gives 0.1 s.
    assert rng.draws == 1
    assert core.next_deadline() == s(1.1)


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
        self.calls.append(
            (self.label, "after", str(prior), type(inp).__name__, str(len(state.tasks)), str(now))
        )
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
        ("a", "after", "a-prior", "AddTasks", "1", "7"),
        ("b", "after", "b-prior", "AddTasks", "1", "7"),
    ]


def test_a_chain_refuses_priors_that_are_not_one_per_checker() -> None:
    # A prior from another chain would pair checkers with snapshots they never took.
    chain = fsm.CheckerChain(fsm.InvariantChecker(), fsm.InvariantChecker())
    state = SupervisorState(CoreConfig())
    with pytest.raises(ValueError, match="shorter"):
        chain.after((None,), state, fsm.Tick(), [], 0)


def test_the_invariant_checker_checks_every_step_by_default_at_the_steps_time() -> None:
    checker = fsm.InvariantChecker()
    core = fsm.Stepper(CoreConfig(), random.Random(0), checker=checker)
    # A start jitter sets a deadline; I4's check compares the start with it at the step's time.
    core.feed(AddTasks(1, ((TaskId(1), TaskSpec.once(fn("x"), start_jitter=10.0)),)), 0)
    deadline = core.next_deadline()
    assert deadline is not None
    effects = core.feed(fsm.Tick(), deadline)
    assert any(isinstance(e, fsm.StartAttempt) for e in effects)
    assert (checker.every, checker.seen, checker.checks) == (1, 2, 2)


@pytest.mark.parametrize(("every", "checks"), [(1, 4), (2, 2), (3, 1), (0, 0)])
def test_the_invariant_checker_checks_every_nth_step(every: int, checks: int) -> None:
    checker = fsm.InvariantChecker(every)
    core = fsm.Stepper(CoreConfig(), random.Random(0), checker=checker)
    for i in range(4):
        core.feed(AddTasks(i, ((TaskId(i + 1), TaskSpec.once(fn(f"t{i}"))),)), i)
    assert (checker.seen, checker.checks) == (4, checks)
