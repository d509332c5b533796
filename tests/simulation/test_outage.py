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
