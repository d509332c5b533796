"""Shared retry budgets: token buckets that restarts after failures draw from (I9).

The contract: docs/spec/api.md section 8, "Shared retry budget".

Owns: ``RetryBudget`` (the public value, validated at construction), ``Bucket`` (one budget's
state inside the core, mutated in place by ``step``) and the integer arithmetic behind it
(``refill``, ``wait_ns``) with PEP 316 contracts that CrossHair checks (``tools/contracts.py``).
Must not import anything that does I/O.

Exact arithmetic (architecture rule 2). ``per_second`` is taken at its exact binary value
``p/q``; a token is ``unit`` units and one nanosecond refills ``gain`` units, with
``unit/gain = 1e9*q/p`` ns per token in lowest terms. So the level is an integer, refilled from
elapsed integer nanoseconds, and the same on every machine (I8).

Waiting restarts. A restart takes its token when its backoff deadline passes (so restarts are
served in the order of their deadlines). With no whole token left it takes the *next* one ahead
of time: the level goes below zero, and the restart waits until the level is back to zero
(virtual scheduling, as in the GCRA of ITU-T I.371). Later restarts queue behind it by the same
arithmetic, so no queue is stored: only the grant times, to check I9. A token taken by a restart
that is then removed is spent: handing it to a later restart would start that one before the
deadline it was given (I4), and putting it back could let the bucket hold more than ``burst``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Mapping
from fractions import Fraction

import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm._duration import NS_PER_S, capacity

__all__ = ["Bucket", "RetryBudget", "check_budget_name", "check_budgets", "refill", "wait_ns"]

_MAX_INT_RATE = int(math.nextafter(math.inf, 0.0))  # the largest finite float


def _rate(per_second: object) -> tuple[float, int, int]:
    """``(per_second as float, unit, gain)``, or ``ConfigError`` naming the field."""
    field = "RetryBudget.per_second"
    if isinstance(per_second, bool) or not isinstance(per_second, int | float):
        raise ConfigError(field, f"expected a number of tokens per second, got {per_second!r}")
    if (isinstance(per_second, int) and abs(per_second) > _MAX_INT_RATE) or not math.isfinite(
        per_second
    ):
        raise ConfigError(field, f"must be finite, got {per_second!r}")
    if per_second <= 0:
        raise ConfigError(field, f"must be > 0 (a budget that never refills), got {per_second!r}")
    exact = Fraction(per_second)
    unit = NS_PER_S * exact.denominator
    gain = exact.numerator
    common = math.gcd(unit, gain)
    return float(per_second), unit // common, gain // common


@attrs.frozen(init=False)
class RetryBudget:
    """A token bucket shared by the tasks that name it (``TaskSpec(retry_budget=...)``).

    Each restart after a failure takes one token; the bucket refills ``per_second`` tokens per
    second up to ``burst``, and starts full. A restart that finds none waits for the next one.

    Attributes:
        per_second: tokens added per second (> 0).
        burst: the most tokens the bucket holds (>= 1): how many restarts may go at once.
    """

    per_second: float
    burst: int
    unit: int = attrs.field(eq=False, repr=False)
    gain: int = attrs.field(eq=False, repr=False)

    def __init__(self, per_second: float, burst: int) -> None:
        rate, unit, gain = _rate(per_second)
        self.__attrs_init__(rate, capacity(burst, "RetryBudget.burst"), unit, gain)

    @property
    def cap(self) -> int:
        """``burst`` tokens, in units."""
        return self.burst * self.unit


def check_budgets(given: object, field: str) -> tuple[tuple[str, RetryBudget], ...]:
    """Validate a mapping of names to ``RetryBudget``; its items sorted by name."""
    if given is None:
        return ()
    if not isinstance(given, Mapping):
        raise ConfigError(field, f"expected a mapping of names to RetryBudget, got {given!r}")
    for name, budget in given.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(field, f"a budget's name must be a non-empty str, got {name!r}")
        if not isinstance(budget, RetryBudget):
            raise ConfigError(field, f"{name!r}: expected a RetryBudget, got {budget!r}")
    return tuple(sorted(given.items()))


def check_budget_name(task: str, name: str | None, budgets: Collection[str], where: str) -> None:
    """Refuse task ``task`` naming a retry budget ``name`` that ``where`` does not configure.

    One check for the runtime (at ``add``/``run``/``submit``, naming ``SupervisorConfig``) and
    the core (guarding the other drivers, naming ``CoreConfig``); docs/spec/api.md section 8.
    """
    if name is not None and name not in budgets:
        known = ", ".join(map(repr, sorted(budgets))) or "none"
        raise ConfigError(
            "TaskSpec.retry_budget",
            f"task {task!r} names the retry budget {name!r}, which is not configured "
            f"({where} has {known})",
        )


def refill(level: int, at: int, now: int, gain: int, cap: int) -> int:
    """The level at ``now`` of a bucket that held ``level`` units at ``at``.

    Refill adds ``gain`` units per elapsed nanosecond, up to ``cap``; a level above ``cap`` is
    impossible (I9), a level below zero is debt owed to waiting restarts and refills alike.

    pre: gain >= 1
    pre: cap >= 1
    pre: level <= cap
    pre: now >= at
    post: level <= __return__ <= cap
    post: __return__ == cap or __return__ == level + gain * (now - at)
    """
    level += gain * (now - at)
    return level if level < cap else cap


def wait_ns(level: int, gain: int) -> int:
    """How long until a bucket at ``level`` (after its taker's unit is taken) is back at zero.

    Zero when a whole token was there; otherwise the first nanosecond at which the token the
    restart took ahead of time has arrived (I9: never before it, never later).

    pre: gain >= 1
    post: __return__ >= 0
    post: level + gain * __return__ >= 0
    post: __return__ == 0 or level + gain * (__return__ - 1) < 0
    post: (__return__ == 0) == (level >= 0)
    """
    if level >= 0:
        return 0
    return (-level + gain - 1) // gain


class Bucket:
    """One retry budget's state, owned by the core's state and mutated in place by ``step``.

    Attributes:
        budget: the budget's settings.
        level: units at ``at`` (negative: tokens already promised to waiting restarts).
        at: when ``level`` was last brought up to date (None: never used, so full).
        grants: the times at which waiting restarts get their tokens, in order (I9's check);
            a grant stays until a later take passes it, even if its restart was removed.
    """

    __slots__ = ("at", "budget", "grants", "level")

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self.level = budget.cap
        self.at: int | None = None
        self.grants: deque[int] = deque()

    def level_at(self, now: int) -> int:
        """The level at ``now`` (>= ``at``) in units, without changing the bucket."""
        if self.at is None:
            return self.level
        budget = self.budget
        return refill(self.level, self.at, now, budget.gain, budget.cap)

    def tokens(self, now: int) -> float:
        """Whole and partial tokens available at ``now`` (negative: owed to waiting restarts)."""
        return self.level_at(now) / self.budget.unit

    def take(self, now: int) -> int:
        """Take one token at ``now``; return how long the restart must wait for it (ns)."""
        budget = self.budget
        level = self.level_at(now) - budget.unit
        self.level = level
        self.at = now
        grants = self.grants
        while grants and grants[0] <= now:
            grants.popleft()
        wait = wait_ns(level, budget.gain)
        if wait:
            grants.append(now + wait)
        return wait

    def copy(self) -> Bucket:
        new = Bucket(self.budget)
        new.level, new.at, new.grants = self.level, self.at, deque(self.grants)
        return new

    def snapshot(self) -> tuple[int, int | None, tuple[int, ...]]:
        """``(level, at, grants)``: a plain comparable copy."""
        return self.level, self.at, tuple(self.grants)

    def __repr__(self) -> str:
        return (
            f"Bucket({self.budget!r}, level={self.level}, at={self.at}, waiting={len(self.grants)})"
        )
