"""``outage``: a dependency down for a while, then admitting a limited rate."""

from __future__ import annotations

import pytest

import taskvisor as tv
from taskvisor.sim import simulate


def _run(policy: tv.BackoffPolicy, **params: object) -> dict[str, float]:
    return simulate("outage", policy, params).metrics


def test_one_task_retries_until_the_dependency_is_back() -> None:
    # Fails at 0; retries start at 1.0, 2.1, 3.2, 4.3 (each fails 0.1 s later), 5.4 (back).
    m = _run(tv.BackoffPolicy.constant(1.0), tasks=1, down=5.0, latency=0.1)
    assert m["attempts"] == 5
    assert m["recovery"] == pytest.approx(0.4)
    assert m["recovery_p50"] == pytest.approx(0.4)
    assert m["wasted"] == 0
    assert m["unrecovered"] == 0


def test_capacity_admits_a_fixed_number_per_second() -> None:
    # Ten tasks in lockstep retry every second from t = 1; the dependency is back at 0.5 and
    # admits 3 per second: 3 + 3 + 3 + 1 tasks recover at t = 1, 2, 3, 4.
    m = _run(tv.BackoffPolicy.constant(1.0), tasks=10, down=0.5, capacity=3, latency=0.0)
    assert m["attempts"] == 10 + 7 + 4 + 1
    assert m["wasted"] == 7 + 4 + 1
    assert m["recovery"] == pytest.approx(3.5)
    assert m["recovery_p50"] == pytest.approx(1.5)
    assert m["peak_rate"] == 10
    assert m["return_peak"] == 10  # all ten at t = 1.0, in the first second after the return


def test_tasks_still_failing_at_the_horizon_are_unrecovered() -> None:
    m = _run(tv.BackoffPolicy.constant(1.0), tasks=4, down=100.0, horizon=10.0, latency=0.0)
    assert m["unrecovered"] == 4
    assert m["attempts"] == 4 * 10


def test_jitter_spreads_the_herd_and_shortens_recovery() -> None:
    params = {"tasks": 300, "down": 30.0, "capacity": 30}
    plain = _run(tv.BackoffPolicy(0.2, 10.0, jitter=tv.JitterPolicy.NONE), **params)
    full = _run(tv.BackoffPolicy(0.2, 10.0, jitter=tv.JitterPolicy.FULL), **params)
    assert plain["wasted"] > 0
    assert full["recovery"] < plain["recovery"]
    assert full["wasted"] < plain["wasted"]


def test_series_count_every_attempt() -> None:
    r = simulate("outage", tv.BackoffPolicy(), {"tasks": 50, "down": 10.0}, series=True)
    assert sum(r.rate) == r.metrics["attempts"]
    assert len(r.durations) == 50


def test_a_retry_budget_caps_the_load_on_the_failing_dependency() -> None:
    params = {"tasks": 500, "down": 30.0, "capacity": 50}
    free = _run(tv.BackoffPolicy(), **params)
    capped = _run(tv.BackoffPolicy(), retry_budget=50.0, burst=10, **params)
    # Restarts take a token each: at most burst + rate in any one second (first starts are
    # free, and here they all failed at t = 0 before the outage: none counted).
    assert capped["peak_rate"] <= 10 + 50
    assert free["peak_rate"] > 10 * capped["peak_rate"]
    assert capped["attempts"] < free["attempts"]
    assert capped["throttled"] > 0
    assert capped["unrecovered"] == 0  # waits, never drops (I9)
    assert free["throttled"] == 0


def test_a_deploy_without_start_jitter_is_a_herd_and_with_it_is_not() -> None:
    params = {"tasks": 300, "down": 0.0, "capacity": 30}
    herd = _run(tv.BackoffPolicy(), start_jitter=0.0, **params)
    spread = _run(tv.BackoffPolicy(), start_jitter=12.0, **params)
    assert herd["peak_rate"] >= 300  # every first attempt in the first second
    assert herd["wasted"] > 0
    assert spread["peak_rate"] < 60
    assert spread["wasted"] < herd["wasted"] / 10
    assert spread["attempts"] < herd["attempts"]


def test_with_start_jitter_the_first_attempt_of_each_task_reaches_the_dependency() -> None:
    m = _run(tv.BackoffPolicy.constant(1.0), tasks=5, down=0.0, start_jitter=2.0)
    assert m["attempts"] == 5  # capacity 100: every first attempt connects
    assert m["recovery"] <= 2.0


def test_each_task_draws_the_same_numbers_under_every_policy() -> None:
    # Common random numbers: task i's k-th draw does not depend on the policy, so two FULL
    # policies with the same base give delays in the same proportion, task by task.
    a = simulate(
        "outage",
        tv.BackoffPolicy.constant(1.0, jitter=tv.JitterPolicy.FULL),
        {"tasks": 30, "down": 0.0, "start_jitter": 10.0},
        series=True,
    )
    b = simulate(
        "outage",
        tv.BackoffPolicy.constant(2.0, jitter=tv.JitterPolicy.FULL),
        {"tasks": 30, "down": 0.0, "start_jitter": 10.0},
        series=True,
    )
    assert a.durations == b.durations  # the first draws (start jitter) are the same
