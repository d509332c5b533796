"""Durations: user input (float seconds or timedelta) to exact integer nanoseconds.

Owns: the conversion and validation of every duration the core accepts, and of every
capacity (``capacity``) (architecture rule 2:
time inside the core is an exact integer). Must not import anything that does I/O.
"""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction

from taskvisor._errors import ConfigError, ConfigTypeError

__all__ = ["NS_PER_S", "Duration", "capacity", "ns_to_s", "to_ns"]

NS_PER_S = 1_000_000_000

Duration = float | int | timedelta

_MAX_INT_SECONDS = int(math.nextafter(math.inf, 0.0))  # the largest finite float


def to_ns(value: object, field: str) -> int:
    """Convert a duration to integer nanoseconds, raising ``ConfigError`` naming ``field``.

    Floats are taken at their exact binary value and rounded half-to-even to the nanosecond,
    so the same input gives the same integer on every machine (I8).
    """
    if isinstance(value, timedelta):
        ns = (value.days * 86_400 + value.seconds) * NS_PER_S + value.microseconds * 1_000
        negative = ns < 0
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigTypeError(field, "seconds (float) or timedelta", value)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(field, f"must be finite, got {value!r}")
    elif isinstance(value, int) and not -_MAX_INT_SECONDS <= value <= _MAX_INT_SECONDS:
        # Durations are reported as float seconds: an int beyond the float range cannot be.
        raise ConfigError(field, f"must be finite as float seconds, got {value!r}")
    else:
        ns = round(Fraction(value) * NS_PER_S)
        negative = value < 0  # before rounding: -1e-12 is negative though it rounds to 0 ns
    if negative:
        raise ConfigError(field, f"must not be negative, got {value!r}")
    return ns


def ns_to_s(ns: int) -> float:
    """Report integer nanoseconds as float seconds (the public unit)."""
    return ns / NS_PER_S


def capacity(value: object, field: str) -> int:
    """Validate a capacity or limit: an ``int >= 1`` (docs/spec/api.md section 3)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigTypeError(field, "an int", value)
    if value < 1:
        raise ConfigError(field, f"must be >= 1, got {value!r}")
    return value
