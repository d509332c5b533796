"""``_metrics``: intervals over seeds, bounded quantiles and rate counters."""

from __future__ import annotations

import math
import random

import pytest

from taskvisor.sim._metrics import Quantiles, RateCounter, summarize, t_quantile_975


def test_summarize_gives_mean_and_student_t_half_width() -> None:
    e = summarize([1.0, 2.0, 3.0, 4.0])
    assert e.mean == 2.5
    assert e.n == 4
    # sd = 1.2909944, t(3) = 3.1824463, half-width = t * sd / 2
    assert e.ci95 == pytest.approx(3.182446305284263 * 1.2909944487358056 / 2)


def test_summarize_ignores_missing_values_and_is_order_free() -> None:
    xs = [0.1 * i for i in range(50)] + [math.nan]
    shuffled = xs[:]
    random.Random(0).shuffle(shuffled)
    assert summarize(xs) == summarize(shuffled)
    assert summarize(xs).n == 50


def test_summarize_of_one_or_no_value() -> None:
    assert math.isnan(summarize([5.0]).ci95)
    assert summarize([5.0]).mean == 5.0
    assert math.isnan(summarize([]).mean)
    assert summarize([2.0, 2.0]).ci95 == 0.0


def test_t_quantiles_approach_the_normal() -> None:
    assert t_quantile_975(1) == pytest.approx(12.7062, abs=1e-4)
    assert t_quantile_975(40) == pytest.approx(2.0211, abs=1e-4)
    assert t_quantile_975(1000) == pytest.approx(1.9623, abs=1e-4)
    with pytest.raises(ValueError, match="degrees"):
        t_quantile_975(0)


def test_quantiles_are_exact_while_small() -> None:
    q = Quantiles()
    for x in [5, 1, 4, 2, 3]:
        q.add(x)
    assert q.quantile(0.5) == 3
    assert q.quantile(1.0) == 5
    assert q.quantile(0.2) == 1
    assert math.isnan(Quantiles().quantile(0.5))


def test_quantiles_stay_within_a_percent_when_large() -> None:
    rng = random.Random(1)
    xs = [int(rng.expovariate(1e-9)) for _ in range(50_000)]
    q = Quantiles(exact_limit=1000)
    for x in xs:
        q.add(x)
    xs.sort()
    for p in (0.5, 0.9, 0.99):
        exact = xs[math.ceil(p * len(xs)) - 1]
        assert abs(q.quantile(p) - exact) / exact < 0.01
    assert len(q._buckets) < 3000  # bounded memory


def test_rate_counter_counts_per_bin_including_empty_ones() -> None:
    r = RateCounter(10, keep=True)
    for t in [0, 1, 9, 10, 35]:
        r.add(t)
    r.finish(40)
    assert r.series == [3, 1, 0, 1]
    assert r.quantiles.max == 3
    assert r.quantiles.count == 4


def test_rate_counter_coarsens_to_stay_bounded() -> None:
    r = RateCounter(1, keep=True, max_points=8)
    for t in range(100):
        r.add(t)
    r.finish(100)
    assert len(r.series) <= 8
    assert sum(r.series) == 100
    assert r.series_bin_ns == 16
    assert r.quantiles.count == 100  # quantiles still see every fine bin


def test_rate_counter_rejects_time_going_back() -> None:
    r = RateCounter(10)
    r.add(25)
    with pytest.raises(ValueError, match="closed"):
        r.add(3)
