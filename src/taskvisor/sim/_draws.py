"""Network legs for the contention model: |Normal(mean, sd)| durations, drawn in blocks.

Owns: ``Legs``. The contention model (Brooker, AWS 2015) needs four legs per call; what it
actually schedules is two *sums* of two legs (reply + next request, and read reply + write
request), so ``Legs`` hands out those sums, a block at a time, exactly distributed as
``|X1| + |X2|`` with ``X1, X2`` independent ``Normal(μ, σ)``, at the cost of about one normal
draw per sum instead of two:

- Write ``X1 = μ + σ(S + D)/√2`` and ``X2 = μ + σ(S − D)/√2`` with ``S, D`` independent
  standard normals (a rotation of two independent normals is two independent normals). Both
  legs are non-negative exactly when ``|D| <= S + c`` with ``c = √2·μ/σ``, and then the sum
  is ``2μ + √2·σ·S``: ``D`` does not matter.
- So a block draws every ``S`` (Box-Muller), and ``D`` only where it can matter: with ``t``
  the block's smallest ``S + c``, every ``|D|`` at or below ``t`` is harmless, and the indices
  where ``|D| > t`` form a Bernoulli process of rate ``q = P(|N| > t)``, visited by geometric
  skips. There ``|D|`` is drawn from the normal tail beyond ``t`` (Marsaglia's tail method)
  with a random sign, and the sum is computed leg by leg with the absolute values. For the
  blog's 10 ms ± 2 ms, ``c ≈ 7.07``, ``t ≈ 3.5``: about two such indices per 4096 sums.
  If ``t <= 0`` (a leg mean below its sd makes negative legs common), every ``D`` is drawn.

Sums are rounded down to whole nanoseconds. Everything comes from one ``random.Random`` in a
fixed order, so a run is reproducible from its seed (the block sizes are fixed too).
``tests/simulation/test_draws.py`` checks the distribution where legs are often negative.
Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import math
import random

__all__ = ["Legs"]

_TAU = 2.0 * math.pi
_SQRT2 = math.sqrt(2.0)


class Legs:
    """A stream of leg durations in integer nanoseconds, each ``|Normal(mean_ns, sd_ns)|``.

    Args:
        rng: the world's random source (its own ``random.Random``, seeded per run).
        mean_ns: the mean of one leg.
        sd_ns: its standard deviation (0: every leg takes exactly ``mean_ns``).
        block: how many pair sums to draw at first; each further block is twice as large, up
            to 8192, so short runs draw little they do not use and long runs pay little
            per block.
    """

    __slots__ = ("_block", "_mean", "_rng", "_sd")

    def __init__(self, rng: random.Random, mean_ns: int, sd_ns: int, block: int = 128) -> None:
        if mean_ns < 0 or sd_ns < 0:
            raise ValueError("leg mean and sd must be >= 0")
        if block < 2 or block % 2:
            raise ValueError("block must be an even number >= 2")
        self._rng = rng
        self._mean = float(mean_ns)
        self._sd = float(sd_ns)
        self._block = block

    def _normals(self, n: int) -> list[float]:
        """``n`` (even) standard normals, Box-Muller."""
        rnd = self._rng.random
        log, sqrt, sin, cos = math.log, math.sqrt, math.sin, math.cos
        out: list[float] = []
        append = out.append
        for _ in range(n >> 1):
            r = sqrt(-2.0 * log(1.0 - rnd()))
            theta = _TAU * rnd()
            append(r * cos(theta))
            append(r * sin(theta))
        return out

    def _tail(self, t: float) -> float:
        """``|D|`` for a standard normal ``D`` given ``|D| > t`` (t > 0): Marsaglia's method."""
        rnd = self._rng.random
        while True:
            x = math.sqrt(t * t - 2.0 * math.log(1.0 - rnd()))
            if rnd() * x < t:
                return x

    def pairs(self) -> list[int]:
        """A block of sums of two independent legs (ns, rounded down)."""
        n = self._block
        if n < 8192:
            self._block = 2 * n
        mean, sd = self._mean, self._sd
        if sd == 0.0:
            return [int(2.0 * mean)] * n
        k = _SQRT2 * sd
        s = self._normals(n)
        # The common case for every index: both legs non-negative, sum = 2μ + √2·σ·S.
        two_mean = 2.0 * mean
        out = [int(two_mean + k * z) for z in s]
        c = _SQRT2 * mean / sd
        t = min(s) + c
        rnd = self._rng.random
        if t <= 0.0:
            candidates: list[tuple[int, float]] = [(i, d) for i, d in enumerate(self._normals(n))]
        else:
            q = math.erfc(t / _SQRT2)  # P(|D| > t)
            candidates = []
            if q > 0.0:
                log_keep = math.log1p(-q) if q < 1.0 else -math.inf
                i = -1
                while True:
                    # Geometric skip to the next index whose |D| exceeds t.
                    i += 1 + int(math.log(1.0 - rnd()) / log_keep)
                    if i >= n:
                        break
                    d = self._tail(t)
                    candidates.append((i, d if rnd() < 0.5 else -d))
        for i, d in candidates:
            if abs(d) > s[i] + c:  # a leg is negative: take each absolute value
                a = mean + sd * (s[i] + d) / _SQRT2
                b = mean + sd * (s[i] - d) / _SQRT2
                out[i] = int(abs(a) + abs(b))
        return out

    def singles(self, n: int) -> list[int]:
        """``n`` single legs (ns, rounded down), drawn at once."""
        mean, sd = self._mean, self._sd
        if sd == 0.0:
            return [int(mean)] * n
        return [int(abs(mean + sd * z)) for z in self._normals(n + (n & 1))[:n]]

    def one(self) -> int:
        """One leg (ns, rounded down)."""
        mean, sd = self._mean, self._sd
        if sd == 0.0:
            return int(mean)
        rnd = self._rng.random
        r = math.sqrt(-2.0 * math.log(1.0 - rnd()))
        return int(abs(mean + sd * r * math.cos(_TAU * rnd())))
