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


def test_task_intensity_ends_a_task_at_the_restart_beyond_it() -> None:
    # Intensity(2, 60): fails at 1 and 3 (restarts), the failure at 5 would be a third
    # restart within 60 s: the task ends FAILED there, with no retry limit at all.
    m = _run(
        tv.BackoffPolicy.constant(1.0),
        tasks=2,
        p=1.0,
        max_retries=None,
        run_dist="fixed",
        intensity="2/60",
    )
    assert m["attempts"] == 2 * 3
    assert m["exhausted"] == 1.0
    assert m["exhaust_time"] == pytest.approx(5.0)
    assert m["escalated"] == 0.0


def test_task_intensity_forgets_restarts_older_than_its_window() -> None:
    # Intensity(1, 1.5) and a failure every 2 s: the previous restart has always left the
    # window, so the task restarts forever (0, 2, 4, 6, 8, 10).
    m = _run(
        tv.BackoffPolicy.constant(1.0),
        tasks=1,
        p=1.0,
        max_retries=None,
        run_dist="fixed",
        intensity=tv.Intensity(1, 1.5),
        horizon=10.0,
    )
    assert m["attempts"] == 6
    assert m["exhausted"] == 0.0


def test_supervisor_intensity_shuts_everything_down_once() -> None:
    # Three tasks fail together at 1 s; Intensity(2, 60) allows two restarts: the third
    # failure is not restarted, the supervisor shuts down, the two in backoff end at once.
    m = _run(
        tv.BackoffPolicy.constant(1.0),
        tasks=3,
        p=1.0,
        max_retries=None,
        run_dist="fixed",
        supervisor_intensity="2/60",
    )
    assert m["escalated"] == 1.0
    assert m["escalate_time"] == pytest.approx(1.0)
    assert m["attempts"] == 3
    assert m["exhausted"] == pytest.approx(1 / 3)  # the one whose restart was refused


def test_attempts_running_at_the_escalation_stop_there() -> None:
    # Exponential run times: some attempts are still running when the supervisor shuts down;
    # they are asked to stop and stop at once, so no task runs after the escalation.
    m = _run(tv.BackoffPolicy(), tasks=20, p=1.0, max_retries=None, supervisor_intensity="5/60")
    assert m["escalated"] == 1.0
    assert 0 < m["uptime"] * 600.0 <= m["escalate_time"]


@pytest.mark.parametrize(("reset_after", "attempts"), [(5.0, 10), (None, 2)])
def test_long_attempts_reset_the_streak_only_with_reset_after(
    reset_after: float | None, attempts: int
) -> None:
    # Each attempt runs 10 s, then fails; max_retries=1. Runs of 10 s >= reset_after=5 each
    # start a new streak (starts at 0, 11, ..., 99); under the seed's rule the second failure
    # in a row ends the task.
    m = _run(
        tv.BackoffPolicy.constant(1.0),
        tasks=1,
        p=1.0,
        max_retries=1,
        run=10.0,
        run_dist="fixed",
        reset_after=reset_after,
        horizon=100.0,
    )
    assert m["attempts"] == attempts
    assert m["exhausted"] == (0.0 if reset_after else 1.0)
