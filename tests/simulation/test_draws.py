"""``_draws.Legs``: leg durations are |Normal(mean, sd)|, reproducible from the seed."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from taskvisor.sim._draws import Legs


def _folded_mean(mu: float, sd: float) -> float:
    """E|X| for X ~ Normal(mu, sd)."""
    z = mu / sd
    phi = 0.5 * math.erfc(z / math.sqrt(2))  # P(X < 0)
    return sd * math.sqrt(2 / math.pi) * math.exp(-z * z / 2) + mu * (1 - 2 * phi)


def _pair_sums(legs: Legs, n: int) -> list[int]:
    out: list[int] = []
    while len(out) < n:
        out += legs.pairs()
    return out[:n]


def test_pair_sums_have_the_mean_and_spread_of_two_legs() -> None:
    sums = _pair_sums(Legs(random.Random(1), 10_000_000, 2_000_000), 40_000)
    assert abs(statistics.fmean(sums) - 20_000_000) < 40_000  # 4 sigma of the mean
    assert abs(statistics.pstdev(sums) - 2_000_000 * math.sqrt(2)) < 40_000


def test_pair_sums_fold_negative_legs_exactly() -> None:
    # mean 1, sd 2: a third of the legs would be negative; |.| must apply to each leg.
    sums = _pair_sums(Legs(random.Random(2), 1_000_000, 2_000_000), 60_000)
    want = 2 * _folded_mean(1_000_000, 2_000_000)
    assert abs(statistics.fmean(sums) - want) / want < 0.01
    assert min(sums) >= 0


def test_single_legs_are_folded_normals() -> None:
    legs = Legs(random.Random(3), 1_000_000, 2_000_000)
    xs = [legs.one() for _ in range(40_000)]
    assert min(xs) >= 0
    assert abs(statistics.fmean(xs) - _folded_mean(1_000_000, 2_000_000)) < 30_000


def test_zero_spread_gives_exact_legs() -> None:
    legs = Legs(random.Random(4), 10_000_000, 0)
    assert set(legs.pairs()) == {20_000_000}
    assert legs.one() == 10_000_000


def test_same_seed_same_stream() -> None:
    a, b = Legs(random.Random(5), 10, 3), Legs(random.Random(5), 10, 3)
    assert [a.pairs(), a.one(), a.pairs()] == [b.pairs(), b.one(), b.pairs()]


def _folded_var(mu: float, sd: float) -> float:
    return mu * mu + sd * sd - _folded_mean(mu, sd) ** 2


@pytest.mark.parametrize(
    ("mean", "sd"),
    [
        (10_000_000, 2_000_000),  # the blog's legs: negative legs all but impossible
        (10_000_000, 4_000_000),  # t > 0: the skip path visits many indices
        (1_000_000, 2_000_000),  # t <= 0: every D is drawn
    ],
)
def test_pair_sums_are_sums_of_two_folded_normals(mean: int, sd: int) -> None:
    sums = _pair_sums(Legs(random.Random(7), mean, sd), 80_000)
    want_mean = 2 * _folded_mean(mean, sd)
    want_sd = math.sqrt(2 * _folded_var(mean, sd))
    se = want_sd / math.sqrt(len(sums))
    assert abs(statistics.fmean(sums) - want_mean) < 5 * se
    assert abs(statistics.pstdev(sums) - want_sd) / want_sd < 0.02
    assert min(sums) >= 0


def test_the_tail_sampler_stays_beyond_its_threshold() -> None:
    legs = Legs(random.Random(8), 10, 2)
    xs = [legs._tail(2.5) for _ in range(20_000)]
    assert min(xs) > 2.5
    # E[X | X > a] for a standard normal is phi(a) / Q(a).
    a = 2.5
    want = math.exp(-a * a / 2) / math.sqrt(2 * math.pi) / (0.5 * math.erfc(a / math.sqrt(2)))
    assert abs(statistics.fmean(xs) - want) < 0.01
