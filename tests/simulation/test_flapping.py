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
    assert m["backoff"] == pytest.approx(10 / 30)  # waiting 10-15 and 25-30
    assert m["exhausted"] == 0


def test_the_streak_carries_over_flaps_shorter_than_reset_after() -> None:
    # A connection that held less than reset_after (default 300 s) and then broke is a failure
    # in the same streak, so the second outage waits longer.
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


def test_a_connection_that_held_reset_after_starts_each_outage_afresh() -> None:
    # The same world with reset_after=5: each connection held 9.5-10 s, so every drop is
    # failure 1 of a new streak: wait 1 s, fail, wait 2 s, connect 0.5 s after the return.
    m = simulate(
        "flapping",
        tv.BackoffPolicy.exponential(1.0, max=100.0),
        {"tasks": 1, "up": 10.0, "down": 2.5, "latency": 0.0, "horizon": 40.0, "reset_after": 5.0},
    ).metrics
    assert m["attempts"] == 6  # 11, 13, then 23.5, 25.5, then 36, 38
    assert m["reconnect_p50"] == pytest.approx(0.5)
    assert m["reconnect_p99"] == pytest.approx(0.5)


DAY = 86_400.0


@pytest.mark.parametrize(("reset_after", "exhausted"), [(300.0, 0.0), (None, 1.0)])
def test_a_daily_drop_exhausts_on_day_four_only_under_the_seeds_rule(
    reset_after: float | None, exhausted: float
) -> None:
    # The trial: a connection that drops once a day and reconnects at once, with
    # max_retries=3. With the default healthy-run reset each drop is retry 0; under the seed's
    # rule (reset_after=None) the fourth drop, on day 4, is the fourth failure in a row.
    m = simulate(
        "flapping",
        tv.BackoffPolicy(),
        {
            "tasks": 5,
            "up": DAY,
            "down": 0.1,
            "max_retries": 3,
            "reset_after": reset_after,
            "horizon": 30 * DAY,
        },
    ).metrics
    assert m["exhausted"] == exhausted
    if exhausted:
        assert m["exhaust_time"] == pytest.approx(4 * DAY + 3 * 0.1)  # the fourth drop
        assert m["availability"] == pytest.approx(4 / 30, abs=1e-6)
    else:
        assert m["availability"] > 0.9999
        assert m["attempts"] == 5 * 29  # one reconnection per task after each of 29 drops


def test_max_retries_ends_the_tasks_of_a_flapping_dependency_whatever_reset_after() -> None:
    # Up 30 s at a time: shorter than reset_after=300, so the streaks grow across flaps and
    # max_retries ends every task, with or without the reset; reset_after=10 resets every flap.
    def run(reset_after: float | None) -> dict[str, float]:
        params = {"tasks": 10, "max_retries": 10, "reset_after": reset_after, "horizon": 3600.0}
        return simulate("flapping", tv.BackoffPolicy(), params).metrics

    assert run(300.0)["exhausted"] == run(None)["exhausted"] == 1.0
    short = run(10.0)
    assert short["exhausted"] == 0.0
    assert short["attempts"] > 4 * run(300.0)["attempts"]
