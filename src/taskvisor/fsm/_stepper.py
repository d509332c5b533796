"""The one stepping loop: every driver steps the core through ``Stepper`` (architecture rule 8).

Owns: ``Stepper`` (the owned state, the random source, the clock's last reading, and one
optional checker) and the ``StepChecker`` protocol. The asyncio runtime, the simulator, the test
kit's checked core and the spec generator all feed inputs through ``Stepper.feed``, so a change
of contract is made in one place. Production runs with no checker and pays nothing for one;
checkers (``InvariantChecker`` here, the contract model in ``taskvisor.testing``) take a
snapshot before the step and judge the state and effects after it. Must not import I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from taskvisor.fsm._effects import Effect
from taskvisor.fsm._inputs import Input
from taskvisor.fsm._invariants import check_step
from taskvisor.fsm._supervisor import (
    CoreConfig,
    RandomSource,
    StateSnapshot,
    SupervisorState,
    next_deadline,
    step,
)

__all__ = ["CheckerChain", "InvariantChecker", "StepChecker", "Stepper"]


class StepChecker(Protocol):
    """Judges each step: ``before`` runs first (typically takes a snapshot), then ``after``."""

    def before(self, state: SupervisorState) -> object: ...

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None: ...


class Stepper:
    """Drives the core: one ``fsm.step`` per ``feed``, checked when a checker is given.

    Attributes:
        state: the core's state (owned; mutated by every ``feed``).
        rng: where jitter draws come from.
        checker: judges every step, or None (production).
        now: the time of the last step, integer ns; time never goes backwards.
        steps: how many steps were fed.
    """

    __slots__ = ("checker", "now", "rng", "state", "steps")

    def __init__(
        self,
        config: CoreConfig,
        rng: RandomSource,
        *,
        checker: StepChecker | None = None,
        now: int = 0,
    ) -> None:
        self.state = SupervisorState(config)
        self.rng = rng
        self.checker = checker
        self.now = now
        self.steps = 0

    def feed(self, inp: Input, now: int) -> list[Effect]:
        """Step the core with ``inp`` at ``now``; return the effects to carry out, in order.

        Raises:
            ValueError: ``now`` is before the previous step's time.
        """
        if now < self.now:
            raise ValueError(f"time went backwards: {now} ns after {self.now} ns")
        self.now = now
        self.steps += 1
        checker = self.checker
        if checker is None:
            return step(self.state, inp, now, self.rng)[1]
        prior = checker.before(self.state)
        effects = step(self.state, inp, now, self.rng)[1]
        checker.after(prior, self.state, inp, effects, now)
        return effects

    def next_deadline(self) -> int | None:
        """The earliest time at which a ``Tick`` has work to do, or None."""
        return next_deadline(self.state)


class InvariantChecker:
    """``fsm.check_step`` on every ``every``-th step (I1-I9 on the step and the new state)."""

    __slots__ = ("checks", "every", "seen")

    def __init__(self, every: int = 1) -> None:
        self.every = every
        self.seen = 0
        self.checks = 0

    def before(self, state: SupervisorState) -> StateSnapshot | None:
        self.seen += 1
        if self.every <= 0 or self.seen % self.every:
            return None
        return state.snapshot()

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None:
        if isinstance(prior, StateSnapshot):
            check_step(prior, state, effects, now)
            self.checks += 1


class CheckerChain:
    """Several checkers judging the same steps, in order."""

    __slots__ = ("checkers",)

    def __init__(self, *checkers: StepChecker) -> None:
        self.checkers = checkers

    def before(self, state: SupervisorState) -> object:
        return tuple(c.before(state) for c in self.checkers)

    def after(
        self,
        prior: object,
        state: SupervisorState,
        inp: Input,
        effects: Sequence[Effect],
        now: int,
    ) -> None:
        assert isinstance(prior, tuple)
        for c, p in zip(self.checkers, prior, strict=True):
            c.after(p, state, inp, effects, now)
