"""Every per-task event sequence of docs/spec/api.md section 5's table, produced by the core alone.

Each test drives ``fsm.step`` through ``Driver`` (which checks every step's invariants), then
asserts the exact event kinds of the task, the fields that carry meaning, the effects the
driver must carry out (at the right virtual times) and the reliable outcome.
"""

from __future__ import annotations

import pytest

from taskvisor import BackoffPolicy, JitterPolicy, RestartPolicy, TaskSpec
from taskvisor.fsm import (
    Abandon,
    AddReply,
    BackoffSource,
    EndKind,
    EventKind,
    Finished,
    ForceCancel,
    OutcomeKind,
    RejectionKind,
    RemoveReply,
    RequestCancel,
    ShutdownDone,
    StartAttempt,
)

from .driver import Driver, fn, s

EK = EventKind

FIXED = BackoffPolicy.constant(1.0)  # no jitter: delays are exact


def restart_policies() -> list[RestartPolicy]:
    return [
        RestartPolicy.NEVER,
        RestartPolicy.ON_FAILURE,
        RestartPolicy.always(),
        RestartPolicy.always(5.0),
    ]


# -- the seed example -----------------------------------------------------------------------------


def test_seed_example_gives_the_twelve_events() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("flaky")))  # default backoff: EQUAL jitter
    for end in (EndKind.FAILED, EndKind.FAILED):
        d.end(tid, end, "boom")
        d.fire_next()
    d.end(tid, EndKind.RETURNED)
    assert [f" {k.name} (task=flaky)" for k in d.kinds(tid)] == [
        " TASK_ADD_REQUESTED (task=flaky)",
        " TASK_ADDED (task=flaky)",
        " TASK_STARTING (task=flaky)",
        " TASK_FAILED (task=flaky)",
        " BACKOFF_SCHEDULED (task=flaky)",
        " TASK_STARTING (task=flaky)",
        " TASK_FAILED (task=flaky)",
        " BACKOFF_SCHEDULED (task=flaky)",
        " TASK_STARTING (task=flaky)",
        " TASK_STOPPED (task=flaky)",
        " ACTOR_EXHAUSTED (task=flaky)",
        " TASK_REMOVED (task=flaky)",
    ]
    assert all(e.task == "flaky" for e in d.events_of(tid))
    assert [e.attempt for e in d.events_of(tid) if e.kind is EK.TASK_STARTING] == [1, 2, 3]
    assert [a.attempt for a in d.starts(tid)] == [1, 2, 3]
    assert d.outcome(tid).kind is OutcomeKind.COMPLETED
    assert d.outcome(tid).attempts == 3
    # The default backoff is EQUAL jitter on 0.2 s then 0.4 s.
    delays = [e.delay for e in d.events_of(tid) if e.kind is EK.BACKOFF_SCHEDULED]
    assert delays[0] is not None
    assert delays[1] is not None
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    d.verify()


# -- once -----------------------------------------------------------------------------------------


def test_once_that_succeeds() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("job")))
    d.advance(2.5)
    d.end(tid, EndKind.RETURNED)
    assert d.kinds(tid) == [
        EK.TASK_ADD_REQUESTED,
        EK.TASK_ADDED,
        EK.TASK_STARTING,
        EK.TASK_STOPPED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    events = d.events_of(tid)
    assert events[3].duration == 2.5
    assert events[4].outcome is OutcomeKind.COMPLETED
    assert events[5].outcome is OutcomeKind.COMPLETED
    assert d.outcome(tid).kind is OutcomeKind.COMPLETED
    assert not d.is_live(tid)
    assert d.next_deadline() is None
    d.verify()


def test_once_that_fails() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("job")))
    d.end(tid, EndKind.FAILED, "ValueError: bad", exit_code=3)
    assert d.kinds(tid)[2:] == [
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    failed, exhausted, removed = d.events_of(tid)[3:]
    assert failed.reason == "ValueError: bad"
    assert failed.exit_code == 3
    assert exhausted.outcome is OutcomeKind.FAILED
    assert removed.outcome is OutcomeKind.FAILED
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason, outcome.exit_code) == (
        OutcomeKind.FAILED,
        "ValueError: bad",
        3,
    )
    assert len(d.starts(tid)) == 1
    d.verify()


# -- the retry budget -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_max_retries_n_always_failing(n: int) -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED, max_retries=n))
    for _ in range(n + 1):
        d.end(tid, EndKind.FAILED, "boom")
        if d.is_live(tid):
            d.fire_next()
    kinds = d.kinds(tid)
    expected = [EK.TASK_ADD_REQUESTED, EK.TASK_ADDED]
    for i in range(n + 1):
        if i:
            expected.append(EK.BACKOFF_SCHEDULED)
        expected += [EK.TASK_STARTING, EK.TASK_FAILED]
    expected += [EK.ACTOR_EXHAUSTED, EK.TASK_REMOVED]
    assert kinds == expected
    exhausted = d.events_of(tid)[-2]
    assert exhausted.outcome is OutcomeKind.FAILED
    assert exhausted.reason is not None
    assert "retry limit" in exhausted.reason
    assert "boom" in exhausted.reason
    outcome = d.outcome(tid)
    assert outcome.kind is OutcomeKind.FAILED
    assert "retry limit" in outcome.reason
    assert outcome.attempts == n + 1
    assert len(d.starts(tid)) == n + 1
    d.verify()


def test_retry_budget_counts_failures_in_a_row_only() -> None:
    # always(): a success ends the streak, so the budget starts again.
    d = Driver.make()
    tid = d.add(TaskSpec(fn("x"), restart=RestartPolicy.always(), backoff=FIXED, max_retries=1))
    for end in [EndKind.FAILED, EndKind.RETURNED] * 3 + [EndKind.FAILED]:
        d.end(tid, end)
        d.fire_next()
    assert d.is_live(tid)
    d.end(tid, EndKind.FAILED)
    assert not d.is_live(tid)
    assert d.outcome(tid).attempts == 8
    d.verify()


def test_unlimited_retries_never_exhaust() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=BackoffPolicy.constant(0), max_retries=None))
    for _ in range(200):
        d.end(tid, EndKind.FAILED)
        d.fire_next()
    assert d.state.tasks[tid].attempt == 201
    assert EK.ACTOR_EXHAUSTED not in d.kinds(tid)


# -- Fatal ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("restart", restart_policies(), ids=repr)
@pytest.mark.parametrize("earlier_failures", [0, 2])
def test_fatal_under_every_restart_policy(restart: RestartPolicy, earlier_failures: int) -> None:
    d = Driver.make()
    tid = d.add(TaskSpec(fn("x"), restart=restart, backoff=FIXED, max_retries=None))
    if restart != RestartPolicy.NEVER:
        for _ in range(earlier_failures):
            d.end(tid, EndKind.FAILED)
            d.fire_next()
    before = len(d.kinds(tid))
    d.end(tid, EndKind.FATAL, "config missing", exit_code=78)
    assert d.kinds(tid)[before - 1 :] == [
        EK.TASK_STARTING,
        EK.TASK_FAILED,
        EK.ACTOR_DEAD,
        EK.TASK_REMOVED,
    ]
    failed, dead, removed = d.events_of(tid)[-3:]
    assert failed.reason == "config missing"
    assert dead.outcome is OutcomeKind.FATAL
    assert dead.exit_code == 78
    assert removed.outcome is OutcomeKind.FATAL
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason, outcome.exit_code) == (
        OutcomeKind.FATAL,
        "config missing",
        78,
    )
    assert d.next_deadline() is None
    d.verify()


def test_outcome_carries_the_error() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("x")))
    error = RuntimeError("the cause")
    d.end(tid, EndKind.FATAL, "RuntimeError: the cause", error=error)
    assert d.outcome(tid).error is error


# -- timeout --------------------------------------------------------------------------------------


def test_timeout_hits_exactly_at_its_deadline_then_counts_as_a_failure() -> None:
    d = Driver.make(force_wait=0.5)
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED, timeout=2.0))
    assert d.next_deadline() == s(2.0)
    d.advance(1.999999999)  # one nanosecond early: nothing happens
    assert d.kinds(tid)[-1] is EK.TASK_STARTING
    effects = d.advance(0.000000001)
    assert d.kinds(tid)[-1] is EK.TIMEOUT_HIT
    assert ForceCancel(tid, 1) in effects
    hit = d.events_of(tid)[-1]
    assert hit.timeout == 2.0
    assert hit.attempt == 1
    d.advance(0.1)
    d.end(tid, EndKind.INTERRUPTED)  # the forced cancellation arrived
    assert d.kinds(tid)[2:] == [
        EK.TASK_STARTING,
        EK.TIMEOUT_HIT,
        EK.TASK_FAILED,
        EK.BACKOFF_SCHEDULED,
    ]
    failed, backoff = d.events_of(tid)[-2:]
    assert failed.reason is not None
    assert "timed out" in failed.reason
    assert failed.timeout == 2.0
    assert backoff.backoff_source is BackoffSource.FAILURE
    assert backoff.delay == 1.0
    d.fire_next()
    assert d.starts(tid)[-1] == StartAttempt(tid, "x", 2, d.state.tasks[tid].spec)
    assert d.now == s(3.1)  # 1 s after the failure (I4)
    d.verify()


@pytest.mark.parametrize("end", list(EndKind))
def test_a_timed_out_attempt_fails_however_it_ends(end: EndKind) -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("x"), timeout=1.0))
    d.advance(1.0)
    d.end(tid, end, "whatever")
    assert d.kinds(tid)[2:] == [
        EK.TASK_STARTING,
        EK.TIMEOUT_HIT,
        EK.TASK_FAILED,
        EK.ACTOR_EXHAUSTED,
        EK.TASK_REMOVED,
    ]
    assert d.outcome(tid).kind is OutcomeKind.FAILED
    assert "timed out after 1s" in d.outcome(tid).reason


def test_a_timed_out_attempt_that_never_ends_is_abandoned_after_force_wait() -> None:
    d = Driver.make(force_wait=0.5)
    tid = d.add(TaskSpec.restartable(fn("x"), timeout=1.0))
    d.advance(1.0)
    assert d.next_deadline() == s(1.5)
    effects = d.advance(0.5)
    assert Abandon(tid, 1) in effects
    assert d.kinds(tid)[-2:] == [EK.TIMEOUT_HIT, EK.TASK_REMOVED]
    assert d.outcome(tid).kind is OutcomeKind.FORCE_ABORTED
    assert d.state.running == 0  # the permit is released (I3)
    d.end(tid, EndKind.INTERRUPTED, attempt=1)  # it finally ends: ignored, stale
    assert d.kinds(tid)[-1] is EK.TASK_REMOVED
    d.verify()


def test_a_timeout_restarts_the_timer_for_each_attempt() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED, timeout=3.0))
    d.advance(1.0)
    d.end(tid, EndKind.FAILED)
    d.fire_next()  # attempt 2 at t=2
    assert d.now == s(2.0)
    assert d.next_deadline() == s(5.0)
    d.advance(2.999)
    assert EK.TIMEOUT_HIT not in d.kinds(tid)


# -- always(interval) -----------------------------------------------------------------------------


def test_always_pauses_interval_after_success() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.periodic(fn("tick"), 5.0, backoff=FIXED))
    d.advance(0.5)
    d.end(tid, EndKind.RETURNED)
    assert d.kinds(tid)[2:] == [EK.TASK_STARTING, EK.TASK_STOPPED, EK.BACKOFF_SCHEDULED]
    scheduled = d.events_of(tid)[-1]
    assert scheduled.backoff_source is BackoffSource.SUCCESS
    assert scheduled.delay == 5.0
    d.advance(4.999999999)
    assert len(d.starts(tid)) == 1  # not a nanosecond early (I4)
    d.advance(0.000000001)
    assert len(d.starts(tid)) == 2
    assert d.kinds(tid)[-1] is EK.TASK_STARTING
    # A failure still uses the backoff, not the interval.
    d.end(tid, EndKind.FAILED)
    failure = d.events_of(tid)[-1]
    assert (failure.kind, failure.backoff_source, failure.delay) == (
        EK.BACKOFF_SCHEDULED,
        BackoffSource.FAILURE,
        1.0,
    )
    d.verify()


def test_always_without_interval_restarts_at_once() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec(fn("x"), restart=RestartPolicy.always()))
    d.end(tid, EndKind.RETURNED)
    assert d.events_of(tid)[-1].delay == 0.0
    assert d.next_deadline() == d.now
    d.fire_next()
    assert len(d.starts(tid)) == 2


def test_always_never_draws_randomness_for_the_interval() -> None:
    class NoDraws:
        def random(self) -> float:
            raise AssertionError("the interval after a success is not jittered")

    d = Driver(Driver.make().state.config, rng=NoDraws())
    backoff = BackoffPolicy(jitter=JitterPolicy.FULL)
    tid = d.add(TaskSpec.periodic(fn("x"), 1.0, backoff=backoff))
    for _ in range(5):
        d.end(tid, EndKind.RETURNED)
        d.fire_next()
    assert len(d.starts(tid)) == 6


# -- removal --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "kind"),
    [
        (EndKind.RETURNED, EK.TASK_STOPPED),
        (EndKind.CANCELED, EK.TASK_CANCELED),
        (EndKind.INTERRUPTED, EK.TASK_CANCELED),
        (EndKind.FAILED, EK.TASK_CANCELED),
        (EndKind.FATAL, EK.TASK_CANCELED),
    ],
)
def test_removed_while_running_cooperatively(end: EndKind, kind: EventKind) -> None:
    d = Driver.make(grace=10.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.advance(1.0)
    effects = d.feed_remove(tid)
    assert RemoveReply(effects.ticket, True, tid) in effects.effects
    assert RequestCancel(tid, 1) in effects.effects
    assert not any(isinstance(e, ForceCancel) for e in effects.effects)
    assert d.next_deadline() == s(11.0)  # force after grace
    d.advance(3.0)
    d.end(tid, end)
    assert d.kinds(tid)[2:] == [
        EK.TASK_STARTING,
        EK.TASK_REMOVE_REQUESTED,
        kind,
        EK.TASK_REMOVED,
    ]
    assert d.events_of(tid)[-1].outcome is OutcomeKind.CANCELED
    assert d.outcome(tid).kind is OutcomeKind.CANCELED
    assert d.next_deadline() is None
    assert not any(isinstance(e, ForceCancel) for e in d.effects)
    d.verify()


def test_removed_while_it_ignores_cancellation_then_ends_when_forced() -> None:
    d = Driver.make(grace=10.0, force_wait=2.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.advance(1.0)
    assert d.remove(tid)
    effects = d.advance(9.999999999)
    assert effects == []
    effects = d.advance(0.000000001)  # grace ran out at t=11
    assert effects == [ForceCancel(tid, 1)]
    d.advance(0.5)
    d.end(tid, EndKind.INTERRUPTED)
    assert d.kinds(tid)[2:] == [EK.TASK_STARTING, EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]
    assert d.events_of(tid)[-1].outcome is OutcomeKind.FORCE_ABORTED
    assert d.outcome(tid).kind is OutcomeKind.FORCE_ABORTED
    assert not any(isinstance(e, Abandon) for e in d.effects)
    d.verify()


def test_removed_while_it_ignores_even_force_is_abandoned() -> None:
    d = Driver.make(grace=10.0, force_wait=2.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.advance(1.0)
    assert d.remove(tid)
    assert d.advance(10.0) == [ForceCancel(tid, 1)]
    assert d.advance(1.999999999) == []
    effects = d.advance(0.000000001)  # t = 13 = remove + grace + force_wait
    assert effects[0] == Abandon(tid, 1)
    assert Finished(tid, "x", d.outcome(tid)) in effects
    assert d.kinds(tid)[2:] == [EK.TASK_STARTING, EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]
    assert d.events_of(tid)[-1].outcome is OutcomeKind.FORCE_ABORTED
    assert d.state.running == 0
    d.verify()


@pytest.mark.parametrize("phase", ["backoff", "waiting"])
def test_removed_between_attempts_ends_at_once(phase: str) -> None:
    d = Driver.make(max_concurrent=1)
    blocker = d.add(TaskSpec.restartable(fn("blocker")))
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED))
    if phase == "backoff":
        d.end(blocker, EndKind.RETURNED)  # x starts
        d.end(tid, EndKind.FAILED)  # x backs off
    effects = d.feed_remove(tid).effects
    assert not any(isinstance(e, RequestCancel | ForceCancel) for e in effects)
    assert d.kinds(tid)[-2:] == [EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]
    assert d.outcome(tid).kind is OutcomeKind.CANCELED
    assert not d.is_live(tid)
    d.verify()


# -- duplicate name -------------------------------------------------------------------------------


def test_duplicate_name_is_rejected_and_never_runs() -> None:
    d = Driver.make()
    first = d.add(TaskSpec.once(fn("x")))
    ids, effects = d.add_batch([TaskSpec.restartable(fn("x"))])
    dup = ids[0]
    assert d.kinds(dup) == [EK.TASK_ADD_REQUESTED, EK.TASK_ADD_FAILED]
    failed = d.events_of(dup)[-1]
    assert failed.outcome is OutcomeKind.REJECTED
    assert failed.rejection is RejectionKind.ALREADY_EXISTS
    assert failed.task == "x"
    assert not any(isinstance(e, StartAttempt) for e in effects)
    assert AddReply(d._ticket, RejectionKind.ALREADY_EXISTS, "x") in effects
    outcome = d.outcome(dup)
    assert (outcome.kind, outcome.rejection) == (OutcomeKind.REJECTED, RejectionKind.ALREADY_EXISTS)
    assert list(d.state.tasks) == [first]
    d.verify()


# -- shutdown -------------------------------------------------------------------------------------


def test_shutdown_ends_every_task_then_reports_grace_exceeded() -> None:
    d = Driver.make(grace=5.0, force_wait=1.0)
    polite = d.add(TaskSpec.restartable(fn("polite")))
    stuck = d.add(TaskSpec.restartable(fn("stuck")))
    waiting = d.add(TaskSpec.restartable(fn("waiting"), backoff=FIXED))
    d.end(waiting, EndKind.FAILED)  # in BACKOFF
    d.advance(0.5)
    effects = d.shutdown()
    assert d.all_kinds()[-1] is not EK.ALL_STOPPED_WITHIN_GRACE
    assert RequestCancel(polite, 1) in effects
    assert RequestCancel(stuck, 1) in effects
    assert d.kinds(waiting)[-1] is EK.TASK_REMOVED  # nothing ran: gone at once
    d.advance(2.0)
    d.end(polite, EndKind.CANCELED)
    assert d.advance(3.0) == [ForceCancel(stuck, 1)]  # grace: 5 s after the request
    d.end(stuck, EndKind.INTERRUPTED)
    kinds = d.all_kinds()
    start = kinds.index(EK.SHUTDOWN_REQUESTED)
    after = [(e.kind, e.task, e.outcome) for e in d.events[start:]]
    assert after == [
        (EK.SHUTDOWN_REQUESTED, None, None),
        (EK.TASK_REMOVED, "waiting", OutcomeKind.CANCELED),
        (EK.TASK_CANCELED, "polite", None),
        (EK.TASK_REMOVED, "polite", OutcomeKind.CANCELED),
        (EK.TASK_REMOVED, "stuck", OutcomeKind.FORCE_ABORTED),
        (EK.GRACE_EXCEEDED, None, None),
    ]
    assert d.events[-1].reason == "force-cancelled: stuck"
    assert d.effects[-1] == ShutdownDone(("stuck",))
    assert not d.state.tasks
    assert d.state.shutdown is not None
    assert d.state.shutdown.done
    d.verify()


def test_shutdown_with_cooperative_tasks_stops_within_grace() -> None:
    d = Driver.make(grace=5.0)
    ids = [d.add(TaskSpec.restartable(fn(name))) for name in ("a", "b", "c")]
    d.shutdown()
    for tid in reversed(ids):
        d.advance(1.0)
        d.end(tid, EndKind.RETURNED)
    assert d.all_kinds()[-1] is EK.ALL_STOPPED_WITHIN_GRACE
    assert d.effects[-1] == ShutdownDone(())
    for tid in ids:
        assert d.events_of(tid)[-1].outcome is OutcomeKind.CANCELED
    d.verify()


def test_every_added_task_is_removed_exactly_once_and_then_silent() -> None:
    d = Driver.make(grace=1.0, force_wait=1.0, max_concurrent=2)
    specs = [
        TaskSpec.once(fn("a")),
        TaskSpec.restartable(fn("b"), backoff=FIXED, max_retries=1),
        TaskSpec.periodic(fn("c"), 1.0),
        TaskSpec.restartable(fn("d"), timeout=0.5),
    ]
    ids, _ = d.add_batch(specs)
    d.end(ids[0], EndKind.RETURNED)
    d.end(ids[1], EndKind.FAILED)
    d.advance(0.7)
    d.shutdown()
    d.advance(5.0)
    for tid in ids:
        kinds = d.kinds(tid)
        assert kinds.count(EK.TASK_ADDED) == 1
        assert kinds.count(EK.TASK_REMOVED) == 1
        assert kinds[-1] is EK.TASK_REMOVED
        assert len(d.finished(tid)) == 1
    assert d.state.shutdown is not None
    assert d.state.shutdown.done
    d.verify()
