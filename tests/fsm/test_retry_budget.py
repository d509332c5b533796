"""Tests for ``taskvisor.fsm._retry_budget``: the token bucket's exact arithmetic (I9).

The bucket is checked against a model in exact rationals (``fractions.Fraction``): tokens
refill at ``per_second`` up to ``burst``; a take either finds a whole token or waits exactly
until its token has arrived. ``tests/fsm/test_shaping.py`` checks the budget inside the core.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import taskvisor as tv
from taskvisor.fsm import NS_PER_S, RetryBudget
from taskvisor.fsm._retry_budget import Bucket, refill, wait_ns

S = NS_PER_S


def test_a_budget_keeps_its_values_and_reprs_them() -> None:
    budget = tv.RetryBudget(10, 20)
    assert (budget.per_second, budget.burst) == (10.0, 20)
    assert repr(budget) == "RetryBudget(per_second=10.0, burst=20)"
    assert budget == RetryBudget(10.0, 20)
    assert budget != RetryBudget(10.0, 21)


@pytest.mark.parametrize(
    ("per_second", "unit", "gain"),
    [(10, 100_000_000, 1), (0.5, 2 * S, 1), (3e9, 1, 3), (0.1, None, None)],
)
def test_the_rate_is_exact_tokens_in_units_and_ns_in_gain(
    per_second: float, unit: int | None, gain: int | None
) -> None:
    budget = RetryBudget(per_second, 1)
    if unit is not None:
        assert (budget.unit, budget.gain) == (unit, gain)
    # Exactly per_second tokens per second, for any float: gain/unit tokens per ns.
    assert Fraction(budget.gain, budget.unit) * S == Fraction(per_second)
    assert math.gcd(budget.unit, budget.gain) == 1


@pytest.mark.parametrize(
    ("per_second", "burst", "field", "text"),
    [
        (0, 1, "per_second", "must be > 0"),
        (-1.0, 1, "per_second", "must be > 0"),
        (math.inf, 1, "per_second", "finite"),
        (math.nan, 1, "per_second", "finite"),
        (10**400, 1, "per_second", "finite"),
        (True, 1, "per_second", "expected a number"),
        ("10", 1, "per_second", "expected a number"),
        (1.0, 0, "burst", ">= 1"),
        (1.0, 2.5, "burst", "expected an int"),
        (1.0, True, "burst", "expected an int"),
    ],
)
def test_bad_budgets_are_refused_naming_the_field(
    per_second: object, burst: object, field: str, text: str
) -> None:
    with pytest.raises(tv.ConfigError, match=rf"RetryBudget\.{field}.*{text}"):
        RetryBudget(per_second, burst)  # type: ignore[arg-type]


def test_refill_adds_gain_per_ns_and_stops_at_the_cap() -> None:
    assert refill(-5, 10, 12, 2, 100) == -1
    assert refill(90, 0, 1000, 1, 100) == 100
    assert refill(100, 0, 0, 1, 100) == 100


def test_wait_is_zero_with_a_token_and_the_first_ns_it_arrives_without() -> None:
    assert wait_ns(0, 3) == 0
    assert wait_ns(7, 3) == 0
    assert wait_ns(-1, 3) == 1
    assert wait_ns(-3, 3) == 1
    assert wait_ns(-4, 3) == 2


def test_a_new_bucket_is_full_and_burst_takes_go_at_once() -> None:
    bucket = Bucket(RetryBudget(1.0, 3))
    assert bucket.tokens(123 * S) == 3.0
    assert [bucket.take(5 * S) for _ in range(3)] == [0, 0, 0]
    # Empty: the next takes wait one second per token, each behind the one before.
    assert [bucket.take(5 * S) for _ in range(2)] == [1 * S, 2 * S]
    assert list(bucket.grants) == [6 * S, 7 * S]
    assert bucket.tokens(5 * S) == -2.0
    assert bucket.tokens(7 * S) == 0.0


def test_grants_that_have_passed_are_dropped_at_the_next_take() -> None:
    bucket = Bucket(RetryBudget(1.0, 1))
    bucket.take(0)
    assert bucket.take(0) == S
    assert bucket.take(S // 2) == S + S // 2
    assert list(bucket.grants) == [S, 2 * S]
    assert bucket.take(3 * S) == 0  # refilled by then; the past grants are forgotten
    assert list(bucket.grants) == []


def test_a_grant_due_at_the_time_of_a_take_is_dropped_by_it() -> None:
    # The restart granted at S has its token at S: by a take at S it has passed (rule 7: the
    # grants kept are only those still waiting).
    bucket = Bucket(RetryBudget(1.0, 1))
    bucket.take(0)
    assert bucket.take(0) == S
    assert bucket.take(S) == S
    assert bucket.snapshot() == (-bucket.budget.unit, S, (2 * S,))


def test_a_copy_steps_on_its_own_and_snapshots_compare() -> None:
    bucket = Bucket(RetryBudget(2.0, 1))
    bucket.take(0)
    copy = bucket.copy()
    assert copy.snapshot() == bucket.snapshot()
    copy.take(0)
    assert copy.snapshot() != bucket.snapshot()
    assert "waiting=1" in repr(copy)


@given(
    per_second=st.one_of(st.integers(1, 10**10), st.floats(1e-6, 1e10, allow_nan=False)),
    burst=st.integers(1, 5),
    gaps=st.lists(st.integers(0, 3 * S), min_size=1, max_size=30),
)
def test_takes_match_an_exact_rational_token_bucket(
    per_second: float, burst: int, gaps: list[int]
) -> None:
    """The model: tokens in Fractions; a take at t either finds >= 1 token, or is granted at
    the first ns at which the tokens owed to earlier takers and its own have arrived (I9)."""
    bucket = Bucket(RetryBudget(per_second, burst))
    rate = Fraction(per_second) / S  # tokens per ns
    tokens = Fraction(burst)  # may go negative: owed to waiting takers
    at = 0
    now = 0
    for gap in gaps:
        now += gap
        tokens = min(Fraction(burst), tokens + rate * (now - at))
        at = now
        tokens -= 1
        wait = bucket.take(now)
        if tokens >= 0:
            assert wait == 0
        else:
            assert wait == math.ceil(-tokens / rate)  # the first ns the token is there
            assert tokens + rate * wait >= 0 > tokens + rate * (wait - 1)
        assert Fraction(bucket.level, bucket.budget.unit) == tokens
        assert bucket.tokens(now) <= burst  # never above burst (I9)
