"""Tests for ``taskvisor.fsm._backoff``: exact base delays, jitter ranges and the retry streak.

Every formula of docs/spec/api.md section 3 is checked as a Hypothesis property against exact
``fractions.Fraction`` arithmetic, and the jitter distributions statistically with fixed seeds.
"""

from __future__ import annotations

import math
import random
import statistics
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, JitterPolicy, RestartPolicy, TaskSpec
from taskvisor.fsm import BackoffSource, EndKind, EventKind
from taskvisor.fsm._backoff import (
    EMPTY_STREAK,
    RetryStreak,
    base_ns,
    jitter_ns,
    needs_draw,
    next_delay_ns,
    scale,
)

from .driver import Driver, fn

J = JitterPolicy

# A draw as random.random() makes them: a multiple of 2**-53 in [0, 1).
draws = st.integers(min_value=0, max_value=2**53 - 1).map(lambda k: k / 2**53)
# Any float in [0, 1], for the functions' full documented domain.
unit = st.one_of(draws, st.just(1.0), st.floats(min_value=0.0, max_value=1.0))
factors = st.one_of(
    st.floats(min_value=1.0, max_value=64.0, allow_nan=False),
    st.integers(min_value=1, max_value=64).map(float),
    st.sampled_from([1.0, 1.0 + 2**-52, 1.5, 2.0, 10.0]),
)


ANY_JITTER = st.sampled_from(J)


@st.composite
def policies(
    draw: st.DrawFn,
    jitter: st.SearchStrategy[JitterPolicy] = ANY_JITTER,
    max_ns: int = 10**13,
) -> BackoffPolicy:
    """Policies with durations up to ``max_ns`` (default: about 2.8 hours, ns-exact)."""
    first = draw(st.integers(min_value=0, max_value=max_ns))
    cap = draw(st.integers(min_value=first, max_value=max_ns))
    floor = draw(st.one_of(st.just(0), st.integers(min_value=0, max_value=max_ns)))
    p = BackoffPolicy(
        first=first / 1e9,
        max=cap / 1e9,
        factor=draw(factors),
        jitter=draw(jitter),
        floor=floor / 1e9,
    )
    if max_ns < 2**52:  # float seconds carry every nanosecond below 2**52 ns exactly
        assert (p.first_ns, p.max_ns, p.floor_ns) == (first, cap, floor)
    return p


def exact_base(p: BackoffPolicy, n: int) -> Fraction:
    return min(Fraction(p.max_ns), p.first_ns * Fraction(p.factor) ** n)


# -- scale -------------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**30), draws)
def test_scale_is_exact_floor_for_random_draws(span: int, u: float) -> None:
    assert scale(span, u) == math.floor(span * Fraction(u))


@given(st.integers(min_value=0, max_value=10**30), unit)
def test_scale_stays_within_span_for_any_unit_float(span: int, u: float) -> None:
    result = scale(span, u)
    assert 0 <= result <= span
    assert result <= span * Fraction(u)
    assert span * Fraction(u) - result < 1 + Fraction(span, 2**53)


def test_scale_ends_are_exact() -> None:
    assert scale(12345, 0.0) == 0
    assert scale(12345, 1.0) == 12345
    assert scale(10, 0.5) == 5


@pytest.mark.parametrize(("span", "u"), [(-1, 0.5), (1, -0.1), (1, 1.5), (1, float("nan"))])
def test_scale_rejects_values_outside_its_domain(span: int, u: float) -> None:
    with pytest.raises(AssertionError):
        scale(span, u)


# -- base(n) = min(max, first * factor**n) --------------------------------------------------------


@given(policies(), st.integers(min_value=0, max_value=300))
def test_base_is_the_exact_formula_within_one_ns(p: BackoffPolicy, n: int) -> None:
    exact = exact_base(p, n)
    got = base_ns(p, n)
    # The fixed-point power only truncates: never above the exact value, at most 1 ns below
    # its floor.
    assert got <= exact
    assert math.floor(exact) - 1 <= got
    assert p.first_ns <= got <= p.max_ns


@given(
    policies(),
    st.sampled_from([1.0, 1.5, 1.25, 2.0, 3.0, 10.0]),
    st.integers(min_value=0, max_value=100),
)
def test_base_is_exact_when_the_fixed_point_power_is(
    p: BackoffPolicy, factor: float, n: int
) -> None:
    # Dyadic factors with few fractional bits: factor**n fits in 128 fractional bits exactly.
    q = BackoffPolicy(first=p.first, max=p.max, factor=factor)
    assert base_ns(q, n) == math.floor(exact_base(q, n))


@given(policies(), st.integers(min_value=0, max_value=10**18))
def test_base_is_monotone_in_n(p: BackoffPolicy, n: int) -> None:
    assert base_ns(p, n) <= base_ns(p, n + 1)
    assert base_ns(p, n) <= base_ns(p, 2 * n + 7)


@given(policies(max_ns=10**18), st.integers(min_value=0, max_value=10**18))
def test_base_never_overflows_and_saturates_at_max(p: BackoffPolicy, n: int) -> None:
    got = base_ns(p, n)
    assert p.first_ns <= got <= p.max_ns
    if p.first_ns == 0 or p.factor == 1.0:
        assert got == p.first_ns
        return
    # Past the cap (with a margin for the float logarithms) the delay is exactly max.
    needed = math.log(p.max_ns / p.first_ns) / math.log(p.factor)
    if n > needed + 2:
        assert got == p.max_ns


def test_base_for_huge_n_is_max() -> None:
    p = BackoffPolicy(first=0.001, max=3600.0, factor=1.0 + 2**-40)
    for n in (10**15, 10**18, 2**200, 10**100):
        assert base_ns(p, n) == p.max_ns
    assert base_ns(BackoffPolicy(first=0.5, max=0.5), 10**18) == 500_000_000


def test_base_for_the_first_retries() -> None:
    p = BackoffPolicy.exponential(0.1, 2.0, 1.0)
    assert [base_ns(p, n) for n in range(6)] == [
        100_000_000,
        200_000_000,
        400_000_000,
        800_000_000,
        1_000_000_000,
        1_000_000_000,
    ]


def test_base_rejects_a_negative_index() -> None:
    with pytest.raises(ValueError, match="retry index"):
        base_ns(BackoffPolicy(), -1)


# -- jitter ranges ------------------------------------------------------------------------------


@given(policies(), st.integers(min_value=0, max_value=10**13), unit)
def test_jitter_ranges(p: BackoffPolicy, n: int, u: float) -> None:
    base = base_ns(p, n)
    prev = p.first_ns + n  # any previous delay >= first
    got = jitter_ns(p, base, prev, u)
    if p.jitter is J.NONE:
        assert got == base
    elif p.jitter is J.FULL:
        assert 0 <= got <= base
    elif p.jitter is J.EQUAL:
        assert base - base // 2 <= got <= base  # base/2 plus uniform in [0, base/2]
    else:
        assert p.first_ns <= got <= max(p.first_ns, min(p.max_ns, 3 * prev))


@given(policies(), st.integers(min_value=0, max_value=40))
def test_jitter_draw_ends_hit_the_range_ends(p: BackoffPolicy, n: int) -> None:
    base = base_ns(p, n)
    prev = base_ns(p, n) if p.first_ns else 0
    low = {J.NONE: base, J.FULL: 0, J.EQUAL: base - base // 2, J.DECORRELATED: p.first_ns}
    high = {
        J.NONE: base,
        J.FULL: base,
        J.EQUAL: base,
        J.DECORRELATED: max(p.first_ns, min(p.max_ns, 3 * prev)),
    }
    assert jitter_ns(p, base, prev, 0.0) == low[p.jitter]
    assert jitter_ns(p, base, prev, 1.0) == high[p.jitter]


@given(policies(), st.integers(min_value=0, max_value=40), unit, unit)
def test_jitter_is_monotone_in_the_draw(p: BackoffPolicy, n: int, u: float, v: float) -> None:
    base = base_ns(p, n)
    lo, hi = sorted((u, v))
    assert jitter_ns(p, base, p.first_ns, lo) <= jitter_ns(p, base, p.first_ns, hi)


@given(policies(st.just(J.DECORRELATED)), draws, st.integers(min_value=0, max_value=10**13))
def test_decorrelated_depends_on_the_previous_delay(p: BackoffPolicy, u: float, extra: int) -> None:
    smaller = p.first_ns
    larger = p.first_ns + extra
    assert jitter_ns(p, 0, smaller, u) <= jitter_ns(p, 0, larger, u)
    # It ignores base(n): only first, max and the previous delay matter.
    assert jitter_ns(p, 0, larger, u) == jitter_ns(p, p.max_ns, larger, u)


def test_decorrelated_spreads_wider_after_a_longer_delay() -> None:
    p = BackoffPolicy(first=1.0, max=1000.0, jitter=J.DECORRELATED)
    assert jitter_ns(p, 0, 1 * 10**9, 1.0) == 3 * 10**9
    assert jitter_ns(p, 0, 100 * 10**9, 1.0) == 300 * 10**9
    assert jitter_ns(p, 0, 500 * 10**9, 1.0) == 1000 * 10**9  # capped at max


def test_needs_draw_only_for_jittered_policies() -> None:
    assert not needs_draw(BackoffPolicy(jitter=J.NONE))
    assert all(needs_draw(BackoffPolicy(jitter=j)) for j in (J.FULL, J.EQUAL, J.DECORRELATED))


# -- next_delay_ns: floor, I4 and the streak ------------------------------------------------------


@given(policies(), st.integers(min_value=0, max_value=10**6), unit)
def test_next_delay_applies_the_floor_and_stays_within_the_ceiling(
    p: BackoffPolicy, failures: int, u: float
) -> None:
    prev = None if failures == 0 else p.first_ns + failures
    streak = RetryStreak(failures, prev)
    delay, after = next_delay_ns(p, streak, u)
    raw = jitter_ns(p, base_ns(p, failures), p.first_ns if prev is None else prev, u)
    assert delay == max(raw, p.floor_ns)
    assert 0 <= delay <= max(p.max_ns, p.floor_ns)  # I4
    assert delay <= p.ceiling_ns
    assert after == RetryStreak(failures + 1, raw)  # DECORRELATED remembers the pre-floor delay


@given(policies(st.just(J.DECORRELATED)), st.lists(draws, min_size=1, max_size=30))
def test_decorrelated_chain_starts_from_first(p: BackoffPolicy, us: list[float]) -> None:
    streak = EMPTY_STREAK
    prev = p.first_ns  # d(-1) = first
    for u in us:
        delay, streak = next_delay_ns(p, streak, u)
        assert streak.prev_ns is not None
        raw = streak.prev_ns
        assert p.first_ns <= raw <= max(p.first_ns, min(p.max_ns, 3 * prev))
        assert delay == max(raw, p.floor_ns)
        prev = raw


@given(policies(st.sampled_from([J.NONE, J.FULL, J.EQUAL])), st.lists(draws, max_size=30))
def test_the_nth_retry_uses_base_n(p: BackoffPolicy, us: list[float]) -> None:
    streak = EMPTY_STREAK
    for n, u in enumerate(us):
        delay, streak = next_delay_ns(p, streak, u)
        assert delay == max(jitter_ns(p, base_ns(p, n), 0, u), p.floor_ns)
        assert streak.failures == n + 1


# -- statistics, with fixed seeds -----------------------------------------------------------------

N_DRAWS = 20_000


@pytest.mark.parametrize(("jitter", "mean_over_base"), [(J.FULL, 0.5), (J.EQUAL, 0.75)])
@pytest.mark.parametrize("seed", [0, 1])
def test_jitter_means(jitter: JitterPolicy, mean_over_base: float, seed: int) -> None:
    rng = random.Random(seed)
    p = BackoffPolicy(first=1.0, max=1.0, jitter=jitter)
    base = base_ns(p, 0)
    values = [jitter_ns(p, base, base, rng.random()) / base for _ in range(N_DRAWS)]
    # Standard error of the mean is below 0.3 / sqrt(20000) ~ 0.002; allow 0.01.
    assert statistics.fmean(values) == pytest.approx(mean_over_base, abs=0.01)
    assert min(values) >= (0.5 if jitter is J.EQUAL else 0.0)
    assert max(values) <= 1.0
    # Uniform: each quarter of the range gets about a quarter of the draws.
    lo = 0.5 if jitter is J.EQUAL else 0.0
    quarters = [0] * 4
    for v in values:
        quarters[min(3, int((v - lo) / (1 - lo) * 4))] += 1
    assert all(abs(q / N_DRAWS - 0.25) < 0.02 for q in quarters)


def test_decorrelated_mean_follows_the_previous_delay() -> None:
    rng = random.Random(7)
    p = BackoffPolicy(first=1.0, max=10_000.0, jitter=J.DECORRELATED)
    for prev_s in (1, 10, 100):
        prev = prev_s * 10**9
        values = [jitter_ns(p, 0, prev, rng.random()) / 1e9 for _ in range(N_DRAWS)]
        expected = (1 + 3 * prev_s) / 2  # uniform(first, 3 * prev)
        assert statistics.fmean(values) == pytest.approx(expected, rel=0.02)


# -- the streak inside the supervisor -------------------------------------------------------------


def backoff_delays(d: Driver) -> list[tuple[float | None, BackoffSource | None]]:
    return [(e.delay, e.backoff_source) for e in d.events if e.kind is EventKind.BACKOFF_SCHEDULED]


def test_a_success_ends_the_streak() -> None:
    d = Driver.make()
    backoff = BackoffPolicy.exponential(1.0, 2.0, 100.0)
    tid = d.add(TaskSpec(fn("x"), restart=RestartPolicy.always(5.0), backoff=backoff))
    for end in (EndKind.FAILED, EndKind.FAILED, EndKind.FAILED, EndKind.RETURNED, EndKind.FAILED):
        d.end(tid, end, "boom")
        d.fire_next()
    F, S = BackoffSource.FAILURE, BackoffSource.SUCCESS
    assert backoff_delays(d) == [(1.0, F), (2.0, F), (4.0, F), (5.0, S), (1.0, F)]
    d.verify()


def test_decorrelated_restarts_from_first_after_a_success() -> None:
    backoff = BackoffPolicy(first=1.0, max=1000.0, jitter=J.DECORRELATED)
    d = Driver.make(seed=3)
    tid = d.add(TaskSpec(fn("x"), restart=RestartPolicy.always(), backoff=backoff))
    ends = [EndKind.FAILED] * 6 + [EndKind.RETURNED] + [EndKind.FAILED]
    for end in ends:
        d.end(tid, end)
        d.fire_next()
    delays = [delay for delay, source in backoff_delays(d) if source is BackoffSource.FAILURE]
    assert delays[0] is not None
    assert 1.0 <= delays[0] <= 3.0
    prev = 1.0
    for delay in delays[:6]:
        assert delay is not None
        assert 1.0 <= delay <= min(1000.0, 3 * prev)
        prev = delay
    assert delays[6] is not None
    assert 1.0 <= delays[6] <= 3.0  # after the success: from prev = first again


def test_a_streak_differs_from_another_streak_or_a_bare_tuple_and_not_from_its_equal() -> None:
    # RetryStreak compares its type too: a checker comparing snapshots must not take a bare
    # tuple for a streak. ``!=`` is written out (a NamedTuple's would be tuple's).
    streak = RetryStreak(2, 5)
    assert (streak != RetryStreak(2, 5)) is False
    assert streak != RetryStreak(3, 5)
    assert (streak == RetryStreak(3, 5)) is False
    assert streak != RetryStreak(2, None)
    assert streak != (2, 5)
    assert streak == RetryStreak(2, 5)
    assert (streak == (2, 5)) is False
