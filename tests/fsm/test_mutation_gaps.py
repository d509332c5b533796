"""Tests that close the gaps mutation testing found in the core (docs/mutation.md).

Each test here kills mutants of ``taskvisor.fsm`` that survived the rest of the suite: a changed
error message or field name (a user reads those: "bad input gets a clear error naming what was
wrong"), a boundary (``<`` against ``<=``) at the edge of a valid range, a documented default,
the high-water mark of a subscriber queue (I5), how the slot table refuses an illegal move, and
what the supervisor machine reports (reasons, durations, the spec an attempt runs, rejections)
and decides (a timed-out attempt's forced flag does not outlive it).
The surviving mutants that are equivalent (no behaviour can tell them apart) are listed, with the
reason, in docs/mutation.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    EndKind,
    EventKind,
    Finished,
    ForceCancel,
    OutcomeKind,
    RejectionKind,
    RequestCancel,
    StartAttempt,
    Submit,
    SubmitReply,
)
from taskvisor.fsm._bus import BusState, consumed, offer
from taskvisor.fsm._slots import SlotStatus, SlotTrigger, check_slot_move

from .driver import Driver, fn

EK = EventKind

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


# -- the supervisor machine: what it reports ----------------------------------------------------


def test_an_add_during_shutdown_is_rejected_saying_why() -> None:
    d = Driver.make()
    d.shutdown()
    tid = d.new_id()
    effects = d.feed(AddTasks(d.ticket(), ((tid, tv.TaskSpec(fn("late"))),)))
    (failed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_ADD_FAILED]
    assert failed.reason == "supervisor is shutting down"
    (finished,) = [e for e in effects if isinstance(e, Finished)]
    assert finished.outcome.reason == "supervisor is shutting down"
    assert finished.outcome.rejection is RejectionKind.SHUTTING_DOWN


def test_an_attempt_forced_after_grace_ends_force_aborted_saying_so() -> None:
    d = Driver.make(grace=2.0)
    tid = d.add(tv.TaskSpec.restartable(fn("deaf")))
    d.remove(tid)
    assert any(isinstance(e, ForceCancel) for e in d.fire_next())  # grace is over
    d.end(tid, EndKind.INTERRUPTED)
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason) == (
        OutcomeKind.FORCE_ABORTED,
        "force-cancelled after grace",
    )


@pytest.mark.parametrize(
    ("end", "kind"), [(EndKind.RETURNED, EK.TASK_STOPPED), (EndKind.CANCELED, EK.TASK_CANCELED)]
)
def test_an_attempt_stopped_by_a_removal_reports_how_long_it_ran(
    end: EndKind, kind: EventKind
) -> None:
    d = Driver.make(grace=10.0)
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    d.advance(0.75)
    d.remove(tid)
    d.advance(0.5)
    d.end(tid, end)
    (stopped,) = [e for e in d.events_of(tid) if e.kind is kind]
    assert stopped.duration == 1.25


def test_a_fatal_attempt_reports_how_long_it_ran() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    d.advance(0.25)
    d.end(tid, EndKind.FATAL, "broken", exit_code=3)
    (failed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert (failed.duration, failed.reason, failed.exit_code) == (0.25, "broken", 3)


def test_a_task_that_gives_up_reports_its_reason() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    d.advance(0.5)
    d.end(tid, EndKind.CANCELED, "gave up")
    (canceled,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_CANCELED]
    assert (canceled.reason, canceled.duration) == ("gave up", 0.5)
    assert d.outcome(tid).reason == "gave up"


def test_a_task_removed_between_attempts_ends_canceled_saying_so() -> None:
    d = Driver.make()
    backing = d.add(tv.TaskSpec.restartable(fn("backing"), backoff=tv.BackoffPolicy.constant(9)))
    d.end(backing, EndKind.FAILED, "x")
    d.remove(backing)
    outcome = d.outcome(backing)
    assert (outcome.kind, outcome.reason, outcome.attempts) == (OutcomeKind.CANCELED, "canceled", 1)


def test_every_attempt_runs_the_tasks_own_spec() -> None:
    d = Driver.make()
    spec = tv.TaskSpec.restartable(fn("x"), backoff=tv.BackoffPolicy.constant(0.1))
    tid = d.add(spec)
    d.end(tid, EndKind.FAILED, "x")
    d.fire_next()
    starts = d.starts(tid)
    assert [e.attempt for e in starts] == [1, 2]
    assert all(e.spec is spec for e in starts)  # the runtime runs spec.task


# -- the supervisor machine: a timed-out attempt's force does not outlive it --------------------


def test_after_a_timeout_the_next_attempt_is_cancelled_cooperatively_again() -> None:
    d = Driver.make(grace=5.0)
    policy = tv.BackoffPolicy.constant(0.1)
    tid = d.add(tv.TaskSpec.restartable(fn("x"), timeout=1.0, backoff=policy))
    assert ForceCancel(tid, 1) in d.fire_next()  # attempt 1 times out: forced
    d.end(tid, EndKind.INTERRUPTED)
    assert [e.attempt for e in d.fire_next() if isinstance(e, StartAttempt)] == [2]
    fed = d.feed_remove(tid)
    assert RequestCancel(tid, 2) in fed.effects  # cooperative first, as for any attempt
    d.advance(0.2)
    d.end(tid, EndKind.RETURNED)  # it stops within grace
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason) == (OutcomeKind.CANCELED, "canceled")
    assert EK.TASK_STOPPED in d.kinds(tid)


# -- the supervisor machine: rejected submissions -------------------------------------------------


def _controller_driver() -> Driver:
    config = fsm.CoreConfig(
        1.0,
        force_wait=0.5,
        subscribers=[fsm.SubscriberInfo("rec")],
        controller=tv.ControllerConfig(max_slot_queue=2),
    )
    return Driver(config)


def _submit(d: Driver, tid: tv.TaskId, name: str, admission: tv.AdmissionPolicy) -> SubmitReply:
    cspec = tv.ControllerSpec(tv.TaskSpec.once(fn(name)), admission, slot="s")
    (reply,) = [e for e in d.feed(Submit(d.ticket(), tid, cspec)) if isinstance(e, SubmitReply)]
    return reply


def test_a_rejected_submission_names_its_task_and_says_why() -> None:
    d = _controller_driver()
    _submit(d, d.new_id(), "owner", tv.AdmissionPolicy.QUEUE)
    tid = d.new_id()
    assert _submit(d, tid, "late", tv.AdmissionPolicy.DROP_IF_RUNNING).rejection is (
        RejectionKind.SLOT_BUSY
    )
    (rejected,) = [e for e in d.events if e.kind is EK.CONTROLLER_REJECTED]
    assert (rejected.task_id, rejected.task, rejected.reason) == (
        tid,
        "late",
        "rejected: SLOT_BUSY",
    )
    (finished,) = [e for e in d.effects if isinstance(e, Finished) and e.task_id == tid]
    assert finished.name == "late"
    assert finished.outcome.reason == "rejected: SLOT_BUSY"


def test_a_submission_under_the_id_of_a_live_task_is_rejected_already_exists() -> None:
    d = _controller_driver()
    tid = d.new_id()
    _submit(d, tid, "owner", tv.AdmissionPolicy.QUEUE)
    reply = _submit(d, tid, "again", tv.AdmissionPolicy.QUEUE)
    assert reply.rejection is RejectionKind.ALREADY_EXISTS


def test_a_submission_without_a_controller_is_a_driver_bug_said_plainly() -> None:
    d = Driver.make()
    cspec = tv.ControllerSpec(tv.TaskSpec.once(fn("x")))
    with pytest.raises(ValueError, match=r"^Submit needs CoreConfig\.controller \(the runtime"):
        d.feed(Submit(d.ticket(), d.new_id(), cspec))
