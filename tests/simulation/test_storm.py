"""``supervisor``: a seeded storm against the full core, checked against I1-I8."""

from __future__ import annotations

import random
from typing import Any

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import _stepper
from taskvisor.sim import RunSeeds, simulate

POLICY = tv.BackoffPolicy(0.05, 2.0)


def test_a_small_storm_passes_every_check_and_replays_identically() -> None:
    m = simulate("supervisor", POLICY, {"tasks": 400, "rate": 200}).metrics
    assert m["tasks"] > 300
    assert m["rejected"] > 0  # duplicates, busy slots, late adds after shutdown
    assert m["checks"] > 0
    # The slow subscriber overflows; every drop of a task event is reported (I5).
    assert m["slow_high_water"] == 64
    assert m["slow_dropped"] > 0
    assert m["overflow_events"] > 0
    assert m["fast_dropped"] == 0
    assert m["shutdown_time"] <= 1.0 + 0.5  # grace + force_wait (I7)


def test_queue_capacities_bound_the_high_water_marks() -> None:
    m = simulate(
        "supervisor", POLICY, {"tasks": 300, "fast_capacity": 8, "slow_capacity": 4}
    ).metrics
    assert m["fast_high_water"] <= 8
    assert m["slow_high_water"] == 4
    assert m["fast_dropped"] > 0


def test_same_seed_same_storm() -> None:
    params = {"tasks": 200, "replay": "no"}
    assert simulate("supervisor", POLICY, params, seed=5) == simulate(
        "supervisor", POLICY, params, seed=5
    )


def test_a_core_that_breaks_an_invariant_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _stepper.step
    calls = {"n": 0}

    def leaky(state: Any, inp: Any, now: int, rng: Any) -> Any:
        after, effects = real(state, inp, now, rng)
        calls["n"] += 1
        if calls["n"] == 50:  # a permit goes missing (I3)
            after.running += 1
        return after, effects

    monkeypatch.setattr(_stepper, "step", leaky)
    with pytest.raises(fsm.InvariantViolation, match="I3"):
        simulate("supervisor", POLICY, {"tasks": 100, "replay": "no"})


def test_a_nondeterministic_world_fails_the_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = iter(range(1000))
    monkeypatch.setattr(RunSeeds, "world_rng", lambda self: random.Random(next(fresh)))
    with pytest.raises(fsm.InvariantViolation, match="I8"):
        simulate("supervisor", POLICY, {"tasks": 100})


@pytest.mark.slow
def test_a_storm_of_a_hundred_thousand_tasks_keeps_every_invariant() -> None:
    m = simulate("supervisor", POLICY, {"tasks": 100_000, "rate": 2000}).metrics
    assert m["tasks"] > 80_000
    assert m["slow_dropped"] > 0
