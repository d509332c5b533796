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


def test_core_config_defaults_are_those_of_the_contract() -> None:
    # api.md section 4: grace 60 s; the runtime's force_wait default is 1 s.
    config = fsm.CoreConfig()
    assert (config.grace_ns, config.force_wait_ns) == (60 * NS_PER_S, NS_PER_S)
    assert config.max_concurrent is None


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
    assert tuple(bus.depths) == (3, 1)
    assert tuple(bus.high_water) == (3, 1)
    bus = consumed(bus, 0, 3)
    bus, accepted, _ = offer(bus, caps)  # a drop for subscriber 1: the "full" path
    assert accepted == (0,)
    assert tuple(bus.depths) == (1, 1)
    assert tuple(bus.high_water) == (3, 1)  # not the current depth: the deepest ever
    assert tuple(bus.dropped) == (0, 3)


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
    assert finished.name == "late"
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
    failed, dead, removed = (
        e for e in d.events_of(tid) if e.kind in (EK.TASK_FAILED, EK.ACTOR_DEAD, EK.TASK_REMOVED)
    )
    assert (failed.duration, failed.reason, failed.exit_code) == (0.25, "broken", 3)
    assert (dead.reason, dead.exit_code, dead.outcome) == ("broken", 3, OutcomeKind.FATAL)
    assert (removed.reason, removed.exit_code, removed.outcome) == ("broken", 3, OutcomeKind.FATAL)


def test_a_task_that_gives_up_reports_its_reason() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    d.advance(0.5)
    error = tv.Canceled("gave up")
    d.end(tid, EndKind.CANCELED, "gave up", error=error)
    (canceled,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_CANCELED]
    assert (canceled.reason, canceled.duration) == ("gave up", 0.5)
    outcome = d.outcome(tid)
    assert (outcome.reason, outcome.error) == ("gave up", error)


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


def test_every_event_carries_the_time_it_was_published_at() -> None:
    d = Driver.make()
    d.advance(1.5)
    tid = d.add(tv.TaskSpec.once(fn("x")))
    d.advance(0.25)
    d.end(tid, EndKind.RETURNED)
    d.advance(1.0)
    d.shutdown()
    at = {e.kind: e.at for e in d.events}
    assert at[EK.TASK_ADDED] == at[EK.TASK_STARTING] == 1.5
    assert at[EK.TASK_STOPPED] == at[EK.TASK_REMOVED] == 1.75
    assert at[EK.SHUTDOWN_REQUESTED] == 2.75
    supervisor_wide = [e for e in d.events if e.task_id is None]
    assert supervisor_wide
    assert all(e.attempt is None for e in supervisor_wide)


def test_a_later_attempt_reports_its_own_duration() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x"), backoff=tv.BackoffPolicy.constant(2.0)))
    d.advance(0.5)
    d.end(tid, EndKind.FAILED, "first")
    d.fire_next()  # attempt 2 starts at 2.5 s
    d.advance(0.75)
    d.end(tid, EndKind.FAILED, "second")
    durations = [e.duration for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert durations == [0.5, 0.75]


def test_a_final_failure_reports_duration_exit_code_reason_and_error() -> None:
    d = Driver.make()
    tid = d.add(
        tv.TaskSpec.restartable(fn("x"), max_retries=1, backoff=tv.BackoffPolicy.constant(1))
    )
    d.advance(0.25)
    d.end(tid, EndKind.FAILED, "first", exit_code=1)
    (backoff,) = [e for e in d.events_of(tid) if e.kind is EK.BACKOFF_SCHEDULED]
    assert backoff.reason == "first"  # the pause says which failure it follows
    d.fire_next()
    d.advance(0.5)
    error = ValueError("bad")
    d.end(tid, EndKind.FAILED, "second", exit_code=7, error=error)
    failed = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert [(e.duration, e.reason, e.exit_code) for e in failed] == [
        (0.25, "first", 1),
        (0.5, "second", 7),
    ]
    (exhausted,) = [e for e in d.events_of(tid) if e.kind is EK.ACTOR_EXHAUSTED]
    final = "retry limit (1) reached; last failure: second"
    assert (exhausted.reason, exhausted.exit_code) == (final, 7)
    (removed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_REMOVED]
    assert (removed.reason, removed.exit_code) == (final, 7)
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason, outcome.exit_code) == (OutcomeKind.FAILED, final, 7)
    assert outcome.error is error


def test_a_timed_out_attempt_reports_its_duration_and_the_error_it_ended_with() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.once(fn("x"), timeout=1.5))
    d.fire_next()  # the timeout: forced
    error = TimeoutError("cancelled")
    d.end(tid, EndKind.INTERRUPTED, "CancelledError", error=error)
    (failed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert (failed.duration, failed.timeout, failed.reason) == (1.5, 1.5, "timed out after 1.5s")
    assert d.outcome(tid).error is error


def test_shutdown_names_every_forced_task_in_its_report() -> None:
    d = Driver.make(grace=1.0, force_wait=0.5)
    for name in ("b", "a"):
        d.add(tv.TaskSpec.restartable(fn(name)))
    d.shutdown()
    d.fire_next()  # grace over: both forced
    d.fire_next()  # force_wait over: both abandoned
    (exceeded,) = [e for e in d.events if e.kind is EK.GRACE_EXCEEDED]
    assert exceeded.reason == "force-cancelled: a, b"
    for tid in (fsm.TaskId(1), fsm.TaskId(2)):
        outcome = d.outcome(tid)
        assert (outcome.kind, outcome.reason) == (
            OutcomeKind.FORCE_ABORTED,
            "did not stop after forced cancellation; abandoned",
        )


def test_deadlines_that_coincide_fire_in_the_order_they_were_set() -> None:
    d = Driver.make()
    policy = tv.BackoffPolicy.constant(1.0)
    ids = [d.add(tv.TaskSpec.restartable(fn(name), backoff=policy)) for name in ("p", "q", "r")]
    for tid in (ids[1], ids[2], ids[0]):  # all fail at the same instant, in this order
        d.end(tid, EndKind.FAILED, "x")
    restarted = [e.task_id for e in d.fire_next() if isinstance(e, StartAttempt)]
    assert restarted == [ids[1], ids[2], ids[0]]  # FIFO among equal deadlines (I8)


def test_a_submission_reusing_a_queued_or_a_registered_id_is_rejected_already_exists() -> None:
    d = _controller_driver()
    _submit(d, d.new_id(), "owner", tv.AdmissionPolicy.QUEUE)
    queued = d.new_id()
    assert _submit(d, queued, "queued", tv.AdmissionPolicy.QUEUE).rejection is None
    again = _submit(d, queued, "again", tv.AdmissionPolicy.QUEUE)
    assert again.rejection is RejectionKind.ALREADY_EXISTS
    plain = d.add(tv.TaskSpec.restartable(fn("plain")))  # registered without a slot
    reply = _submit(d, plain, "plain2", tv.AdmissionPolicy.QUEUE)
    assert reply.rejection is RejectionKind.ALREADY_EXISTS


def test_replace_asks_the_owner_to_stop_once_saying_why() -> None:
    d = _controller_driver()
    owner = d.new_id()
    _submit(d, owner, "owner", tv.AdmissionPolicy.QUEUE)
    _submit(d, d.new_id(), "new", tv.AdmissionPolicy.REPLACE)
    (asked,) = [e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]
    assert asked.reason == "superseded by REPLACE"
    _submit(d, d.new_id(), "newer", tv.AdmissionPolicy.REPLACE)  # the owner already stops
    removing = d.new_id()
    _submit(d, removing, "removing", tv.AdmissionPolicy.QUEUE)  # queued behind
    assert len([e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]) == 1


def test_replace_of_an_owner_already_being_removed_asks_nothing_more() -> None:
    d = _controller_driver()
    owner = d.new_id()
    _submit(d, owner, "owner", tv.AdmissionPolicy.QUEUE)
    d.remove(owner)  # stopping for good, the slot still RUNNING until it is gone
    _submit(d, d.new_id(), "new", tv.AdmissionPolicy.REPLACE)
    asked = [e for e in d.events_of(owner) if e.kind is EK.TASK_REMOVE_REQUESTED]
    assert [e.reason for e in asked] == [None]  # the removal's own request, no second one
