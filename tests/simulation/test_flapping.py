"""``flapping``: a dependency that goes down and comes back, again and again."""

from __future__ import annotations

import pytest

import taskvisor as tv
from taskvisor.sim import simulate


def test_one_task_availability_by_hand() -> None:
    # Up 0-10, down 10-15, up 15-25, down 25-30. Connected 0-10 and from 15 (the retry at 15
    # finds it back at once) to 25; retries every second while down, failing at once.
    m = simulate(
        "flapping",
        tv.BackoffPolicy.constant(1.0),
        {"tasks": 1, "up": 10.0, "down": 5.0, "latency": 0.0, "horizon": 30.0},
    ).metrics
    assert m["availability"] == pytest.approx(20 / 30)
    assert m["attempts"] == 5 + 4  # 11..15, then 26..29
    assert m["reconnect_p50"] == 0
    assert m["missed"] == 0


def test_the_streak_carries_over_flaps_as_in_the_core() -> None:
    # A connection that held and then broke is a failure in the same streak (the core resets
    # a streak only on a successful *return*), so the second outage waits longer.
    m = simulate(
        "flapping",
        tv.BackoffPolicy.exponential(1.0, max=100.0),
        {"tasks": 1, "up": 10.0, "down": 2.5, "latency": 0.0, "horizon": 40.0},
    ).metrics
    # Down at 10 (failure 1, wait 1 s): retry at 11 fails (failure 2, wait 2 s): retry at 13
    # connects, 0.5 s after the return at 12.5. Down at 22.5 is failure 3 of the same streak,
    # so it waits 4 s: the retry at 26.5 connects 1.5 s after the return at 25. Down at 35:
    # failure 4 waits 8 s, past the horizon.
    assert m["attempts"] == 3
    assert m["reconnect_p50"] == pytest.approx(0.5)
    assert m["reconnect_p99"] == pytest.approx(1.5)


def test_an_up_period_can_be_missed_entirely() -> None:
    m = simulate(
        "flapping",
        tv.BackoffPolicy.constant(20.0),
        {"tasks": 2, "up": 5.0, "down": 5.0, "latency": 0.0, "horizon": 20.0},
    ).metrics
    assert m["missed"] == 1.0  # up 10-15: both tasks are still waiting out 20 s
    assert m["availability"] == pytest.approx(5 / 20)


def test_random_periods_are_reproducible() -> None:
    params = {"tasks": 20, "periods": "random", "horizon": 600.0}
    a = simulate("flapping", tv.BackoffPolicy(), params, seed=3)
    assert a == simulate("flapping", tv.BackoffPolicy(), params, seed=3)
    assert a != simulate("flapping", tv.BackoffPolicy(), params, seed=4)
