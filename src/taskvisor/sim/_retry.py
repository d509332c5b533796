"""The core's backoff arithmetic, laid out for the simulator's inner loops.

Owns: ``RetryTable``, a policy prepared for millions of retries: the bases ``base(n)`` come
from the core (``fsm._backoff.base_ns``) once per policy, until they reach the cap; the jitter
is the core's integer arithmetic (``fsm._backoff.jitter_ns`` and ``scale``: ``(span * int(u *
2**53)) >> 53``), written out so a hot loop can inline it. ``tests/simulation/test_retry.py``
proves, for arbitrary policies and draws, that ``RetryTable.next`` equals
``fsm._backoff.next_delay_ns`` bit for bit, so the simulator's clients back off exactly as a
supervised task does (I4). Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import functools

import attrs

from taskvisor.fsm import BackoffPolicy, JitterPolicy
from taskvisor.fsm._backoff import base_ns

__all__ = ["DECORRELATED", "EQUAL", "FULL", "NONE", "RetryTable"]

# Jitter kinds as small ints: an ``==`` on ints is the cheapest branch in a hot loop.
NONE, FULL, EQUAL, DECORRELATED = 0, 1, 2, 3
_KIND = {
    JitterPolicy.NONE: NONE,
    JitterPolicy.FULL: FULL,
    JitterPolicy.EQUAL: EQUAL,
    JitterPolicy.DECORRELATED: DECORRELATED,
}
U53 = 1 << 53  # _backoff.scale draws int(u * 2**53); random.random() returns multiples of 2**-53
_MAX_TABLE = 4096  # a factor so close to 1 that the cap is this far away: compute on demand


@attrs.frozen
class RetryTable:
    """A ``BackoffPolicy`` prepared for fast, exact retries.

    Attributes:
        policy: the policy itself.
        kind: the jitter as ``NONE``/``FULL``/``EQUAL``/``DECORRELATED``.
        bases: ``fsm._backoff.base_ns(policy, n)`` for n = 0 .. len - 1; the last entry repeats
            forever when ``saturated`` (it is the cap).
        saturated: whether ``bases[-1]`` is the value for every larger n.
        first_ns, max_ns, floor_ns: the policy's exact fields.
        draws: whether a delay consumes one random draw (``fsm._backoff.needs_draw``).
    """

    policy: BackoffPolicy
    kind: int
    bases: tuple[int, ...]
    saturated: bool
    first_ns: int
    max_ns: int
    floor_ns: int
    draws: bool

    @classmethod
    def of(cls, policy: BackoffPolicy) -> RetryTable:
        """Prepare ``policy``: tabulate its bases with the core's ``base_ns`` (cached)."""
        return _prepare(policy)

    @classmethod
    def build(cls, policy: BackoffPolicy) -> RetryTable:
        """Prepare ``policy`` without the cache."""
        bases: list[int] = []
        saturated = False
        for n in range(_MAX_TABLE):
            b = base_ns(policy, n)
            bases.append(b)
            if b >= policy.max_ns or (n > 0 and b == bases[n - 1] and policy.factor == 1.0):
                saturated = True
                break
        kind = _KIND[policy.jitter]
        return cls(
            policy,
            kind,
            tuple(bases),
            saturated,
            policy.first_ns,
            policy.max_ns,
            policy.floor_ns,
            kind != NONE,
        )

    def base(self, n: int) -> int:
        """``fsm._backoff.base_ns(policy, n)``."""
        bases = self.bases
        if n < len(bases):
            return bases[n]
        if self.saturated:
            return bases[-1]
        return base_ns(self.policy, n)  # pragma: no cover - factor within 2**-12 of 1

    def next(self, failures: int, prev: int, u: float) -> tuple[int, int]:
        """The delay after failure number ``failures + 1`` of a streak, and the new ``prev``.

        ``prev`` is DECORRELATED's previous raw delay (``first_ns`` at the start of a streak);
        ``u`` the draw (ignored for NONE). Equal to ``fsm._backoff.next_delay_ns`` on a
        ``RetryStreak`` with ``failures`` and ``prev_ns=prev``.
        """
        base = self.base(failures)
        kind = self.kind
        if kind == NONE:
            raw = base
        elif kind == FULL:
            raw = (base * int(u * U53)) >> 53
        elif kind == EQUAL:
            half = base >> 1
            raw = base - half + ((half * int(u * U53)) >> 53)
        else:
            low = self.first_ns
            high = 3 * prev
            raw = low + (((high - low) * int(u * U53)) >> 53) if high > low else low
            if raw > self.max_ns:
                raw = self.max_ns
        floor = self.floor_ns
        return (raw if raw > floor else floor), raw


@functools.lru_cache(maxsize=256)
def _prepare(policy: BackoffPolicy) -> RetryTable:
    return RetryTable.build(policy)
