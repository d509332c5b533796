"""Network legs for the contention model: |Normal(mean, sd)| durations, drawn in blocks.

Owns: ``Legs``. The contention model (Brooker, AWS 2015) needs four legs per call; what it
actually schedules is two *sums* of two legs (reply + next request, and read reply + write
request), so ``Legs`` hands out those sums directly, generated a block at a time. Each sum is
exact: a Box-Muller pair ``(R, Θ)`` gives two independent normals ``a = μ + σR·cos Θ`` and
``b = μ + σR·sin Θ``; when ``σR <= μ`` both are non-negative and ``|a| + |b| = 2μ + σR(cos Θ +
sin Θ)``, one ``sin`` instead of two trigonometric calls and two ``abs``; otherwise (a chance
of ~e^-12.5 for the blog's 10 ms ± 2 ms) the two absolute values are taken one by one. Sums are
rounded down to whole nanoseconds. Everything is drawn from one ``random.Random`` in a fixed
order, so a run is reproducible from its seed. Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import math
import random

__all__ = ["Legs"]

_TAU = 2.0 * math.pi
_QUARTER = math.pi / 4.0
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
        self._rng = rng
        self._mean = float(mean_ns)
        self._sd = float(sd_ns)
        self._block = block

    def pairs(self) -> list[int]:
        """A block of sums of two independent legs (ns, rounded down)."""
        n = self._block
        if n < 8192:
            self._block = 2 * n
        mean, sd = self._mean, self._sd
        if sd == 0.0:
            return [int(2.0 * mean)] * n
        rnd = self._rng.random
        log, sqrt, sin, cos = math.log, math.sqrt, math.sin, math.cos
        two_mean = 2.0 * mean
        sd_root2 = sd * _SQRT2
        safe = mean / sd  # R at or below this keeps both legs non-negative
        out: list[int] = []
        append = out.append
        for _ in range(n):
            r = sqrt(-2.0 * log(1.0 - rnd()))
            theta = _TAU * rnd()
            if r <= safe:
                # cos(t - pi/4) + sin(t - pi/4) == sqrt(2) * sin(t): the sum of both legs.
                append(int(two_mean + sd_root2 * r * sin(theta)))
            else:
                t = theta - _QUARTER
                append(int(abs(mean + sd * r * cos(t)) + abs(mean + sd * r * sin(t))))
        return out

    def one(self) -> int:
        """One leg (ns, rounded down)."""
        mean, sd = self._mean, self._sd
        if sd == 0.0:
            return int(mean)
        rnd = self._rng.random
        r = math.sqrt(-2.0 * math.log(1.0 - rnd()))
        return int(abs(mean + sd * r * math.cos(_TAU * rnd())))
