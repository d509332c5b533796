"""The whole core under random inputs: ``taskvisor.testing.SupervisorMachine`` as shipped."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from planted import RESET_NEEDS_TWICE, plant

from taskvisor.fsm import EventKind, InvariantViolation
from taskvisor.testing import SupervisorMachine

TestSupervisorMachine = SupervisorMachine.TestCase
TestSupervisorMachine.settings = settings(settings.default, stateful_step_count=50)

#: A short deterministic run (no shrinking: a failure is reported as found).
SHORT = settings(
    max_examples=100,
    stateful_step_count=50,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.generate,),
)


class _CountingResets(SupervisorMachine):
    """Counts the restarts the core decided by the healthy-run reset (docs/crash-loops.md)."""

    resets: ClassVar[list[int]] = [0]

    def teardown(self) -> None:
        if self._core is not None:
            self.resets[0] += sum(
                1
                for ev in self._core.events
                if ev.kind is EventKind.BACKOFF_SCHEDULED
                and ev.decision is not None
                and ev.decision.rule == "healthy-run reset"
            )
        super().teardown()


def test_the_machine_reaches_the_healthy_run_reset() -> None:
    # Before fail_after_a_healthy_run, virtual time moved by seconds per step and a run never
    # outlived reset_after in a failure streak: 0 resets in 200 examples.
    _CountingResets.resets[0] = 0
    run_state_machine_as_test(_CountingResets, settings=SHORT)
    assert _CountingResets.resets[0] >= 5


def test_a_reset_that_needs_twice_reset_after_is_caught_by_the_machine() -> None:
    with plant(RESET_NEEDS_TWICE), pytest.raises(InvariantViolation, match=r"^I4: "):
        run_state_machine_as_test(SupervisorMachine, settings=SHORT)
