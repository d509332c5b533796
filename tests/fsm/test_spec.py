"""Tests for ``taskvisor.fsm._spec``: task specs, supervisor defaults and INHERIT resolution."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import (
    INHERIT,
    BackoffPolicy,
    ConfigError,
    Intensity,
    JitterPolicy,
    RestartPolicy,
    TaskDefaults,
    TaskFn,
    TaskSpec,
)
from taskvisor.fsm import to_ns
from taskvisor.fsm._spec import ResolvedSpec, task_name

from .driver import body, fn

NAN, INF = float("nan"), float("inf")


async def crawler(ctx: object) -> None:
    """A bare async function: its name is the task's."""


class StatefulTask:
    name = "stateful"

    async def run(self, ctx: object) -> None:
        """Keeps state across attempts (the ``Task`` protocol)."""


def field_of(call: object) -> str:
    assert callable(call)
    with pytest.raises(ConfigError) as info:
        call()
    return info.value.field


# -- names ----------------------------------------------------------------------------------------


def test_name_comes_from_taskfn_task_or_function() -> None:
    assert TaskSpec(fn("a")).name == "a"
    assert TaskSpec(StatefulTask()).name == "stateful"
    assert TaskSpec(crawler).name == "crawler"
    assert TaskSpec(crawler, name="other").name == "other"


class _NumberedCallable:
    """A callable whose ``__name__`` is not a str (a mock, a C callable wrapper...)."""

    __name__ = 7

    async def __call__(self, ctx: object) -> None:
        """Never run."""


def test_a_name_that_is_not_a_str_is_not_derived_and_the_user_is_asked_for_one() -> None:
    task = _NumberedCallable()
    assert task_name(task) is None
    with pytest.raises(ConfigError, match="pass name=") as info:
        TaskSpec(task)
    assert info.value.field == "TaskSpec.name"
    assert TaskSpec(task, name="numbered").name == "numbered"


@pytest.mark.parametrize("task", [object(), 42, None])
def test_a_task_without_a_name_is_rejected(task: object) -> None:
    assert field_of(lambda: TaskSpec(task)) == "TaskSpec.task"


@pytest.mark.parametrize("name", ["", 3, b"x"])
def test_a_bad_name_is_rejected(name: object) -> None:
    assert field_of(lambda: TaskSpec(body, name=name)) == "TaskSpec.name"  # type: ignore[arg-type]


def type_error_field(call: object) -> str:
    """The field a wrong type names; it is a ``TypeError`` and a ``ConfigError`` at once."""
    assert callable(call)
    with pytest.raises(TypeError) as info:
        call()
    assert isinstance(info.value, ConfigError)
    return info.value.field


@pytest.mark.parametrize("task", [42, None, object(), "crawler", StatefulTask])
def test_a_task_that_cannot_run_is_a_type_error(task: object) -> None:
    assert type_error_field(lambda: TaskSpec(task, name="x")) == "TaskSpec.task"  # type: ignore[arg-type]


def test_a_task_class_instead_of_an_instance_is_named_in_the_error() -> None:
    with pytest.raises(TypeError, match="not a class"):
        TaskSpec(StatefulTask)  # type: ignore[arg-type]


def test_taskfn_refuses_an_empty_name_and_a_function_that_is_not_callable() -> None:
    assert field_of(lambda: TaskFn("", body)) == "TaskFn.name"
    assert type_error_field(lambda: TaskFn(3, body)) == "TaskFn.name"  # type: ignore[arg-type]
    assert type_error_field(lambda: TaskFn("x", 42)) == "TaskFn.fn"  # type: ignore[arg-type]
    assert type_error_field(lambda: TaskFn("x", None)) == "TaskFn.fn"  # type: ignore[arg-type]


def test_a_partial_is_named_after_the_function_it_wraps() -> None:
    async def poll(ctx: object, url: str) -> None: ...

    spec = TaskSpec(functools.partial(functools.partial(poll), url="http://x"))
    assert spec.name == "poll"
    assert TaskSpec(functools.partial(poll, url="x"), name="poll-x").name == "poll-x"


def test_a_callable_with_no_name_needs_name() -> None:
    class Job:
        async def __call__(self, ctx: object) -> None: ...

    with pytest.raises(ConfigError, match=r"pass name=") as info:
        TaskSpec(Job())
    assert info.value.field == "TaskSpec.name"
    assert TaskSpec(Job(), name="job").name == "job"


def test_taskfn_is_a_value() -> None:
    assert TaskFn("x", body) == TaskFn("x", body)
    assert TaskFn("x", body).name == "x"


# -- field validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [0, 0.0, -1, -1e-12, NAN, INF, -INF, timedelta(0), timedelta(seconds=-1), "1", True]
)
def test_bad_timeout_names_its_field(bad: object) -> None:
    assert field_of(lambda: TaskSpec(fn("x"), timeout=bad)) == "TaskSpec.timeout"  # type: ignore[arg-type]
    assert field_of(lambda: TaskDefaults(timeout=bad)) == "TaskDefaults.timeout"  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, True, False, 1.0, "3", NAN])
def test_max_retries_below_one_or_not_an_int_is_rejected(bad: object) -> None:
    assert field_of(lambda: TaskSpec(fn("x"), max_retries=bad)) == "TaskSpec.max_retries"  # type: ignore[arg-type]
    assert field_of(lambda: TaskDefaults(max_retries=bad)) == "TaskDefaults.max_retries"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"restart": "never"}, "TaskSpec.restart"),
        ({"restart": None}, "TaskSpec.restart"),
        ({"backoff": 1.0}, "TaskSpec.backoff"),
        ({"backoff": None}, "TaskSpec.backoff"),
    ],
)
def test_bad_policies_name_their_field(kwargs: dict[str, object], field: str) -> None:
    assert field_of(lambda: TaskSpec(fn("x"), **kwargs)) == field  # type: ignore[arg-type]


def test_bad_defaults_name_their_field() -> None:
    assert field_of(lambda: TaskDefaults(restart="x")) == "TaskDefaults.restart"  # type: ignore[arg-type]
    assert field_of(lambda: TaskDefaults(backoff="x")) == "TaskDefaults.backoff"  # type: ignore[arg-type]


@given(
    st.one_of(st.none(), st.floats(min_value=1e-6, max_value=1e6)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=10**9)),
)
def test_every_valid_timeout_and_retry_budget_constructs(
    timeout: float | None, retries: int | None
) -> None:
    spec = TaskSpec(fn("x"), timeout=timeout, max_retries=retries)
    assert spec.max_retries == retries
    if timeout is None:
        assert spec.timeout is None
        assert spec.timeout_ns is None
    else:
        assert spec.timeout_ns == to_ns(timeout, "t")
        assert spec.timeout_ns > 0
    defaults = TaskDefaults(timeout=timeout, max_retries=retries)
    assert defaults.max_retries == retries


def test_timedelta_and_float_timeouts_give_equal_specs() -> None:
    a = TaskSpec(fn("x"), timeout=timedelta(milliseconds=1500))
    b = TaskSpec(fn("x"), timeout=1.5)
    assert a == b
    assert a.timeout == 1.5
    assert a.timeout_ns == 1_500_000_000


# -- named constructors ---------------------------------------------------------------------------


def test_once_restartable_periodic_set_the_restart_policy() -> None:
    assert TaskSpec.once(fn("x")).restart == RestartPolicy.NEVER
    assert TaskSpec.restartable(fn("x")).restart == RestartPolicy.ON_FAILURE
    p = TaskSpec.periodic(fn("x"), 5.0)
    assert p.restart == RestartPolicy.always(5.0)
    assert TaskSpec.periodic(fn("x"), timedelta(seconds=5)) == p


def test_periodic_passes_its_jitter_to_the_restart_policy() -> None:
    spec = TaskSpec.periodic(fn("x"), 10.0, jitter=0.25)
    assert spec.restart == RestartPolicy.always(10.0, 0.25)
    assert spec.restart.jitter == 0.25
    assert spec.restart.spread_ns == 2_500_000_000


def test_named_constructors_pass_other_fields_through() -> None:
    b = BackoffPolicy.constant(1.0)
    spec = TaskSpec.once(fn("x"), backoff=b, timeout=2.0, max_retries=3, name="y")
    assert (spec.name, spec.backoff, spec.timeout, spec.max_retries) == ("y", b, 2.0, 3)
    assert field_of(lambda: TaskSpec.periodic(fn("x"), -1.0)) == "TaskSpec.every"


@pytest.mark.parametrize("every", [0, 0.0, timedelta(0), 1e-10])
def test_periodic_refuses_a_zero_interval(every: object) -> None:
    # every=0 restarts a succeeding task in a busy loop (~10^4 attempts per second);
    # 1e-10 s rounds to 0 ns. RestartPolicy.always() still says "at once" on purpose.
    with pytest.raises(ConfigError, match="must be positive") as info:
        TaskSpec.periodic(fn("x"), every)  # type: ignore[arg-type]
    assert info.value.field == "TaskSpec.every"
    assert TaskSpec(fn("x"), restart=RestartPolicy.always()).restart.interval_ns == 0
    assert TaskSpec.periodic(fn("x"), 1e-9).restart.interval_ns == 1


def test_a_spec_keeps_its_task_object_and_its_shaping_in_public_units() -> None:
    # The runtime runs ``spec.task``; equality ignores it, so only identity shows it was kept.
    task = fn("x")
    spec = TaskSpec(task, retry_budget="db", start_jitter=0.25)
    assert spec.task is task
    assert (spec.retry_budget, spec.start_jitter, spec.start_jitter_ns) == ("db", 0.25, 250_000_000)


def test_spec_equality_ignores_the_task_object() -> None:
    assert TaskSpec(TaskFn("x", body)) == TaskSpec(TaskFn("x", crawler))
    assert TaskSpec(fn("x")) != TaskSpec(fn("y"))


# -- INHERIT vs explicit None ---------------------------------------------------------------------


def test_defaults_are_on_failure_default_backoff_no_timeout_unlimited() -> None:
    d = TaskDefaults()
    assert d.restart == RestartPolicy.ON_FAILURE
    assert d.backoff == BackoffPolicy()
    assert d.timeout is None
    assert d.timeout_ns is None
    assert d.max_retries is None


def test_unset_fields_inherit_the_defaults() -> None:
    spec = TaskSpec(fn("x"))
    assert spec.restart is INHERIT
    assert spec.timeout is INHERIT
    backoff = BackoffPolicy.constant(3.0)
    defaults = TaskDefaults(RestartPolicy.NEVER, backoff, timeout=7.0, max_retries=2)
    assert spec.resolve(defaults) == ResolvedSpec(
        RestartPolicy.NEVER, backoff, 7 * 10**9, 2, reset_after_ns=300 * 10**9
    )


def test_explicit_none_means_none_not_inherit() -> None:
    defaults = TaskDefaults(timeout=7.0, max_retries=2)
    r = TaskSpec(fn("x"), timeout=None, max_retries=None).resolve(defaults)
    assert r.timeout_ns is None
    assert r.max_retries is None


def test_explicit_values_override_the_defaults() -> None:
    defaults = TaskDefaults(RestartPolicy.NEVER, BackoffPolicy(), timeout=7.0, max_retries=2)
    b = BackoffPolicy.exponential(0.5, jitter=JitterPolicy.FULL)
    spec = TaskSpec.periodic(fn("x"), 1.0, backoff=b, timeout=3.0, max_retries=9)
    assert spec.resolve(defaults) == ResolvedSpec(
        RestartPolicy.always(1.0), b, 3 * 10**9, 9, reset_after_ns=300 * 10**9
    )


def test_durations_are_kept_in_seconds_and_resolved_in_ns() -> None:
    d = TaskDefaults(timeout=2, reset_after=3, give_up_after=4, watchdog=5)
    assert (d.timeout, d.reset_after, d.give_up_after, d.watchdog) == (2.0, 3.0, 4.0, 5.0)
    assert (d.timeout_ns, d.reset_after_ns, d.give_up_after_ns, d.watchdog_ns) == (
        2 * 10**9,
        3 * 10**9,
        4 * 10**9,
        5 * 10**9,
    )
    spec = TaskSpec(fn("x"), timeout=0.5, reset_after=6, give_up_after=7, watchdog=8)
    assert (spec.timeout, spec.reset_after, spec.give_up_after, spec.watchdog) == (
        0.5,
        6.0,
        7.0,
        8.0,
    )
    r = spec.resolve(d)
    assert (r.timeout_ns, r.reset_after_ns, r.give_up_after_ns, r.watchdog_ns) == (
        5 * 10**8,
        6 * 10**9,
        7 * 10**9,
        8 * 10**9,
    )
    inherited = TaskSpec(fn("x")).resolve(d)
    assert (inherited.give_up_after_ns, inherited.watchdog_ns) == (4 * 10**9, 5 * 10**9)
    none = TaskSpec(fn("x"), reset_after=None, give_up_after=None, watchdog=None).resolve(d)
    assert (none.reset_after_ns, none.give_up_after_ns, none.watchdog_ns) == (None, None, None)


def test_every_field_resolves_to_the_specs_own_value_or_else_the_defaults() -> None:
    defaults = TaskDefaults(
        RestartPolicy.NEVER,
        BackoffPolicy.constant(3.0),
        timeout=7.0,
        max_retries=2,
        reset_after=11.0,
        intensity=Intensity(5, 60.0),
        retry_on=(OSError,),
        give_up_after=12.0,
        watchdog=13.0,
    )
    own = TaskSpec(
        fn("x"),
        restart=RestartPolicy.ON_FAILURE,
        backoff=BackoffPolicy.constant(1.0),
        timeout=1.0,
        max_retries=3,
        reset_after=4.0,
        intensity=Intensity(1, 10.0),
        critical=True,
        retry_on=(ValueError, KeyError),
        give_up_after=5.0,
        watchdog=6.0,
        retry_budget="db",
        start_jitter=0.5,
    )
    S = 10**9
    assert own.resolve(defaults) == ResolvedSpec(
        RestartPolicy.ON_FAILURE,
        BackoffPolicy.constant(1.0),
        1 * S,
        3,
        reset_after_ns=4 * S,
        intensity=Intensity(1, 10.0),
        critical=True,
        retry_on=(ValueError, KeyError),
        give_up_after_ns=5 * S,
        watchdog_ns=6 * S,
        retry_budget="db",
        start_jitter_ns=S // 2,
    )
    assert TaskSpec(fn("x"), retry_budget="db").resolve(defaults) == ResolvedSpec(
        RestartPolicy.NEVER,
        BackoffPolicy.constant(3.0),
        7 * S,
        2,
        reset_after_ns=11 * S,
        intensity=Intensity(5, 60.0),
        retry_on=(OSError,),
        give_up_after_ns=12 * S,
        watchdog_ns=13 * S,
        retry_budget="db",
    )


def test_inherit_has_a_readable_repr() -> None:
    assert repr(INHERIT) == "INHERIT"
    assert "INHERIT" in repr(TaskSpec(fn("x")))
