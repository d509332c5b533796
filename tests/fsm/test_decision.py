"""Tests for ``taskvisor.fsm._decision``: each pause the core schedules, and why.

The contract: docs/spec/api.md section 8.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import taskvisor as tv
from taskvisor.fsm import NS_PER_S, BackoffSource, Decision
from taskvisor.fsm._backoff import EMPTY_STREAK, RetryStreak, base_ns, next_delay_ns
from taskvisor.fsm._decision import (
    failure_pause,
    final_decision,
    interval_delay_ns,
    start_pause,
    success_pause,
)
from taskvisor.testing import strategies as tst

J = tv.JitterPolicy
S = NS_PER_S
units = st.floats(0.0, 1.0)


@given(policy=tst.backoff_policies(), failures=st.integers(0, 40), u=units)
def test_a_failure_pause_is_the_backoff_delay_and_names_its_base(
    policy: tv.BackoffPolicy, failures: int, u: float
) -> None:
    streak = RetryStreak(failures, None)
    delay, after, decision = failure_pause(policy, streak, u)
    assert (delay, after) == next_delay_ns(policy, streak, u)
    assert decision == Decision(
        failures,
        base_ns(policy, failures) / S,
        policy.jitter,
        BackoffSource.FAILURE,
        0.0,
        "backoff",
    )


@given(
    policy=tst.backoff_policies(),
    failures=st.integers(0, 40),
    retry_after=st.integers(0, 10**6 * S),
)
def test_a_retry_after_is_the_delay_raised_to_the_floor_never_capped(
    policy: tv.BackoffPolicy, failures: int, retry_after: int
) -> None:
    streak = RetryStreak(failures, 12345)
    delay, after, decision = failure_pause(policy, streak, 0.7, retry_after)
    assert delay == max(retry_after, policy.floor_ns)  # not capped by max
    assert after == RetryStreak(failures + 1, 12345)  # counts in the streak, keeps the memory
    assert decision.source is BackoffSource.RETRY_AFTER
    assert (decision.retry, decision.base, decision.jitter) == (failures, retry_after / S, J.NONE)
    assert decision.rule == "retry-after"


@given(interval=st.integers(0, 10**4 * S), jitter=st.floats(0.0, 1.0), u=units)
def test_an_interval_pause_stays_within_interval_times_one_plus_or_minus_jitter(
    interval: int, jitter: float, u: float
) -> None:
    policy = tv.RestartPolicy.always(interval / S, jitter)
    delay, decision = success_pause(policy, u)
    ns = policy.interval_ns
    assert ns * (1 - jitter) - 1 <= delay <= ns * (1 + jitter) + 1
    assert decision.source is BackoffSource.SUCCESS
    assert decision.rule == "interval"
    assert decision.jitter is (J.NONE if policy.spread_ns == 0 else None)


def test_interval_jitter_reaches_both_ends_of_its_range() -> None:
    assert interval_delay_ns(10 * S, 2 * S, 0.0) == 8 * S
    assert interval_delay_ns(10 * S, 2 * S, 1.0) == 12 * S
    assert interval_delay_ns(10 * S, 2 * S, 0.5) == 10 * S
    assert interval_delay_ns(10 * S, 0, 0.9) == 10 * S


@given(jitter=st.integers(0, 10**4 * S), u=units)
def test_a_start_pause_is_uniform_in_zero_to_start_jitter(jitter: int, u: float) -> None:
    delay, decision = start_pause(jitter, u)
    assert 0 <= delay <= jitter
    assert decision == Decision(0, jitter / S, J.FULL, BackoffSource.START, 0.0, "start jitter")


def test_a_final_decision_names_the_refused_retry_and_its_base() -> None:
    policy = tv.BackoffPolicy.exponential(1.0, max=30.0)
    assert final_decision(policy, 3, "retry limit") == Decision(
        2, 4.0, J.NONE, BackoffSource.FAILURE, 0.0, "retry limit"
    )
    after_success = final_decision(policy, 0, "completed", None)
    assert (after_success.retry, after_success.source) == (0, None)


def test_decisions_compare_by_type_and_fields() -> None:
    d = Decision(0, 1.0, J.NONE, BackoffSource.FAILURE, 0.0, "backoff")
    assert d == Decision(0, 1.0, J.NONE, BackoffSource.FAILURE, 0.0, "backoff")
    assert d != (0, 1.0, J.NONE, BackoffSource.FAILURE, 0.0, "backoff")
    assert hash(d) == hash(tuple(d))
    assert d._replace(rule="x").rule == "x"


@pytest.mark.parametrize(("jitter", "spread"), [(0.0, 0), (0.1, S), (1.0, 10 * S)])
def test_an_always_policy_rounds_its_spread_inwards(jitter: float, spread: int) -> None:
    assert tv.RestartPolicy.always(10.0, jitter).spread_ns == spread


def test_the_empty_streak_starts_at_retry_zero() -> None:
    _, _, decision = failure_pause(tv.BackoffPolicy.constant(2.0), EMPTY_STREAK, 0.0)
    assert (decision.retry, decision.base) == (0, 2.0)
