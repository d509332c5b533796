"""Backoff and jitter arithmetic on exact integers (docs/spec/api.md section 3; invariant I4).

Owns: ``base_ns``, the jitter formulas and the ``RetryStreak`` that carries a failure streak's
position and DECORRELATED's previous delay. Every function takes drawn values (a float ``u`` in
[0, 1]) rather than a generator, so it is plain arithmetic that Hypothesis and CrossHair check.
The formulas are those of Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture
Blog, 2015. Must not import anything that does I/O.
"""

from __future__ import annotations

from typing import NamedTuple

from taskvisor.fsm._policy import FIXED_POINT_BITS, BackoffPolicy, JitterPolicy

__all__ = [
    "RetryStreak",
    "base_ns",
    "jitter_ns",
    "needs_draw",
    "next_delay_ns",
    "retry_pause_ns",
    "scale",
]

_ONE = 1 << FIXED_POINT_BITS
# Members as module constants: ``JitterPolicy.NONE`` goes through ``EnumType.__getattr__`` (a
# Python-level call) on every lookup in CPython 3.11, and these run on every failure.
_NO_JITTER, _FULL, _EQUAL = JitterPolicy.NONE, JitterPolicy.FULL, JitterPolicy.EQUAL
_U_BITS = 53  # random.random() returns multiples of 2**-53


def scale(span: int, u: float) -> int:
    """``floor(span * u)`` for ``0 <= u <= 1`` on integers, so it is the same on every machine.

    >>> scale(10, 0.5)
    5

    Contract (PEP 316, checked by CrossHair):

    pre: span >= 0
    pre: 0.0 <= u <= 1.0
    post: 0 <= __return__ <= span
    post: u != 1.0 or __return__ == span
    """
    assert span >= 0
    assert 0.0 <= u <= 1.0
    k = int(u * (1 << _U_BITS))
    return (span * k) >> _U_BITS


def _fixed_pow(base: int, n: int, limit: int) -> int:
    """``base**n`` in fixed point (``_ONE`` is 1.0), saturating at ``limit``.

    Exponentiation by squaring: O(log n) multiplications of bounded integers, so a huge ``n`` costs
    nothing and never overflows (docs/spec/api.md: "exact for huge n"). Each product is truncated,
    so the result never exceeds the exact power.

    pre: base >= _ONE
    pre: n >= 0
    pre: limit >= _ONE
    post: _ONE <= __return__ <= limit
    post: n != 0 or __return__ == _ONE
    post: __return__ == limit or __return__ * _ONE ** n <= _ONE * base ** n
    """
    result = _ONE
    while n:
        if n & 1:
            result = (result * base) >> FIXED_POINT_BITS
            if result >= limit:
                return limit
        n >>= 1
        if n:
            base = (base * base) >> FIXED_POINT_BITS
            if base >= limit:
                # factor >= 1, so result >= 1 and any remaining set bit multiplies by >= base.
                return limit
    return result


def base_ns(policy: BackoffPolicy, n: int) -> int:
    """``min(max, first * factor**n)`` in integer nanoseconds, for the n-th retry (n >= 0).

    pre: n >= 0
    post: policy.first_ns <= __return__ <= policy.max_ns
    post: n != 0 or __return__ == policy.first_ns
    """
    if n < 0:
        raise ValueError(f"retry index must be >= 0, got {n}")
    first, cap = policy.first_ns, policy.max_ns
    if first == 0 or first >= cap:
        return first
    limit = (cap // first + 1) << FIXED_POINT_BITS
    value = (first * _fixed_pow(policy.factor_fixed, n, limit)) >> FIXED_POINT_BITS
    return value if value < cap else cap


def needs_draw(policy: BackoffPolicy) -> bool:
    """Whether a delay of this policy consumes one random draw (NONE does not)."""
    return policy.jitter is not _NO_JITTER


def jitter_ns(policy: BackoffPolicy, base: int, prev: int, u: float) -> int:
    """Apply the policy's jitter to ``base`` with the draw ``u``; ``prev`` feeds DECORRELATED.

    NONE: ``base``. FULL: uniform in [0, base]. EQUAL: base/2 plus uniform in [0, base/2].
    DECORRELATED: ``min(max, uniform(first, 3 * prev))``. The floor is applied by the caller.

    pre: 0 <= base <= policy.max_ns
    pre: prev >= policy.first_ns
    pre: 0.0 <= u <= 1.0
    post: 0 <= __return__ <= policy.max_ns
    post: policy.jitter != JitterPolicy.NONE or __return__ == base
    post: policy.jitter != JitterPolicy.FULL or __return__ <= base
    post: policy.jitter != JitterPolicy.EQUAL or base - base // 2 <= __return__ <= base
    post: policy.jitter != JitterPolicy.DECORRELATED or policy.first_ns <= __return__ <= 3 * prev
    """
    jitter = policy.jitter
    if jitter is _NO_JITTER:
        return base
    if jitter is _FULL:
        return scale(base, u)
    if jitter is _EQUAL:
        half = base // 2
        return base - half + scale(half, u)
    low = policy.first_ns
    high = 3 * prev
    value = low + scale(high - low, u) if high > low else low
    return value if value < policy.max_ns else policy.max_ns


class RetryStreak(NamedTuple):
    """Where a task stands in its current failure streak.

    A named tuple, not an attrs class: every failure builds one, and a tuple is built in one C
    call (architecture rule 3). Equality also compares the type (never a bare tuple).

    Attributes:
        failures: failed attempts in a row so far (the next retry has index ``failures - 1``).
        prev_ns: DECORRELATED's previous delay before the floor; ``None`` means ``first``.
    """

    failures: int = 0
    prev_ns: int | None = None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not (type(other) is type(self) and tuple.__eq__(self, other))

    def __hash__(self) -> int:
        return tuple.__hash__(self)


EMPTY_STREAK = RetryStreak()
_new_streak = tuple.__new__  # RetryStreak from a tuple in one C call (no generated __new__ frame)


def next_delay_ns(policy: BackoffPolicy, streak: RetryStreak, u: float) -> tuple[int, RetryStreak]:
    """Record one more failure and return the delay before the retry, and the new streak.

    The retry index n is the number of failures before this one, so the first failure of a
    streak waits ``base(0)``. The result lies in ``[0, max(max, floor)]`` (I4).

    pre: streak.failures >= 0
    pre: streak.prev_ns is None or streak.prev_ns >= policy.first_ns
    pre: 0.0 <= u <= 1.0
    post: policy.floor_ns <= __return__[0] <= policy.ceiling_ns
    post: __return__[1].failures == streak.failures + 1
    post: __return__[1].prev_ns is not None and __return__[1].prev_ns <= policy.max_ns
    """
    delay, streak, _ = retry_pause_ns(policy, streak, u)
    return delay, streak


def retry_pause_ns(
    policy: BackoffPolicy, streak: RetryStreak, u: float
) -> tuple[int, RetryStreak, int]:
    """``next_delay_ns`` and the base it jittered: what the core's explained decision needs.

    One computation of ``base_ns`` for both (the ended attempt's step is the hot path,
    benchmarks/bench_core.py).
    """
    n = streak.failures
    base = base_ns(policy, n)
    prev = policy.first_ns if streak.prev_ns is None else streak.prev_ns
    raw = base if policy.jitter is _NO_JITTER else jitter_ns(policy, base, prev, u)
    delay = raw if raw > policy.floor_ns else policy.floor_ns
    return delay, _new_streak(RetryStreak, (n + 1, raw)), base
