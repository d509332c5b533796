"""Tests for ``taskvisor.fsm._policy``: restart/backoff/jitter policies, validated at construction.

Also the capacities of ``CoreConfig`` (docs/spec/api.md section 3: "capacities < 1" are bad values).
"""

from __future__ import annotations

import math
from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, ConfigError, JitterPolicy, RestartPolicy
from taskvisor.fsm import CoreConfig, RestartMode, SubscriberInfo, to_ns
from taskvisor.fsm._backoff import base_ns

NAN, INF = float("nan"), float("inf")

BAD_DURATIONS = [NAN, INF, -INF, -1, -0.5, -1e-12, timedelta(seconds=-1), "1", None, True, 10**400]


def field_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(ConfigError) as info:
        call()
    return info.value.field


# -- BackoffPolicy ------------------------------------------------------------------------------


def test_backoff_defaults_are_those_of_the_contract() -> None:
    p = BackoffPolicy()
    assert (p.first, p.max, p.factor, p.jitter, p.floor) == (0.2, 30.0, 2.0, JitterPolicy.EQUAL, 0)
    assert (p.first_ns, p.max_ns, p.floor_ns) == (200_000_000, 30_000_000_000, 0)


@pytest.mark.parametrize("name", ["first", "max", "floor"])
@pytest.mark.parametrize("bad", BAD_DURATIONS, ids=repr)
def test_bad_backoff_duration_names_its_field(name: str, bad: object) -> None:
    kwargs: dict[str, object] = {"first": 0.0, "max": 1e6}
    kwargs[name] = bad
    assert field_of(lambda: BackoffPolicy(**kwargs)) == f"BackoffPolicy.{name}"  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [NAN, INF, -INF, 0.999, 0, -2.0, "2", None, True, 10**400])
def test_bad_factor_names_its_field(bad: object) -> None:
    assert field_of(lambda: BackoffPolicy(factor=bad)) == "BackoffPolicy.factor"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "max_"),
    [(2.0, 1.0), (timedelta(seconds=2), 1.0), (1.000001, timedelta(seconds=1)), (31.0, 30)],
)
def test_first_above_max_is_rejected_naming_first(first: object, max_: object) -> None:
    with pytest.raises(ConfigError, match="must not exceed max") as info:
        BackoffPolicy(first=first, max=max_)  # type: ignore[arg-type]
    assert info.value.field == "BackoffPolicy.first"


@pytest.mark.parametrize("bad", ["equal", None, 1, RestartMode.NEVER])
def test_bad_jitter_names_its_field(bad: object) -> None:
    assert field_of(lambda: BackoffPolicy(jitter=bad)) == "BackoffPolicy.jitter"  # type: ignore[arg-type]


def test_floor_may_exceed_max_and_raises_the_ceiling() -> None:
    p = BackoffPolicy(first=1.0, max=2.0, floor=5.0)
    assert p.ceiling_ns == 5 * 10**9
    assert BackoffPolicy(first=1.0, max=2.0, floor=1.0).ceiling_ns == 2 * 10**9


durations = st.one_of(
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=10**6),
    st.builds(timedelta, microseconds=st.integers(min_value=0, max_value=10**15)),
)
factors = st.one_of(
    st.floats(min_value=1.0, max_value=1e300, allow_nan=False),
    st.integers(min_value=1, max_value=10**6),
)


@given(durations, durations, factors, st.sampled_from(JitterPolicy), durations)
def test_every_valid_combination_constructs(
    a: float | int | timedelta,
    b: float | int | timedelta,
    factor: float,
    jitter: JitterPolicy,
    floor: float | int | timedelta,
) -> None:
    first, max_ = (a, b) if to_ns(a, "") <= to_ns(b, "") else (b, a)
    p = BackoffPolicy(first=first, max=max_, factor=factor, jitter=jitter, floor=floor)
    assert (p.first_ns, p.max_ns, p.floor_ns) == (
        to_ns(first, ""),
        to_ns(max_, ""),
        to_ns(floor, ""),
    )
    assert p.factor == float(factor)
    assert p.jitter is jitter
    assert p.ceiling_ns == max(p.max_ns, p.floor_ns)
    assert all(isinstance(v, float) for v in (p.first, p.max, p.floor, p.factor))
    # The policy is usable: its first delay and a far one are computable.
    assert base_ns(p, 0) == p.first_ns
    assert p.first_ns <= base_ns(p, 10**6) <= p.max_ns


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(JitterPolicy),
)
def test_timedelta_and_float_give_equal_policies(
    a: int, b: int, floor: int, j: JitterPolicy
) -> None:
    lo, hi = sorted((a, b))
    from_td = BackoffPolicy(
        first=timedelta(microseconds=lo),
        max=timedelta(microseconds=hi),
        floor=timedelta(microseconds=floor),
        jitter=j,
    )
    from_s = BackoffPolicy(first=lo / 10**6, max=hi / 10**6, floor=floor / 10**6, jitter=j)
    assert from_td == from_s
    assert hash(from_td) == hash(from_s)
    assert (from_td.first_ns, from_td.max_ns, from_td.floor_ns) == (
        from_s.first_ns,
        from_s.max_ns,
        from_s.floor_ns,
    )
    assert from_td.first_ns == lo * 1000


def test_constant_is_one_delay_with_no_jitter() -> None:
    p = BackoffPolicy.constant(1.5)
    assert (p.first, p.max, p.factor, p.jitter, p.floor) == (1.5, 1.5, 1.0, JitterPolicy.NONE, 0.0)
    assert {base_ns(p, n) for n in (0, 1, 7, 10**18)} == {1_500_000_000}
    assert BackoffPolicy.constant(timedelta(seconds=1.5)) == p
    assert BackoffPolicy.constant(1.5, jitter=JitterPolicy.FULL).jitter is JitterPolicy.FULL


def test_constant_zero_retries_at_once() -> None:
    p = BackoffPolicy.constant(0)
    assert {base_ns(p, n) for n in (0, 1, 10**18)} == {0}


def test_exponential_defaults_to_no_jitter() -> None:
    p = BackoffPolicy.exponential(0.1)
    assert (p.first, p.factor, p.max, p.jitter, p.floor) == (0.1, 2.0, 30.0, JitterPolicy.NONE, 0.0)
    q = BackoffPolicy.exponential(0.1, 3.0, 5.0, jitter=JitterPolicy.DECORRELATED, floor=0.05)
    assert (q.factor, q.max, q.jitter, q.floor) == (3.0, 5.0, JitterPolicy.DECORRELATED, 0.05)


def test_named_constructors_validate_too() -> None:
    assert field_of(lambda: BackoffPolicy.constant(-1)) == "BackoffPolicy.first"
    assert field_of(lambda: BackoffPolicy.exponential(1.0, 0.5)) == "BackoffPolicy.factor"
    assert field_of(lambda: BackoffPolicy.exponential(2.0, max=1.0)) == "BackoffPolicy.first"


def test_policies_are_immutable_values() -> None:
    p = BackoffPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.first = 1.0  # type: ignore[misc]
    assert p == BackoffPolicy()
    assert hash(p) == hash(BackoffPolicy())
    assert p != BackoffPolicy(jitter=JitterPolicy.FULL)
    assert "first=0.2" in repr(p)
    assert "_ns" not in repr(p)


# -- RestartPolicy ------------------------------------------------------------------------------


def test_restart_constants_and_always() -> None:
    assert RestartPolicy.NEVER.mode is RestartMode.NEVER
    assert RestartPolicy(RestartMode.ON_FAILURE) == RestartPolicy.ON_FAILURE
    a = RestartPolicy.always(2.5)
    assert (a.mode, a.interval, a.interval_ns) == (RestartMode.ALWAYS, 2.5, 2_500_000_000)
    assert RestartPolicy.always(timedelta(seconds=2.5)) == a
    b = RestartPolicy.always()
    assert (b.interval, b.interval_ns) == (None, 0)
    assert repr(a) == "RestartPolicy.always(interval=2.5)"
    assert repr(RestartPolicy.NEVER) == "RestartPolicy.NEVER"


@pytest.mark.parametrize("bad", [b for b in BAD_DURATIONS if b is not None], ids=repr)
def test_bad_interval_names_its_field(bad: object) -> None:
    assert field_of(lambda: RestartPolicy.always(bad)) == "RestartPolicy.interval"  # type: ignore[arg-type]


def test_interval_only_for_always() -> None:
    assert field_of(lambda: RestartPolicy(RestartMode.NEVER, 1.0)) == "RestartPolicy.interval"
    assert field_of(lambda: RestartPolicy("never")) == "RestartPolicy.mode"  # type: ignore[arg-type]


# -- capacities (CoreConfig, subscribers) -------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_max_concurrent_below_one_or_not_an_int_is_rejected(bad: object) -> None:
    field = field_of(lambda: CoreConfig(max_concurrent=bad))  # type: ignore[arg-type]
    assert field == "CoreConfig.max_concurrent"


@pytest.mark.parametrize("bad", [0, -5, False, 2.0, None])
def test_subscriber_capacity_below_one_is_rejected(bad: object) -> None:
    sub = SubscriberInfo("slow", bad)  # type: ignore[arg-type]
    field = field_of(lambda: CoreConfig(subscribers=[SubscriberInfo("ok", 1), sub]))
    assert field == "CoreConfig.subscribers['slow'].capacity"


@pytest.mark.parametrize("name", ["grace", "force_wait"])
@pytest.mark.parametrize("bad", BAD_DURATIONS, ids=repr)
def test_bad_config_durations_name_their_field(name: str, bad: object) -> None:
    assert field_of(lambda: CoreConfig(**{name: bad})) == f"CoreConfig.{name}"


def test_bad_defaults_and_controller_are_rejected() -> None:
    assert field_of(lambda: CoreConfig(defaults=object())) == "CoreConfig.defaults"  # type: ignore[arg-type]
    assert field_of(lambda: CoreConfig(controller=object())) == "CoreConfig.controller"  # type: ignore[arg-type]


def test_valid_config_converts_to_ns() -> None:
    c = CoreConfig(
        timedelta(seconds=3),
        force_wait=0.25,
        max_concurrent=1,
        subscribers=[SubscriberInfo("a", 1)],
    )
    assert (c.grace_ns, c.force_wait_ns, c.max_concurrent, c.capacities) == (
        3 * 10**9,
        250_000_000,
        1,
        (1,),
    )
    assert CoreConfig(0).grace_ns == 0
    assert math.isclose(CoreConfig().grace_ns / 1e9, 60.0)
