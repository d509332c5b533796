"""Tests that close the gaps mutation testing found in the core (docs/mutation.md).

Each test here kills mutants of ``taskvisor.fsm`` that survived the rest of the suite: a changed
error message or field name (a user reads those: "bad input gets a clear error naming what was
wrong"), a boundary (``<`` against ``<=``) at the edge of a valid range, a documented default,
the high-water mark of a subscriber queue (I5), and how the slot table refuses an illegal move.
The surviving mutants that are equivalent (no behaviour can tell them apart) are listed, with the
reason, in docs/mutation.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import NS_PER_S
from taskvisor.fsm._bus import BusState, consumed, offer
from taskvisor.fsm._slots import SlotStatus, SlotTrigger, check_slot_move

#: The largest finite float, as an int: the edge of what a duration or a factor may be.
MAX_FLOAT_INT = int(sys.float_info.max)


async def _body(ctx: object) -> None:  # never run
    return None


SPEC = tv.TaskSpec(tv.TaskFn("a", _body))


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
    assert fsm.base_ns(policy, 1) == policy.max_ns  # saturates at once, never overflows


def test_controller_config_defaults_are_those_of_the_contract() -> None:
    # api.md section 6: ControllerConfig(queue_capacity=1024, max_slot_queue=100)
    config = tv.ControllerConfig()
    assert (config.queue_capacity, config.max_slot_queue) == (1024, 100)


# -- I5: the high-water mark is a maximum, also when a queue is full ---------------------------


def test_the_high_water_mark_is_the_deepest_a_queue_got() -> None:
    caps = (5, 1)  # subscriber 1 fills after one event: every later offer reports it full
    bus = BusState.empty(2)
    for _ in range(3):
        bus, _, _ = offer(bus, caps)
    assert bus.depths == (3, 1)
    assert bus.high_water == (3, 1)
    bus = consumed(bus, 0, 3)
    bus, accepted, _ = offer(bus, caps)  # a drop for subscriber 1: the "full" path
    assert accepted == (0,)
    assert bus.depths == (1, 1)
    assert bus.high_water == (3, 1)  # not the current depth: the deepest ever
    assert bus.dropped == (0, 3)


# -- the slot table refuses an illegal move, saying which ---------------------------------------


def test_an_illegal_slot_move_is_an_assertion_error_naming_the_move() -> None:
    with pytest.raises(AssertionError) as raised:
        check_slot_move(SlotStatus.IDLE, SlotTrigger.OWNER_GONE, SlotStatus.RUNNING)
    assert str(raised.value) == "slot IDLE --OWNER_GONE--> RUNNING"
    with pytest.raises(AssertionError, match="slot RUNNING --ADMITTED--> IDLE"):
        check_slot_move(SlotStatus.RUNNING, SlotTrigger.ADMITTED, SlotStatus.IDLE)
    check_slot_move(SlotStatus.IDLE, SlotTrigger.SUBMIT, SlotStatus.ADMITTING)  # a legal one
