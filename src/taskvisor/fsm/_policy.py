"""Restart, backoff and jitter policies: immutable, validated values (docs/spec/api.md section 3).

Owns: ``JitterPolicy``, ``RestartPolicy``, ``BackoffPolicy`` and their validation. The
arithmetic that turns a policy into delays lives in ``_backoff``. Must not import anything that
does I/O (architecture rule 1).
"""

from __future__ import annotations

import enum
import math
from datetime import timedelta
from fractions import Fraction
from typing import ClassVar

import attrs

from taskvisor._errors import ConfigError, ConfigTypeError
from taskvisor.fsm._duration import Duration, ns_to_s, to_ns

__all__ = ["FIXED_POINT_BITS", "BackoffPolicy", "JitterPolicy", "RestartMode", "RestartPolicy"]

#: Fractional bits of the fixed-point factor used by ``_backoff.base_ns`` (exact for every float
#: factor, since a float >= 1 has at most 52 fractional bits).
FIXED_POINT_BITS = 128

_MAX_INT_FACTOR = int(math.nextafter(math.inf, 0.0))  # the largest finite float


class JitterPolicy(enum.Enum):
    """How a backoff delay is randomised (docs/spec/api.md section 3, after Brooker, AWS 2015)."""

    NONE = "none"
    FULL = "full"
    EQUAL = "equal"
    DECORRELATED = "decorrelated"


class RestartMode(enum.Enum):
    """When a task that ended is started again."""

    NEVER = "never"
    ON_FAILURE = "on_failure"
    ALWAYS = "always"


@attrs.frozen(init=False)
class RestartPolicy:
    """When to restart a task: ``NEVER``, ``ON_FAILURE`` or ``always(interval, jitter)``.

    Attributes:
        mode: the restart mode.
        interval: for ``always``, the pause in seconds after a *successful* attempt (None: 0).
        jitter: for ``always``, how much the pause varies: uniform in
            ``[interval * (1 - jitter), interval * (1 + jitter)]``, ``0 <= jitter <= 1``.
    """

    mode: RestartMode
    interval: float | None
    interval_ns: int = attrs.field(eq=False, repr=False)
    jitter: float = 0.0
    spread_ns: int = attrs.field(default=0, eq=False, repr=False)

    NEVER: ClassVar[RestartPolicy]
    ON_FAILURE: ClassVar[RestartPolicy]

    def __init__(
        self, mode: RestartMode, interval: Duration | None = None, jitter: float = 0.0
    ) -> None:
        if not isinstance(mode, RestartMode):
            raise ConfigTypeError("RestartPolicy.mode", "a RestartMode", mode)
        if interval is not None and mode is not RestartMode.ALWAYS:
            raise ConfigError("RestartPolicy.interval", "only RestartPolicy.always takes one")
        ns = 0 if interval is None else to_ns(interval, "RestartPolicy.interval")
        fraction = _interval_jitter(jitter, mode)
        # Rounded inwards to the nanosecond: every pause lies within the documented range.
        spread = (ns * fraction.numerator) // fraction.denominator
        self.__attrs_init__(
            mode, None if interval is None else ns_to_s(ns), ns, float(jitter), spread
        )

    @classmethod
    def always(cls, interval: Duration | None = None, jitter: float = 0.0) -> RestartPolicy:
        """Restart after every end; ``interval`` is the pause after a successful attempt.

        ``jitter`` (0 to 1) spreads that pause uniformly over ``interval * (1 ± jitter)``, so
        periodic tasks started together drift apart instead of polling in step.
        """
        return cls(RestartMode.ALWAYS, interval, jitter)

    def __repr__(self) -> str:
        if self.mode is RestartMode.ALWAYS:
            extra = f", jitter={self.jitter!r}" if self.jitter else ""
            return f"RestartPolicy.always(interval={self.interval!r}{extra})"
        return f"RestartPolicy.{self.mode.name}"


def _interval_jitter(jitter: object, mode: RestartMode) -> Fraction:
    """Validate ``RestartPolicy.jitter`` (a number in [0, 1]); its exact value."""
    field = "RestartPolicy.jitter"
    if isinstance(jitter, bool) or not isinstance(jitter, int | float):
        raise ConfigError(field, f"expected a number in [0, 1], got {jitter!r}")
    if not 0 <= jitter <= 1:  # NaN compares false: refused too
        raise ConfigError(field, f"must be in [0, 1], got {jitter!r}")
    if jitter and mode is not RestartMode.ALWAYS:
        raise ConfigError(field, "only RestartPolicy.always takes one")
    return Fraction(jitter)


RestartPolicy.NEVER = RestartPolicy(RestartMode.NEVER)
RestartPolicy.ON_FAILURE = RestartPolicy(RestartMode.ON_FAILURE)


def _seconds(value: Duration, field: str) -> tuple[float, int]:
    ns = to_ns(value, field)
    exact = float(value.total_seconds()) if isinstance(value, timedelta) else float(value)
    return exact, ns


@attrs.frozen(init=False)
class BackoffPolicy:
    """Delays between the attempts of a failure streak.

    ``base(n) = min(max, first * factor**n)`` for the n-th retry (n = 0, 1, ...), then jitter,
    then raised to ``floor``. Durations are float seconds (or ``timedelta``); internally exact
    integer nanoseconds (``*_ns``).
    """

    first: float
    max: float
    factor: float
    jitter: JitterPolicy
    floor: float
    first_ns: int = attrs.field(eq=False, repr=False)
    max_ns: int = attrs.field(eq=False, repr=False)
    floor_ns: int = attrs.field(eq=False, repr=False)
    factor_fixed: int = attrs.field(eq=False, repr=False)

    def __init__(
        self,
        first: Duration = 0.2,
        max: Duration = 30.0,
        factor: float = 2.0,
        jitter: JitterPolicy = JitterPolicy.EQUAL,
        floor: Duration = 0.0,
    ) -> None:
        first_s, first_ns = _seconds(first, "BackoffPolicy.first")
        max_s, max_ns = _seconds(max, "BackoffPolicy.max")
        floor_s, floor_ns = _seconds(floor, "BackoffPolicy.floor")
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            raise ConfigTypeError("BackoffPolicy.factor", "a number", factor)
        # An int beyond the float range is as unusable as inf (math.isfinite would overflow).
        if (isinstance(factor, int) and factor > _MAX_INT_FACTOR) or not math.isfinite(factor):
            raise ConfigError("BackoffPolicy.factor", f"must be finite, got {factor!r}")
        if factor < 1:
            raise ConfigError("BackoffPolicy.factor", f"must be >= 1, got {factor!r}")
        if first_ns > max_ns:
            raise ConfigError(
                "BackoffPolicy.first", f"must not exceed max ({max_s!r}), got {first!r}"
            )
        if not isinstance(jitter, JitterPolicy):
            raise ConfigTypeError("BackoffPolicy.jitter", "a JitterPolicy", jitter)
        exact = Fraction(factor)
        fixed = (exact.numerator << FIXED_POINT_BITS) // exact.denominator
        self.__attrs_init__(
            first_s, max_s, float(factor), jitter, floor_s, first_ns, max_ns, floor_ns, fixed
        )

    @classmethod
    def constant(
        cls, delay: Duration, *, jitter: JitterPolicy = JitterPolicy.NONE
    ) -> BackoffPolicy:
        """The same delay before every retry; ``constant(0)`` retries at once."""
        return cls(first=delay, max=delay, factor=1.0, jitter=jitter)

    @classmethod
    def exponential(
        cls,
        first: Duration,
        factor: float = 2.0,
        max: Duration = 30.0,
        *,
        jitter: JitterPolicy = JitterPolicy.NONE,
        floor: Duration = 0.0,
    ) -> BackoffPolicy:
        """``first * factor**n`` capped at ``max``; no jitter unless ``jitter=`` is given."""
        return cls(first=first, max=max, factor=factor, jitter=jitter, floor=floor)

    @property
    def ceiling_ns(self) -> int:
        """The largest delay this policy can produce: ``max(max, floor)`` (invariant I4)."""
        return self.max_ns if self.max_ns >= self.floor_ns else self.floor_ns
