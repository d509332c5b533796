"""``_retry.RetryTable``: the simulator's inlined backoff is the core's, bit for bit (I4)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

import taskvisor as tv
from taskvisor.fsm._backoff import EMPTY_STREAK, base_ns, next_delay_ns
from taskvisor.sim._retry import RetryTable

J = tv.JitterPolicy

policies = st.builds(
    lambda first, extra, factor, jitter, floor: tv.BackoffPolicy(
        first=first, max=first + extra, factor=factor, jitter=jitter, floor=floor
    ),
    first=st.floats(0, 2),
    extra=st.floats(0, 50),
    factor=st.floats(1, 8),
    jitter=st.sampled_from(list(J)),
    floor=st.floats(0, 5),
)


@given(policy=policies, n=st.integers(0, 40), seed=st.integers(0, 2**32))
def test_table_delays_equal_next_delay_ns(policy: tv.BackoffPolicy, n: int, seed: int) -> None:
    table = RetryTable.build(policy)
    rng = random.Random(seed)
    streak = EMPTY_STREAK
    prev = policy.first_ns
    for failures in range(n):
        u = rng.random()
        want, streak = next_delay_ns(policy, streak, u)
        got, prev = table.next(failures, prev, u)
        assert got == want
        assert prev == streak.prev_ns


@given(policy=policies, n=st.integers(0, 10_000))
def test_table_bases_equal_base_ns(policy: tv.BackoffPolicy, n: int) -> None:
    assert RetryTable.build(policy).base(n) == base_ns(policy, n)


def test_table_stops_at_the_cap() -> None:
    table = RetryTable.of(tv.BackoffPolicy.exponential(0.01, max=2.0))
    assert table.saturated
    assert table.bases[-1] == 2_000_000_000
    assert len(table.bases) == 9  # 10 ms doubled 8 times passes 2 s


def test_draws_only_for_jittered_policies() -> None:
    assert not RetryTable.of(tv.BackoffPolicy.constant(1)).draws
    assert RetryTable.of(tv.BackoffPolicy(jitter=J.FULL)).draws
