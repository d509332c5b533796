"""Bad configuration is refused at construction, naming the field and saying what was wrong.

Every ``ConfigError`` of the core's values (durations, policies, specs, capacities, the core's
own settings), the exact edges of the valid ranges, and the documented defaults. A user reads
these messages ("bad input gets a clear error naming what was wrong"); mutation testing
(docs/mutation.md) showed which of them nothing else pinned.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from fractions import Fraction

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import (
    NS_PER_S,
    EventKind,
)
from taskvisor.fsm._backoff import base_ns
from taskvisor.fsm._retry_budget import check_budget_name

EK = EventKind

#: The largest finite float, as an int: the edge of what a duration or a factor may be.
MAX_FLOAT_INT = int(sys.float_info.max)


async def _body(ctx: object) -> None:  # never run
    return None


SPEC = tv.TaskSpec(tv.TaskFn("a", _body))


class _Nameless:
    """A callable with no name to derive a task's from."""

    async def __call__(self, ctx: object) -> None:  # never run
        return None

    def __repr__(self) -> str:
        return "<nameless>"


# -- every ConfigError of the leaf modules names its field and says what was wrong -------------

CONFIG_ERRORS: list[tuple[str, Callable[[], object], str, str]] = [
    (
        "duration of the wrong type",
        lambda: fsm.to_ns("x", "F"),
        "F",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    ("infinite duration", lambda: fsm.to_ns(float("inf"), "F"), "F", "must be finite, got inf"),
    (
        "int duration beyond the float range",
        lambda: fsm.to_ns(MAX_FLOAT_INT + 1, "F"),
        "F",
        f"must be finite as float seconds, got {MAX_FLOAT_INT + 1}",
    ),
    (
        "the most negative int duration in range is negative, not out of range",
        lambda: fsm.to_ns(-MAX_FLOAT_INT, "F"),
        "F",
        f"must not be negative, got {-MAX_FLOAT_INT}",
    ),
    (
        "restart mode of the wrong type",
        lambda: tv.RestartPolicy("x"),  # type: ignore[arg-type]
        "RestartPolicy.mode",
        "expected a RestartMode, got 'x'",
    ),
    (
        "an interval for a policy other than always",
        lambda: tv.RestartPolicy(fsm.RestartMode.NEVER, 1.0),
        "RestartPolicy.interval",
        "only RestartPolicy.always takes one",
    ),
    (
        "factor of the wrong type",
        lambda: tv.BackoffPolicy(factor="2"),  # type: ignore[arg-type]
        "BackoffPolicy.factor",
        "expected a number, got '2'",
    ),
    (
        "NaN factor",
        lambda: tv.BackoffPolicy(factor=float("nan")),
        "BackoffPolicy.factor",
        "must be finite, got nan",
    ),
    (
        "int factor beyond the float range",
        lambda: tv.BackoffPolicy(factor=MAX_FLOAT_INT + 1),
        "BackoffPolicy.factor",
        f"must be finite, got {MAX_FLOAT_INT + 1}",
    ),
    (
        "factor below 1",
        lambda: tv.BackoffPolicy(factor=0.5),
        "BackoffPolicy.factor",
        "must be >= 1, got 0.5",
    ),
    (
        "jitter of the wrong type",
        lambda: tv.BackoffPolicy(jitter="full"),  # type: ignore[arg-type]
        "BackoffPolicy.jitter",
        "expected a JitterPolicy, got 'full'",
    ),
    (
        "max_concurrent of the wrong type",
        lambda: fsm.CoreConfig(max_concurrent="2"),  # type: ignore[arg-type]
        "CoreConfig.max_concurrent",
        "expected an int, got '2'",
    ),
    (
        "max_concurrent below 1",
        lambda: fsm.CoreConfig(max_concurrent=0),
        "CoreConfig.max_concurrent",
        "must be >= 1, got 0",
    ),
    (
        "defaults of the wrong type",
        lambda: fsm.CoreConfig(defaults="x"),  # type: ignore[arg-type]
        "CoreConfig.defaults",
        "expected TaskDefaults, got 'x'",
    ),
    (
        "controller of the wrong type",
        lambda: fsm.CoreConfig(controller="x"),  # type: ignore[arg-type]
        "CoreConfig.controller",
        "expected ControllerConfig, got 'x'",
    ),
    (
        "intensity of the wrong type",
        lambda: fsm.CoreConfig(intensity=(3, 60.0)),  # type: ignore[arg-type]
        "CoreConfig.intensity",
        "expected an Intensity or None, got (3, 60.0)",
    ),
    (
        "seed of the wrong type",
        lambda: fsm.CoreConfig(seed="1"),  # type: ignore[arg-type]
        "CoreConfig.seed",
        "expected an int or None, got '1'",
    ),
    (
        "seed that is a bool",
        lambda: fsm.CoreConfig(seed=True),
        "CoreConfig.seed",
        "expected an int or None, got True",
    ),
    (
        "queue capacity of the wrong type",
        lambda: tv.ControllerConfig(queue_capacity="1"),  # type: ignore[arg-type]
        "ControllerConfig.queue_capacity",
        "expected an int, got '1'",
    ),
    (
        "slot queue bound below 1",
        lambda: tv.ControllerConfig(max_slot_queue=0),
        "ControllerConfig.max_slot_queue",
        "must be >= 1, got 0",
    ),
    (
        "controller spec without a task spec",
        lambda: tv.ControllerSpec("x"),  # type: ignore[arg-type]
        "ControllerSpec.task_spec",
        "expected a TaskSpec, got 'x'",
    ),
    (
        "admission policy of the wrong type",
        lambda: tv.ControllerSpec(SPEC, "QUEUE"),  # type: ignore[arg-type]
        "ControllerSpec.admission",
        "expected an AdmissionPolicy, got 'QUEUE'",
    ),
    (
        "empty slot name",
        lambda: tv.ControllerSpec(SPEC, slot=""),
        "ControllerSpec.slot",
        "expected a non-empty str, got ''",
    ),
    (
        "restart jitter of the wrong type",
        lambda: tv.RestartPolicy.always(1.0, jitter="x"),  # type: ignore[arg-type]
        "RestartPolicy.jitter",
        "expected a number in [0, 1], got 'x'",
    ),
    (
        "a restart jitter for a policy other than always",
        lambda: tv.RestartPolicy(fsm.RestartMode.NEVER, None, 0.5),
        "RestartPolicy.jitter",
        "only RestartPolicy.always takes one",
    ),
    (
        "intensity's max_restarts of the wrong type",
        lambda: tv.Intensity("3", 1.0),  # type: ignore[arg-type]
        "Intensity.max_restarts",
        "expected an int, got '3'",
    ),
    (
        "negative intensity max_restarts",
        lambda: tv.Intensity(-1, 1.0),
        "Intensity.max_restarts",
        "must be >= 0, got -1",
    ),
    (
        "intensity window of the wrong type",
        lambda: tv.Intensity(1, "x"),  # type: ignore[arg-type]
        "Intensity.within",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "empty intensity window",
        lambda: tv.Intensity(1, 0),
        "Intensity.within",
        "must be positive",
    ),
    (
        "retry budget rate of the wrong type",
        lambda: tv.RetryBudget("10", 1),  # type: ignore[arg-type]
        "RetryBudget.per_second",
        "expected a number of tokens per second, got '10'",
    ),
    (
        "retry budget burst below 1",
        lambda: tv.RetryBudget(1.0, 0),
        "RetryBudget.burst",
        "must be >= 1, got 0",
    ),
    (
        "task name of the wrong type",
        lambda: tv.TaskFn(1, _body),  # type: ignore[arg-type]
        "TaskFn.name",
        "expected a non-empty str, got 1",
    ),
    (
        "task function that is not callable",
        lambda: tv.TaskFn("a", 1),  # type: ignore[arg-type]
        "TaskFn.fn",
        "expected a function f(ctx) returning an awaitable, got 1",
    ),
    (
        "retry budget name of the wrong type",
        lambda: tv.TaskSpec(tv.TaskFn("a", _body), retry_budget=1),  # type: ignore[arg-type]
        "TaskSpec.retry_budget",
        "expected a budget's name (a str) or None, got 1",
    ),
    (
        "empty retry budget name",
        lambda: tv.TaskSpec(tv.TaskFn("a", _body), retry_budget=""),
        "TaskSpec.retry_budget",
        "must be a budget's name, got ''",
    ),
    (
        "rate beyond the float range",
        lambda: tv.RetryBudget(MAX_FLOAT_INT + 1, 1),
        "RetryBudget.per_second",
        f"must be finite, got {MAX_FLOAT_INT + 1}",
    ),
    (
        "a rate of zero",
        lambda: tv.RetryBudget(0, 1),
        "RetryBudget.per_second",
        "must be > 0 (a budget that never refills), got 0",
    ),
    (
        "budgets that are not a mapping",
        lambda: fsm.CoreConfig(retry_budgets=[1]),  # type: ignore[arg-type]
        "CoreConfig.retry_budgets",
        "expected a mapping of names to RetryBudget, got [1]",
    ),
    (
        "a budget's empty name",
        lambda: fsm.CoreConfig(retry_budgets={"": tv.RetryBudget(1, 1)}),
        "CoreConfig.retry_budgets",
        "a budget's name must be a non-empty str, got ''",
    ),
    (
        "a budget that is not a RetryBudget",
        lambda: fsm.CoreConfig(retry_budgets={"db": 3}),  # type: ignore[dict-item]
        "CoreConfig.retry_budgets",
        "'db': expected a RetryBudget, got 3",
    ),
    (
        "an unknown budget name",
        lambda: check_budget_name("a", "db", ("api", "web"), "CoreConfig"),
        "TaskSpec.retry_budget",
        "task 'a' names the retry budget 'db', which is not configured "
        "(CoreConfig has 'api', 'web')",
    ),
    (
        "an unknown budget name with none configured",
        lambda: check_budget_name("a", "db", (), "SupervisorConfig"),
        "TaskSpec.retry_budget",
        "task 'a' names the retry budget 'db', which is not configured (SupervisorConfig has none)",
    ),
    (
        "empty task name",
        lambda: tv.TaskFn("", _body),
        "TaskFn.name",
        "must not be empty",
    ),
    (
        "a class for a task",
        lambda: tv.TaskSpec(int, name="x"),  # type: ignore[arg-type]
        "TaskSpec.task",
        "expected a Task instance or a function, not a class, got <class 'int'>",
    ),
    (
        "a task that cannot run",
        lambda: tv.TaskSpec(42, name="x"),  # type: ignore[arg-type]
        "TaskSpec.task",
        "expected a Task, a TaskFn or an async function, got 42",
    ),
    (
        "a task with no name to derive",
        lambda: tv.TaskSpec(_Nameless()),
        "TaskSpec.name",
        "no name can be derived from <nameless>: pass name=...",
    ),
    (
        "empty spec name",
        lambda: tv.TaskSpec(_body, name=""),
        "TaskSpec.name",
        "must not be empty",
    ),
    (
        "spec restart of the wrong type",
        lambda: tv.TaskSpec(_body, restart="always"),  # type: ignore[arg-type]
        "TaskSpec.restart",
        "expected a RestartPolicy, got 'always'",
    ),
    (
        "spec backoff of the wrong type",
        lambda: tv.TaskSpec(_body, backoff=1.0),  # type: ignore[arg-type]
        "TaskSpec.backoff",
        "expected a BackoffPolicy, got 1.0",
    ),
    (
        "a zero timeout",
        lambda: tv.TaskSpec(_body, timeout=0),
        "TaskSpec.timeout",
        "must be positive (use None for no timeout)",
    ),
    (
        "max_retries of the wrong type",
        lambda: tv.TaskSpec(_body, max_retries="3"),  # type: ignore[arg-type]
        "TaskSpec.max_retries",
        "expected an int or None, got '3'",
    ),
    (
        "max_retries below 1",
        lambda: tv.TaskSpec(_body, max_retries=0),
        "TaskSpec.max_retries",
        "must be >= 1 (or None for unlimited), got 0",
    ),
    (
        "critical of the wrong type",
        lambda: tv.TaskSpec(_body, critical=1),  # type: ignore[arg-type]
        "TaskSpec.critical",
        "expected a bool, got 1",
    ),
    (
        "a zero reset_after",
        lambda: tv.TaskSpec(_body, reset_after=0),
        "TaskSpec.reset_after",
        "must be positive (use None for the seed's rule)",
    ),
    (
        "a zero give_up_after",
        lambda: tv.TaskSpec(_body, give_up_after=0),
        "TaskSpec.give_up_after",
        "must be positive (use None for never)",
    ),
    (
        "a zero watchdog",
        lambda: tv.TaskSpec(_body, watchdog=0),
        "TaskSpec.watchdog",
        "must be positive (use None for no watchdog)",
    ),
    (
        "spec intensity of the wrong type",
        lambda: tv.TaskSpec(_body, intensity=(3, 60)),  # type: ignore[arg-type]
        "TaskSpec.intensity",
        "expected an Intensity or None, got (3, 60)",
    ),
    (
        "an empty retry_on",
        lambda: tv.TaskSpec(_body, retry_on=()),
        "TaskSpec.retry_on",
        "expected an exception class or a non-empty tuple of them, got ()",
    ),
    (
        "a zero period",
        lambda: tv.TaskSpec.periodic(_body, 0),
        "TaskSpec.every",
        "must be positive, got 0",
    ),
    (
        "defaults' restart of the wrong type",
        lambda: tv.TaskDefaults(restart="always"),  # type: ignore[arg-type]
        "TaskDefaults.restart",
        "expected a RestartPolicy, got 'always'",
    ),
    (
        "defaults' backoff of the wrong type",
        lambda: tv.TaskDefaults(backoff=1.0),  # type: ignore[arg-type]
        "TaskDefaults.backoff",
        "expected a BackoffPolicy, got 1.0",
    ),
    (
        "defaults' zero timeout",
        lambda: tv.TaskDefaults(timeout=0),
        "TaskDefaults.timeout",
        "must be positive (use None for no timeout)",
    ),
    (
        "defaults' max_retries below 1",
        lambda: tv.TaskDefaults(max_retries=0),
        "TaskDefaults.max_retries",
        "must be >= 1 (or None for unlimited), got 0",
    ),
    (
        "defaults' zero reset_after",
        lambda: tv.TaskDefaults(reset_after=0),
        "TaskDefaults.reset_after",
        "must be positive (use None for the seed's rule)",
    ),
    (
        "defaults' zero give_up_after",
        lambda: tv.TaskDefaults(give_up_after=0),
        "TaskDefaults.give_up_after",
        "must be positive (use None for never)",
    ),
    (
        "defaults' zero watchdog",
        lambda: tv.TaskDefaults(watchdog=0),
        "TaskDefaults.watchdog",
        "must be positive (use None for no watchdog)",
    ),
    (
        "defaults' intensity of the wrong type",
        lambda: tv.TaskDefaults(intensity=3),  # type: ignore[arg-type]
        "TaskDefaults.intensity",
        "expected an Intensity or None, got 3",
    ),
    (
        "defaults' retry_on that is not an exception class",
        lambda: tv.TaskDefaults(retry_on=int),  # type: ignore[arg-type]
        "TaskDefaults.retry_on",
        "expected an exception class or a non-empty tuple of them, got <class 'int'>",
    ),
    (
        "spec timeout of the wrong type",
        lambda: tv.TaskSpec(_body, timeout="x"),  # type: ignore[arg-type]
        "TaskSpec.timeout",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "spec reset_after of the wrong type",
        lambda: tv.TaskSpec(_body, reset_after="x"),  # type: ignore[arg-type]
        "TaskSpec.reset_after",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "spec give_up_after of the wrong type",
        lambda: tv.TaskSpec(_body, give_up_after="x"),  # type: ignore[arg-type]
        "TaskSpec.give_up_after",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "spec watchdog of the wrong type",
        lambda: tv.TaskSpec(_body, watchdog="x"),  # type: ignore[arg-type]
        "TaskSpec.watchdog",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "defaults' timeout of the wrong type",
        lambda: tv.TaskDefaults(timeout="x"),  # type: ignore[arg-type]
        "TaskDefaults.timeout",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "defaults' reset_after of the wrong type",
        lambda: tv.TaskDefaults(reset_after="x"),  # type: ignore[arg-type]
        "TaskDefaults.reset_after",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "defaults' give_up_after of the wrong type",
        lambda: tv.TaskDefaults(give_up_after="x"),  # type: ignore[arg-type]
        "TaskDefaults.give_up_after",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "defaults' watchdog of the wrong type",
        lambda: tv.TaskDefaults(watchdog="x"),  # type: ignore[arg-type]
        "TaskDefaults.watchdog",
        "expected seconds (float) or timedelta, got 'x'",
    ),
    (
        "start jitter of the wrong type",
        lambda: tv.TaskSpec(tv.TaskFn("a", _body), start_jitter="x"),  # type: ignore[arg-type]
        "TaskSpec.start_jitter",
        "expected seconds (float) or timedelta, got 'x'",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [case[1:] for case in CONFIG_ERRORS],
    ids=[case[0] for case in CONFIG_ERRORS],
)
def test_a_bad_value_is_a_config_error_naming_its_field_and_what_was_wrong(
    build: Callable[[], object], field: str, message: str
) -> None:
    with pytest.raises(tv.ConfigError) as raised:
        build()
    assert raised.value.field == field
    assert str(raised.value) == f"{field}: {message}"


# -- boundaries of the valid ranges ------------------------------------------------------------


def test_the_largest_int_duration_a_float_can_hold_is_accepted_exactly() -> None:
    assert fsm.to_ns(MAX_FLOAT_INT, "F") == MAX_FLOAT_INT * NS_PER_S


def test_the_largest_int_factor_a_float_can_hold_is_accepted() -> None:
    policy = tv.BackoffPolicy(first=0.1, max=30.0, factor=MAX_FLOAT_INT)
    assert policy.factor == sys.float_info.max
    assert base_ns(policy, 1) == policy.max_ns  # saturates at once, never overflows


def test_the_largest_int_rate_a_float_can_hold_is_accepted() -> None:
    budget = tv.RetryBudget(MAX_FLOAT_INT, 1)
    assert budget.per_second == sys.float_info.max
    assert Fraction(budget.gain, budget.unit) * NS_PER_S == MAX_FLOAT_INT  # still exact


def test_core_config_defaults_are_those_of_the_contract() -> None:
    # docs/spec/api.md section 4: grace 60 s; the runtime's force_wait default is 1 s.
    config = fsm.CoreConfig()
    assert (config.grace_ns, config.force_wait_ns) == (60 * NS_PER_S, NS_PER_S)
    assert config.max_concurrent is None


def test_controller_config_defaults_are_those_of_the_contract() -> None:
    # docs/spec/api.md section 6: ControllerConfig(queue_capacity=1024, max_slot_queue=100)
    config = tv.ControllerConfig()
    assert (config.queue_capacity, config.max_slot_queue) == (1024, 100)
