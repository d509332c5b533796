"""Streaming metrics for one run, and the 95% interval over the runs (seeds) of a sweep.

Owns: ``Estimate`` and ``summarize`` (mean and Student-t 95% half-width over seeds),
``Quantiles`` (exact while small, then a bounded log-bucket sketch), and ``RateCounter``
(events per time bin, finalised as time advances, so a run's memory does not grow with its
length). Nothing here keeps a whole trace. Must not import the runtime or anything that does
I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs

__all__ = ["Estimate", "Quantiles", "RateCounter", "summarize", "t_quantile_975"]

# Two-sided 95% quantiles of Student's t for df = 1..30 (t_{0.975, df}).
_T975 = (
    12.706204736174705,
    4.302652729749464,
    3.182446305284263,
    2.7764451051977934,
    2.570581835636314,
    2.446911851144969,
    2.3646242515927844,
    2.306004135204166,
    2.2621571628540993,
    2.2281388519649385,
    2.200985160082949,
    2.178812829663418,
    2.1603686564610127,
    2.1447866879169273,
    2.131449545559323,
    2.1199052992210112,
    2.1098155778331806,
    2.10092204024096,
    2.093024054408263,
    2.0859634472658364,
    2.079613844727662,
    2.0738730679040147,
    2.0686576104190406,
    2.0638985616280205,
    2.059538552753294,
    2.055529438642871,
    2.0518305164802833,
    2.048407141795244,
    2.045229642132703,
    2.0422724563012373,
)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """``t_{0.975}`` with ``df`` degrees of freedom (table to 30, then Cornish-Fisher)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = _Z975
    # Cornish-Fisher expansion of t in powers of 1/df: error < 1e-6 for df > 30.
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


@attrs.frozen
class Estimate:
    """A metric over the seeds of one cell: its mean, the 95% half-width, and how many runs.

    ``ci95`` is NaN with fewer than two runs; ``mean`` is NaN when no run had a value.
    """

    mean: float
    ci95: float
    n: int


def summarize(values: Iterable[float]) -> Estimate:
    """Mean and Student-t 95% half-width of ``values``, ignoring NaN (a run with no value).

    Uses ``math.fsum`` so the result is exactly the same whatever order the runs came in,
    given the same values (results must not depend on how a sweep was split).
    """
    xs = sorted(v for v in values if not math.isnan(v))
    n = len(xs)
    if n == 0:
        return Estimate(math.nan, math.nan, 0)
    mean = math.fsum(xs) / n
    if n == 1:
        return Estimate(mean, math.nan, 1)
    if all(x == xs[0] for x in xs):
        return Estimate(xs[0], 0.0, n)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    return Estimate(mean, t_quantile_975(n - 1) * math.sqrt(var / n), n)


class Quantiles:
    """Quantiles of non-negative integers (nanoseconds, counts) in bounded memory.

    Exact (nearest rank) up to ``exact_limit`` values; beyond that the values move into
    log-spaced buckets with 128 buckets per power of two, so a quantile is within 0.8% of the
    exact one and memory stays below ~8k buckets however long the run.
    """

    __slots__ = ("_buckets", "_exact", "_limit", "count", "max")

    def __init__(self, exact_limit: int = 4096) -> None:
        self._exact: list[int] | None = []
        self._buckets: dict[int, int] = {}
        self._limit = exact_limit
        self.count = 0
        self.max = 0

    @staticmethod
    def _bucket(x: int) -> int:
        bits = x.bit_length()
        if bits <= 8:
            return x
        shift = bits - 8
        return (shift << 8) | (x >> shift)

    @staticmethod
    def _representative(key: int) -> int:
        shift = key >> 8
        if shift == 0:
            return key
        low = (key & 0xFF) << shift
        return low + (1 << (shift - 1))  # the middle of the bucket

    def add(self, x: int, times: int = 1) -> None:
        """Record ``x`` (an int >= 0) ``times`` times."""
        if x > self.max:
            self.max = x
        self.count += times
        exact = self._exact
        if exact is not None:
            if len(exact) + times <= self._limit:
                exact.extend([x] * times)
                return
            self._exact = None
            for v in exact:
                key = self._bucket(v)
                self._buckets[key] = self._buckets.get(key, 0) + 1
        key = self._bucket(x)
        self._buckets[key] = self._buckets.get(key, 0) + times

    def quantile(self, q: float) -> float:
        """The nearest-rank ``q``-quantile (0 < q <= 1); NaN when empty."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(q * self.count))
        if self._exact is not None:
            return float(sorted(self._exact)[rank - 1])
        seen = 0
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if seen >= rank:
                return float(min(self._representative(key), self.max))
        return float(self.max)  # pragma: no cover - the ranks add up to count


class RateCounter:
    """How many events fell in each bin of ``bin_ns`` from t = 0, finalised as time advances.

    Events must arrive in non-decreasing time (a discrete-event engine delivers them so).
    Finished bins feed ``quantiles`` (for the peak and p99 of the rate). With ``keep=True`` the
    counts are also kept for plotting; whenever more than ``max_points`` would be kept,
    neighbouring points are merged (the plotted bin doubles), so memory stays bounded.
    """

    __slots__ = (
        "_bin",
        "_count",
        "_current",
        "_keep",
        "_max_points",
        "_pending",
        "_pending_n",
        "_ratio",
        "quantiles",
        "series",
    )

    def __init__(self, bin_ns: int, *, keep: bool = False, max_points: int = 2048) -> None:
        if bin_ns < 1:
            raise ValueError(f"bin width must be >= 1 ns, got {bin_ns}")
        self._bin = bin_ns
        self._current = 0
        self._count = 0
        self._keep = keep
        self._max_points = max(2, max_points)
        self._ratio = 1  # fine bins per point of ``series``
        self._pending = 0
        self._pending_n = 0
        self.series: list[int] = []
        self.quantiles = Quantiles()

    @property
    def series_bin_ns(self) -> int:
        """The width of one point of ``series``."""
        return self._bin * self._ratio

    def add(self, t: int, n: int = 1) -> None:
        """Count ``n`` events at time ``t`` (ns)."""
        index = t // self._bin
        if index != self._current:
            if index < self._current:
                raise ValueError(f"event at {t} ns arrived after its bin was closed")
            self._close(index)
        self._count += n

    def _close(self, index: int) -> None:
        """Finish the bins before ``index``."""
        self.quantiles.add(self._count)
        gap = index - self._current - 1
        if gap > 0:
            self.quantiles.add(0, gap)
        if self._keep:
            self._append(self._count)
            for _ in range(gap):
                self._append(0)
        self._current = index
        self._count = 0

    def _append(self, count: int) -> None:
        self._pending += count
        self._pending_n += 1
        if self._pending_n < self._ratio:
            return
        series = self.series
        series.append(self._pending)
        self._pending = 0
        self._pending_n = 0
        if len(series) > self._max_points:
            # Halve the resolution; an odd last point waits for its partner.
            odd = len(series) % 2
            merged = [series[i] + series[i + 1] for i in range(0, len(series) - odd, 2)]
            if odd:
                self._pending = series[-1]
                self._pending_n = self._ratio
            self.series = merged
            self._ratio *= 2

    def finish(self, end_ns: int) -> None:
        """Close every bin that starts before ``end_ns`` (the end of the run)."""
        last = (end_ns - 1) // self._bin if end_ns > 0 else 0
        self._close(max(last, self._current) + 1)
        if self._keep and self._pending_n:
            self.series.append(self._pending)
            self._pending = 0
            self._pending_n = 0
