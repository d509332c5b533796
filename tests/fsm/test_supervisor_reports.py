"""What the supervisor machine reports: reasons, durations, exit codes, errors, event times, the
spec each attempt runs, the order of coinciding deadlines, who was forced in a shutdown, and a
timed-out attempt's forced flag that must not outlive it.
"""

from __future__ import annotations

import sys

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import (
    AddTasks,
    EndKind,
    EventKind,
    Finished,
    ForceCancel,
    OutcomeKind,
    RejectionKind,
    RequestCancel,
    StartAttempt,
)

from .driver import Driver, fn

EK = EventKind

#: The largest finite float, as an int: the edge of what a duration or a factor may be.
MAX_FLOAT_INT = int(sys.float_info.max)


async def _body(ctx: object) -> None:  # never run
    return None


SPEC = tv.TaskSpec(tv.TaskFn("a", _body))


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


def test_a_watchdog_failure_reports_how_long_it_ran_and_the_watchdog() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("w"), watchdog=2.0))
    d.fire_next()  # no heartbeat for 2 s: forced
    d.advance(0.25)
    error = TimeoutError("cancelled")
    d.end(tid, EndKind.INTERRUPTED, "CancelledError", error=error)
    (failed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert (failed.duration, failed.timeout, failed.exit_code, failed.reason) == (
        2.25,
        2.0,
        None,
        "watchdog: no heartbeat for 2s",
    )


def test_a_failure_outside_retry_on_reports_how_long_it_ran() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x"), retry_on=ConnectionError))
    d.advance(1.5)
    d.end(tid, EndKind.FAILED, "it broke", exit_code=4, error=ValueError("bad"))
    (failed,) = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert (failed.duration, failed.exit_code) == (1.5, 4)


def test_a_shutdown_with_a_reason_names_it_in_every_cancelled_outcome() -> None:
    d = Driver.make()
    running = d.add(tv.TaskSpec.restartable(fn("running")))
    backoff = d.add(tv.TaskSpec.restartable(fn("backoff")))
    d.end(backoff, EndKind.FAILED, "x")  # now between attempts: cancelled at once
    d.feed(fsm.Shutdown("SIGTERM"))
    (requested,) = [e for e in d.events if e.kind is EK.SHUTDOWN_REQUESTED]
    assert requested.reason == "SIGTERM"
    d.end(running, EndKind.CANCELED, "CancelledError")
    for tid in (running, backoff):
        outcome = d.outcome(tid)
        assert (outcome.kind, outcome.reason) == (OutcomeKind.CANCELED, "canceled: SIGTERM")


def test_shutdown_names_every_forced_task_in_its_report() -> None:
    d = Driver.make(grace=1.0, force_wait=0.5)
    for name in ("b", "a"):
        d.add(tv.TaskSpec.restartable(fn(name)))
    d.shutdown()
    d.fire_next()  # grace over: both forced
    d.fire_next()  # force_wait over: both abandoned
    (exceeded,) = [e for e in d.events if e.kind is EK.GRACE_EXCEEDED]
    assert exceeded.reason == "force-cancelled: a, b"
    sd = d.state.snapshot().shutdown
    assert sd is not None
    assert (sd.done, sd.stuck) == (True, ("a", "b"))  # kept sorted, as reported
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
