"""Tests for ``taskvisor.fsm._duration``: user durations to exact integer nanoseconds."""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import ConfigError
from taskvisor.fsm import NS_PER_S, ns_to_s, to_ns


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (0.0, 0),
        (1, NS_PER_S),
        (0.2, 200_000_000),
        (1.5, 1_500_000_000),
        (timedelta(0), 0),
        (timedelta(milliseconds=200), 200_000_000),
        (timedelta(days=1, seconds=2, microseconds=3), 86_402_000_003_000),
        (2**-10, 976_562),  # exactly 976562.5 ns: rounded half-to-even
        (3 * 2**-10, 2_929_688),  # exactly 2929687.5 ns
        (1e-10, 0),
    ],
)
def test_to_ns_converts_seconds_and_timedeltas(value: object, expected: int) -> None:
    assert to_ns(value, "f") == expected


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_float_is_rounded_from_its_exact_binary_value(value: float) -> None:
    ns = to_ns(value, "f")
    exact = Fraction(value) * NS_PER_S
    assert abs(ns - exact) <= Fraction(1, 2)
    assert ns == round(exact)


@given(st.integers(min_value=0, max_value=10**12))
def test_timedelta_and_float_microseconds_agree(us: int) -> None:
    # Every whole number of microseconds gives the same nanoseconds either way.
    assert to_ns(timedelta(microseconds=us), "f") == to_ns(us / 1_000_000, "f") == us * 1000


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        -1e-12,  # negative, even though it rounds to 0 ns
        -5e-324,
        timedelta(microseconds=-1),
        timedelta(days=-1),
        float("-inf"),
        float("inf"),
        float("nan"),
        True,
        False,
        "1",
        None,
        Fraction(1, 2),
        [1],
        10**400,  # an int too large to report as float seconds
        -(10**400),
    ],
)
def test_bad_durations_raise_config_error_naming_the_field(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        to_ns(value, "Some.field")
    assert info.value.field == "Some.field"
    assert str(info.value).startswith("Some.field: ")


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        to_ns(-1.0, "x")


def test_negative_zero_is_zero() -> None:
    assert to_ns(-0.0, "f") == 0


def test_the_largest_float_and_timedelta_convert() -> None:
    assert to_ns(timedelta.max, "f") > 0
    big = to_ns(1.7976931348623157e308, "f")
    assert math.isfinite(ns_to_s(big))


@given(st.integers(min_value=0, max_value=10**30))
def test_ns_to_s_is_the_nearest_float(ns: int) -> None:
    assert ns_to_s(ns) == float(Fraction(ns, NS_PER_S))
