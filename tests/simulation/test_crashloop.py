"""``crashloop``: the supervisor machine itself decides restarts, budgets and cadence."""

from __future__ import annotations

import math

import pytest

import taskvisor as tv
from taskvisor.sim import simulate


def _run(policy: tv.BackoffPolicy, **params: object) -> dict[str, float]:
    return simulate("crashloop", policy, params).metrics


@pytest.mark.parametrize("retries", [1, 3, 7])
def test_always_failing_task_makes_exactly_max_retries_plus_one_attempts(retries: int) -> None:
    m = _run(tv.BackoffPolicy(0.01, 0.1), tasks=3, p=1.0, max_retries=retries)
    assert m["attempts"] == 3 * (retries + 1)
    assert m["failures"] == m["attempts"]
    assert m["exhausted"] == 1.0
    assert m["completed"] == 0.0


def test_exhaustion_time_is_the_sum_of_runs_and_delays() -> None:
    # run 1 s fixed, backoff 1 s constant, 2 retries: fails at 1, 3, 5 -> gives up at 5 s.
    m = _run(tv.BackoffPolicy.constant(1.0), tasks=1, p=1.0, max_retries=2, run_dist="fixed")
    assert m["exhaust_time"] == pytest.approx(5.0)
    assert m["start_gap"] == pytest.approx(2.0)


def test_never_failing_task_completes_after_one_attempt() -> None:
    m = _run(tv.BackoffPolicy(), tasks=5, p=0.0)
    assert m["attempts"] == 5
    assert m["completed"] == 1.0
    assert math.isnan(m["exhaust_time"])


def test_always_restart_keeps_the_interval_cadence() -> None:
    m = _run(
        tv.BackoffPolicy(),
        tasks=1,
        p=0.0,
        restart="always",
        interval=5.0,
        run=1.0,
        run_dist="fixed",
        horizon=60.0,
    )
    assert m["start_gap"] == pytest.approx(6.0)
    assert m["attempts"] == 11  # starts at 0, 6, ..., 60
    assert m["uptime"] == pytest.approx(10 / 60)


def test_unlimited_retries_never_exhaust() -> None:
    m = _run(
        tv.BackoffPolicy.constant(1.0),
        tasks=1,
        p=1.0,
        max_retries=None,
        run_dist="fixed",
        horizon=10.0,
    )
    assert m["attempts"] == 6  # 0, 2, 4, 6, 8, 10
    assert m["exhausted"] == 0.0
