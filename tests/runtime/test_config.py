"""``SupervisorConfig``: defaults, validation naming the field, random source, core settings."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

import taskvisor as tv
from taskvisor.fsm import NS_PER_S, SubscriberInfo
from taskvisor.runtime import Clock, LoopClock


def test_defaults_are_those_of_api_md() -> None:
    c = tv.SupervisorConfig()
    assert c.grace == 60.0
    assert c.subscriber_shutdown_timeout == 5.0
    assert c.max_concurrent is None
    assert c.registry_queue_capacity == 1024
    assert c.force_wait == 1.0
    assert (c.seed, c.random, c.clock) == (None, None, None)
    assert isinstance(c.make_clock(), LoopClock)


def test_durations_accept_timedelta_and_report_float_seconds() -> None:
    c = tv.SupervisorConfig(grace=timedelta(milliseconds=1500), force_wait=2)
    assert c.grace == 1.5
    assert isinstance(c.force_wait, float)
    assert c.grace_ns == 3 * NS_PER_S // 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"grace": -1.0}, "SupervisorConfig.grace"),
        ({"grace": math.nan}, "SupervisorConfig.grace"),
        ({"grace": math.inf}, "SupervisorConfig.grace"),
        ({"grace": "60"}, "SupervisorConfig.grace"),
        ({"subscriber_shutdown_timeout": -0.1}, "SupervisorConfig.subscriber_shutdown_timeout"),
        ({"force_wait": timedelta(seconds=-1)}, "SupervisorConfig.force_wait"),
        ({"max_concurrent": 0}, "SupervisorConfig.max_concurrent"),
        ({"max_concurrent": True}, "SupervisorConfig.max_concurrent"),
        ({"max_concurrent": 2.0}, "SupervisorConfig.max_concurrent"),
        ({"registry_queue_capacity": 0}, "SupervisorConfig.registry_queue_capacity"),
        ({"registry_queue_capacity": None}, "SupervisorConfig.registry_queue_capacity"),
        ({"seed": "x"}, "SupervisorConfig.seed"),
        ({"seed": False}, "SupervisorConfig.seed"),
        ({"random": object()}, "SupervisorConfig.random"),
        ({"seed": 1, "random": random.Random(1)}, "SupervisorConfig.random"),
        ({"clock": object()}, "SupervisorConfig.clock"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(tv.ConfigError) as info:
        tv.SupervisorConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_a_seed_gives_the_same_draws_to_every_supervisor_built_with_it() -> None:
    c = tv.SupervisorConfig(seed=42)
    a, b = c.make_random(), c.make_random()
    assert [a.random() for _ in range(5)] == [b.random() for _ in range(5)]
    assert a is not b


def test_an_injected_random_source_is_used_as_is() -> None:
    class Fixed:
        def random(self) -> float:
            return 0.5

    src = Fixed()
    assert tv.SupervisorConfig(random=src).make_random() is src


def test_without_seed_the_source_is_an_unseeded_random() -> None:
    c = tv.SupervisorConfig()
    a, b = c.make_random(), c.make_random()
    assert isinstance(a, random.Random)
    assert [a.random() for _ in range(3)] != [b.random() for _ in range(3)]


def test_core_config_carries_the_settings_exactly() -> None:
    defaults = tv.TaskDefaults(max_retries=3)
    c = tv.SupervisorConfig(grace=0.1, force_wait=timedelta(microseconds=7), max_concurrent=4)
    core = c.core_config([SubscriberInfo("s", 8)], defaults)
    assert core.grace_ns == 100_000_000
    assert core.force_wait_ns == 7_000
    assert core.max_concurrent == 4
    assert core.subscribers == (SubscriberInfo("s", 8),)
    assert core.defaults is defaults


def test_a_custom_clock_is_accepted() -> None:
    class Manual:
        def now_ns(self) -> int:
            return 0

        async def sleep_until_ns(self, deadline_ns: int) -> None:
            return None

    clock = Manual()
    assert isinstance(clock, Clock)
    assert tv.SupervisorConfig(clock=clock).make_clock() is clock


def test_configs_compare_by_value() -> None:
    assert tv.SupervisorConfig(grace=1) == tv.SupervisorConfig(grace=1.0)
    assert tv.SupervisorConfig(grace=1) != tv.SupervisorConfig(grace=2)
