"""Registry rules of the supervisor machine: admission, names (I2), permits (I3), removal claims,
stale reports, and what happens after shutdown."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, TaskSpec, fsm
from taskvisor.fsm import (
    AddReply,
    AddTasks,
    AttemptEnded,
    EndKind,
    EventKind,
    Finished,
    OutcomeKind,
    Phase,
    RejectionKind,
    Remove,
    RemoveReply,
    StartAttempt,
    SubscriberInfo,
    SubscriberPanicked,
    TaskId,
)
from taskvisor.fsm._table import CancelCause

from .driver import TIMER_SLACK, Driver, fn, s

EK = EventKind
FIXED = BackoffPolicy.constant(1.0)


# -- batches are all-or-nothing -------------------------------------------------------------------


def test_a_valid_batch_is_accepted_whole() -> None:
    d = Driver.make()
    ids, effects = d.add_batch([TaskSpec.once(fn(n)) for n in ("a", "b", "c")])
    assert effects[-1] == AddReply(d._ticket)
    assert [e.task_id for e in effects if isinstance(e, StartAttempt)] == ids
    assert sorted(d.state.names.items()) == [("a", ids[0]), ("b", ids[1]), ("c", ids[2])]
    assert d.state.accepted == 3


def assert_whole_batch_rejected(d: Driver, ids: list[TaskId], culprit: str) -> None:
    kinds = [(e.kind, e.task_id) for e in d.events if e.task_id in ids]
    # Every item was requested, then every item failed; none was added or started.
    assert kinds == [(EK.TASK_ADD_REQUESTED, t) for t in ids] + [
        (EK.TASK_ADD_FAILED, t) for t in ids
    ]
    assert not d.starts() or all(s.task_id not in ids for s in d.starts())
    for tid in ids:
        outcome = d.outcome(tid)
        assert outcome.kind is OutcomeKind.REJECTED
        assert outcome.rejection is RejectionKind.ALREADY_EXISTS
        assert culprit in outcome.reason
        assert tid not in d.state.tasks
    assert AddReply(d._ticket, RejectionKind.ALREADY_EXISTS, culprit) in d.effects


def test_a_duplicate_inside_the_batch_rejects_the_whole_batch() -> None:
    d = Driver.make()
    ids, _ = d.add_batch([TaskSpec.once(fn(n)) for n in ("a", "b", "a", "c")])
    assert_whole_batch_rejected(d, ids, "a")
    assert not d.state.names
    assert d.state.accepted == 0
    d.verify()


def test_a_duplicate_of_a_live_task_rejects_the_whole_batch() -> None:
    d = Driver.make()
    live = d.add(TaskSpec.restartable(fn("b")))
    ids, _ = d.add_batch([TaskSpec.once(fn(n)) for n in ("a", "b", "c")])
    assert_whole_batch_rejected(d, ids, "b")
    assert list(d.state.names.items()) == [("b", live)]
    d.verify()


def test_a_duplicate_task_id_inside_the_batch_rejects_the_whole_batch() -> None:
    # Ids come from the driver and are never reused (docs/spec/api.md section 4); the core
    # still refuses to admit two tasks under one id, which would break I1 and I2. The contract
    # model, which expects what a driver does, would call the reused id itself a violation.
    d = Driver.make(contract=False)
    tid = TaskId(7)
    effects = d.feed(AddTasks(1, ((tid, TaskSpec.once(fn("a"))), (tid, TaskSpec.once(fn("b"))))))
    assert not any(isinstance(e, StartAttempt) for e in effects)
    assert isinstance(effects[-1], AddReply)
    assert effects[-1].rejection is RejectionKind.ALREADY_EXISTS
    assert not d.state.tasks
    d.verify()


def test_an_empty_batch_is_accepted() -> None:
    d = Driver.make()
    ids, effects = d.add_batch([])
    assert ids == []
    assert effects == [AddReply(d._ticket)]


def test_add_after_shutdown_is_rejected_shutting_down() -> None:
    d = Driver.make()
    d.shutdown()
    ids, effects = d.add_batch([TaskSpec.once(fn("late")), TaskSpec.once(fn("later"))])
    assert effects[-1] == AddReply(d._ticket, RejectionKind.SHUTTING_DOWN, None)
    for tid in ids:
        assert d.kinds(tid) == [EK.TASK_ADD_REQUESTED, EK.TASK_ADD_FAILED]
        assert d.events_of(tid)[-1].rejection is RejectionKind.SHUTTING_DOWN
        assert d.outcome(tid).rejection is RejectionKind.SHUTTING_DOWN
    assert not d.starts()
    d.verify()


# -- names (I2) -------------------------------------------------------------------------------


def test_a_name_is_reusable_once_its_task_is_gone_under_a_new_id() -> None:
    d = Driver.make()
    old = d.add(TaskSpec.once(fn("x")))
    d.end(old, EndKind.RETURNED)
    new = d.add(TaskSpec.once(fn("x")))
    assert new != old
    assert d.state.names["x"] == new
    assert d.kinds(new)[:3] == [EK.TASK_ADD_REQUESTED, EK.TASK_ADDED, EK.TASK_STARTING]
    d.verify()


def test_a_name_stays_taken_while_its_task_is_stopping() -> None:
    d = Driver.make(grace=10.0)
    old = d.add(TaskSpec.restartable(fn("x")))
    assert d.remove(old)
    assert d.state.tasks[old].phase is Phase.STOPPING
    ids, _ = d.add_batch([TaskSpec.once(fn("x"))])
    assert d.outcome(ids[0]).rejection is RejectionKind.ALREADY_EXISTS
    assert d.remove(name="x") is False  # the removal was already claimed
    d.end(old, EndKind.CANCELED)
    new = d.add(TaskSpec.once(fn("x")))
    assert d.state.names["x"] == new
    d.verify()


# -- removal claims -------------------------------------------------------------------------------


removal_requests = st.lists(st.sampled_from(["id", "name"]), min_size=1, max_size=6)


@given(st.sampled_from(["running", "backoff", "waiting", "timed out"]), removal_requests)
def test_exactly_one_remove_claims_the_task(phase: str, requests: list[str]) -> None:
    d = Driver.make(grace=10.0, max_concurrent=1)
    blocker = d.add(TaskSpec.restartable(fn("blocker")))
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED, timeout=5.0))
    if phase != "waiting":
        d.end(blocker, EndKind.RETURNED)
    if phase == "backoff":
        d.end(tid, EndKind.FAILED)
    if phase == "timed out":
        d.advance(5.0)
        assert d.state.tasks[tid].phase is Phase.STOPPING
    claims = [d.remove(tid) if how == "id" else d.remove(name="x") for how in requests]
    assert claims == [True] + [False] * (len(requests) - 1)
    assert d.kinds(tid).count(EK.TASK_REMOVE_REQUESTED) == 1
    replies = [e for e in d.effects if isinstance(e, RemoveReply)]
    assert [r.task_id for r in replies if r.claimed] == [tid]
    # Once the task is gone its name resolves to nothing.
    assert {r.task_id for r in replies} <= {tid, None}
    d.verify()


def test_removing_an_unknown_task_claims_nothing() -> None:
    d = Driver.make()
    assert d.feed(Remove(1, TaskId(99))) == [RemoveReply(1, False, TaskId(99))]
    assert d.feed(Remove(2, name="nobody")) == [RemoveReply(2, False, None)]
    assert d.feed(Remove(3)) == [RemoveReply(3, False, None)]


@pytest.mark.parametrize("name", ["x", "XXXX"])
def test_a_removal_naming_neither_id_nor_name_claims_nothing_whatever_the_tasks_are_named(
    name: str,
) -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn(name)))
    assert d.feed(Remove(9)) == [RemoveReply(9, False, None)]
    assert d.state.tasks[tid].phase is Phase.RUNNING


def test_remove_after_the_task_is_gone_claims_nothing() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("x")))
    d.end(tid, EndKind.RETURNED)
    assert d.remove(tid) is False
    assert d.remove(name="x") is False
    assert d.kinds(tid)[-1] is EK.TASK_REMOVED


def test_remove_by_id_wins_over_name() -> None:
    d = Driver.make()
    a = d.add(TaskSpec.once(fn("a")))
    b = d.add(TaskSpec.once(fn("b")))
    assert d.feed_remove(a, name="b").effects[0] == RemoveReply(d._ticket, True, a)
    assert b in d.state.tasks


# -- permits (I3): max_concurrent and FIFO ---------------------------------------------------------


@given(st.integers(min_value=1, max_value=4), st.lists(st.integers(0, 100), max_size=12))
def test_waiting_tasks_start_in_fifo_order(limit: int, picks: list[int]) -> None:
    d = Driver.make(max_concurrent=limit)
    ids, _ = d.add_batch([TaskSpec.once(fn(f"t{i}")) for i in range(8)])
    for pick in picks:
        running = [t for t in ids if t in d.state.tasks and d.state.tasks[t].phase is Phase.RUNNING]
        if not running:
            break
        d.end(running[pick % len(running)], EndKind.RETURNED)
        assert d.state.running <= limit
    assert [s.task_id for s in d.starts()] == ids[: len(d.starts())]
    assert len(d.starts()) == min(8, limit + len(picks)) or not d.state.tasks
    d.verify()


def test_a_task_back_from_backoff_queues_behind_earlier_waiters() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(TaskSpec.restartable(fn("a"), backoff=FIXED))
    b = d.add(TaskSpec.once(fn("b")))  # waits behind a
    d.end(a, EndKind.FAILED)  # a backs off; b gets the permit
    assert d.starts()[-1].task_id == b
    c = d.add(TaskSpec.once(fn("c")))  # waits
    d.fire_next()  # a's backoff is over: it queues behind c
    assert d.state.tasks[a].phase is Phase.WAITING
    d.end(b, EndKind.RETURNED)
    assert d.starts()[-1].task_id == c
    d.end(c, EndKind.RETURNED)
    assert d.starts()[-1].task_id == a
    assert d.starts()[-1].attempt == 2
    d.verify()


def test_a_removed_waiter_never_starts() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(TaskSpec.once(fn("a")))
    b = d.add(TaskSpec.once(fn("b")))
    c = d.add(TaskSpec.once(fn("c")))
    assert d.remove(b)
    d.end(a, EndKind.RETURNED)
    assert [s.task_id for s in d.starts()] == [a, c]
    d.verify()


def test_a_stopping_attempt_keeps_its_permit_until_it_ends() -> None:
    d = Driver.make(max_concurrent=1, grace=5.0)
    a = d.add(TaskSpec.restartable(fn("a")))
    b = d.add(TaskSpec.once(fn("b")))
    assert d.remove(a)
    assert [s.task_id for s in d.starts()] == [a]  # b still waits (I3)
    d.advance(1.0)
    d.end(a, EndKind.CANCELED)
    assert [s.task_id for s in d.starts()] == [a, b]


# -- stale and duplicate reports ------------------------------------------------------------------


def test_stale_and_duplicate_attempt_reports_are_ignored() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED))
    d.end(tid, EndKind.FAILED)  # attempt 1 ended; now in BACKOFF
    stale = [
        AttemptEnded(tid, 1, EndKind.FAILED),  # duplicate report
        AttemptEnded(tid, 1, EndKind.RETURNED),
        AttemptEnded(tid, 2, EndKind.FAILED),  # an attempt that has not started
        AttemptEnded(TaskId(404), 1, EndKind.FAILED),  # unknown task
    ]
    for inp in stale:
        before = d.state
        assert d.feed(inp) == []
        assert d.state == before
        assert d.state.timers is before.timers
    d.fire_next()  # attempt 2 runs
    for inp in [AttemptEnded(tid, 1, EndKind.RETURNED), AttemptEnded(tid, 3, EndKind.FATAL)]:
        before = d.state
        assert d.feed(inp) == []
        assert d.state == before
    d.end(tid, EndKind.RETURNED)
    d.verify()


def test_an_interrupted_attempt_nobody_cancelled_is_a_retryable_failure() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED))
    d.end(tid, EndKind.INTERRUPTED, "CancelledError raised by the task itself")
    assert d.kinds(tid)[-2:] == [EK.TASK_FAILED, EK.BACKOFF_SCHEDULED]
    assert d.state.tasks[tid].phase is Phase.BACKOFF
    d.fire_next()
    assert len(d.starts(tid)) == 2


def test_canceled_raised_on_its_own_ends_the_task_and_is_never_restarted() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.periodic(fn("x"), 1.0))
    d.end(tid, EndKind.CANCELED, "gave up", exit_code=2)
    assert d.kinds(tid)[-2:] == [EK.TASK_CANCELED, EK.TASK_REMOVED]
    outcome = d.outcome(tid)
    assert (outcome.kind, outcome.reason, outcome.exit_code) == (OutcomeKind.CANCELED, "gave up", 2)
    assert d.next_deadline() is None


# -- subscribers ----------------------------------------------------------------------------------


def test_a_subscriber_panic_is_published_with_its_name() -> None:
    d = Driver.make(subscribers=[SubscriberInfo("a"), SubscriberInfo("b")])
    d.feed(SubscriberPanicked(1, "ZeroDivisionError: x"))
    ev = d.events[-1]
    assert (ev.kind, ev.task, ev.reason, ev.task_id) == (
        EK.SUBSCRIBER_PANICKED,
        "b",
        "ZeroDivisionError: x",
        None,
    )


def test_finished_follows_task_removed_for_each_task() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.once(fn("x")))
    effects = d.end(tid, EndKind.RETURNED)
    finished = [i for i, e in enumerate(effects) if isinstance(e, Finished)]
    assert len(finished) == 1
    removed = [
        i
        for i, e in enumerate(effects)
        if getattr(getattr(e, "event", None), "kind", None) is EK.TASK_REMOVED
    ]
    assert removed == [finished[0] - 1]


# -- timers ---------------------------------------------------------------------------------------


def test_stale_timers_do_not_pile_up_behind_an_early_live_deadline() -> None:
    # A long-running worker's timeout is the earliest live deadline for half an hour; behind
    # it, every success of a periodic task leaves a stale 1-hour timeout entry. Without
    # compaction the heap held 60,101 entries for 101 tasks after 600 s.
    d = Driver.make()
    d.add(TaskSpec.restartable(fn("worker"), timeout=1800.0))
    ids = [d.add(TaskSpec.periodic(fn(f"t{i}"), 1.0, timeout=3600.0)) for i in range(10)]
    for _ in range(200):
        for tid in ids:
            d.end(tid, EndKind.RETURNED)
        d.advance(1.0)
    assert len(d.state.timers) <= 2 * len(d.state.tasks) + TIMER_SLACK
    assert d.next_deadline() == min(t.deadline for t in d.state.tasks.values() if t.deadline)


def test_task_ids_are_opaque_ordered_and_hashable() -> None:
    assert TaskId(1) < TaskId(2)
    assert len({TaskId(1), TaskId(1)}) == 1
    assert str(TaskId(7)) == "#7"
    assert repr(TaskId(7)) == "TaskId(7)"


# -- owned state (architecture rule 3) ------------------------------------------------------------


def test_a_refused_input_leaves_the_state_untouched() -> None:
    # A driver bug (more events consumed than were queued) is refused before anything is
    # written, so the stateful machines can expect the error and go on.
    d = Driver.make(auto_ack=False)
    d.add(TaskSpec.restartable(fn("x")))
    before = d.state.snapshot()
    with pytest.raises(ValueError, match="consumed 99"):
        fsm.step(d.state, fsm.EventsConsumed(0, 99), d.now, d.rng)
    assert d.state.snapshot() == before
    spec = fsm.ControllerSpec(TaskSpec.once(fn("y")))
    with pytest.raises(ValueError, match="controller"):
        fsm.step(d.state, fsm.Submit(1, TaskId(77), spec), d.now, d.rng)
    assert d.state.snapshot() == before
    with pytest.raises(TypeError) as raised:
        fsm.step(d.state, "tick", d.now, d.rng)  # type: ignore[arg-type]
    assert str(raised.value) == "not an input: 'tick'"
    assert d.state.snapshot() == before


def test_step_mutates_the_state_it_is_given_and_returns_it() -> None:
    d = Driver.make()
    state = d.state
    same, effects = fsm.step(
        state, fsm.AddTasks(1, ((TaskId(5), TaskSpec.once(fn("y"))),)), 0, d.rng
    )
    assert same is state
    assert TaskId(5) in state.tasks
    assert any(isinstance(e, fsm.StartAttempt) for e in effects)


def test_a_clone_steps_independently_and_snapshots_compare_by_value() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x")))
    twin = d.state.clone()
    assert twin.snapshot() == d.state.snapshot()
    fsm.step(twin, fsm.AttemptEnded(tid, 1, EndKind.FAILED, "boom"), d.now, d.rng)
    assert twin.tasks[tid].phase is not d.state.tasks[tid].phase
    assert twin.snapshot() != d.state.snapshot()
    assert hash(d.state.snapshot()) == hash(d.state.snapshot())


def test_a_snapshot_lists_the_tasks_waiting_for_a_permit_in_fifo_order() -> None:
    d = Driver.make(max_concurrent=1)
    a, b, c, e = (d.add(TaskSpec.once(fn(name))) for name in "abce")
    assert d.state.snapshot().ready == (b, c, e)
    d.remove(c)  # left the queue: its stale entry is not listed
    assert d.state.snapshot().ready == (b, e)
    d.end(a, EndKind.RETURNED)
    assert d.state.snapshot().ready == (e,)


def test_a_snapshot_copies_what_each_task_has_done() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(TaskSpec.restartable(fn("a"), backoff=BackoffPolicy.constant(1.0)))
    b = d.add(TaskSpec.periodic(fn("b"), 5.0))
    view = d.state.snapshot().task(b)
    assert view is not None  # waiting for a permit: it has done nothing yet
    assert (view.name, view.phase, view.attempt, view.started_at) == ("b", Phase.WAITING, 0, 0)
    assert (view.streak_start, view.last_beat, view.last_failure) == (0, 0, None)
    assert (view.cause, view.forced, view.decision) == (None, False, None)
    d.advance(1.5)
    d.end(a, EndKind.FAILED, "boom")  # b takes the permit
    view = d.state.snapshot().task(a)
    assert view is not None
    assert (view.name, view.phase, view.attempt, view.started_at) == ("a", Phase.BACKOFF, 1, 0)
    assert (view.streak_start, view.last_failure) == (s(1.5), "boom")
    view = d.state.snapshot().task(b)
    assert view is not None
    assert (view.attempt, view.started_at, view.last_beat) == (1, s(1.5), s(1.5))
    d.advance(0.5)
    d.end(b, EndKind.RETURNED)  # periodic: it pauses 5 s, a success pause
    (scheduled,) = [e for e in d.events_of(b) if e.kind is EK.BACKOFF_SCHEDULED]
    view = d.state.snapshot().task(b)
    assert view is not None
    assert view.decision is not None
    assert view.decision == scheduled.decision


def test_a_snapshot_copies_each_tasks_streak_window_stream_and_cancel_state() -> None:
    d = Driver.make(streams=True)
    spec = TaskSpec.restartable(
        fn("a"),
        backoff=BackoffPolicy(first=1.0, max=8.0, jitter=fsm.JitterPolicy.FULL),
        intensity=fsm.Intensity(5, 60.0),
        timeout=4.0,
    )
    tid = d.add(spec)
    d.advance(0.5)
    d.end(tid, EndKind.FAILED, "boom")
    live, view = d.state.tasks[tid], d.state.snapshot().task(tid)
    assert view is not None
    assert view.streak == live.streak
    assert view.streak.failures == 1
    assert view.restarts == (s(0.5),)  # the restart entered the task's intensity window
    assert live.stream is not None  # its own stream (seeded), advanced by the jitter's draw
    assert view.stream == live.stream
    d.fire_next()  # restarts; its 4 s timeout then fires: cancelled, forced
    d.fire_next()
    view = d.state.snapshot().task(tid)
    assert view is not None
    assert view.phase is Phase.STOPPING
    assert view.cause is live.cause
    assert view.cause is CancelCause.TIMEOUT
    assert view.forced is True


def test_a_snapshot_copies_the_supervisors_own_state() -> None:
    config = fsm.CoreConfig(
        1.0,
        force_wait=0.5,
        subscribers=[SubscriberInfo("rec")],
        controller=fsm.ControllerConfig(),
        intensity=fsm.Intensity(1, 60.0),
        seed=7,
    )
    d = Driver(config)
    a = d.add(TaskSpec.restartable(fn("a"), backoff=BackoffPolicy.constant(1.0)))
    owner = d.new_id()
    d.feed(fsm.Submit(d.ticket(), owner, fsm.ControllerSpec(TaskSpec.once(fn("o")), slot="s")))
    d.advance(0.5)
    d.end(a, EndKind.FAILED, "boom")  # restart 1 of the supervisor's 1 in 60 s
    snap = d.state.snapshot()
    assert [(slot.name, slot.owner) for slot in snap.slots] == [("s", owner)]
    assert snap.restarts == (s(0.5),)
    assert snap.incarnations == (("a", 1), ("o", 1))
    assert snap.names == (("a", a), ("o", owner))
    assert snap.slot_of == ((owner, "s"),)
    assert (snap.running, snap.accepted, snap.finished) == (1, 2, 0)  # a backs off, o runs
    assert snap.bus == d.state.bus.snapshot()
    assert (snap.shutdown, snap.escalation) == (None, None)
    d.fire_next()  # a restarts at 1.5 s
    d.end(a, EndKind.FAILED, "boom")  # a second restart would exceed it: escalation
    snap = d.state.snapshot()
    assert snap.escalation is not None
    assert snap.escalation == d.state.escalation
    assert snap.shutdown is not None
    assert snap.shutdown == d.state.shutdown


def test_a_snapshot_tells_the_next_deadline_as_the_state_does() -> None:
    d = Driver.make()
    assert d.state.snapshot().next_deadline() is None  # nothing is due: no tasks
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=BackoffPolicy.constant(2.0)))
    assert d.state.snapshot().next_deadline() is None  # running, no timeout: nothing is due
    d.end(tid, EndKind.FAILED, "boom")
    assert d.state.snapshot().next_deadline() == fsm.next_deadline(d.state) == s(2.0)
    assert d.state.snapshot().ties == ()  # one deadline: no order among equals to keep


def test_a_clone_of_an_escalated_state_keeps_the_escalation() -> None:
    d = Driver(fsm.CoreConfig(1.0, subscribers=[SubscriberInfo("rec")]))
    tid = d.add(TaskSpec.once(fn("db"), critical=True))
    d.end(tid, EndKind.FATAL, "gone")  # a critical task's failure: the supervisor shuts down
    assert d.state.escalation is not None
    twin = d.state.clone()
    assert twin.escalation == d.state.escalation
    assert twin.snapshot() == d.state.snapshot()


def test_a_success_clears_the_last_failure() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.periodic(fn("p"), 5.0))
    d.end(tid, EndKind.FAILED, "boom")
    view = d.state.snapshot().task(tid)
    assert view is not None
    assert view.last_failure == "boom"
    d.fire_next()
    d.end(tid, EndKind.RETURNED)  # healthy again: no last failure to show (h.snapshot())
    view = d.state.snapshot().task(tid)
    assert view is not None
    assert (view.phase, view.last_failure) == (Phase.BACKOFF, None)


def test_a_config_built_from_checked_values_equals_the_validated_one() -> None:
    # The runtime builds its core's config with ``checked`` (values it validated itself): the
    # seed and the retry budgets must reach the core as they do through ``CoreConfig(...)``.
    budgets = {"db": fsm.RetryBudget(2.0, 3), "api": fsm.RetryBudget(0.5, 1)}
    subscribers = [SubscriberInfo("rec", 8)]
    full = fsm.CoreConfig(
        2.0,
        force_wait=0.5,
        max_concurrent=3,
        subscribers=subscribers,
        intensity=fsm.Intensity(2, 10.0),
        retry_budgets=budgets,
        seed=7,
    )
    quick = fsm.CoreConfig.checked(
        grace_ns=s(2.0),
        force_wait_ns=s(0.5),
        max_concurrent=3,
        subscribers=subscribers,
        defaults=full.defaults,
        controller=None,
        intensity=fsm.Intensity(2, 10.0),
        retry_budgets=budgets,
        seed=7,
    )
    assert quick == full
    assert (quick.seed, quick.retry_budgets, quick.capacities) == (
        7,
        (("api", budgets["api"]), ("db", budgets["db"])),
        (8,),
    )


# -- snapshots keep the firing order of equal deadlines -------------------------------------------

_RETRY = BackoffPolicy.constant(1.0)
#: Two restartable tasks whose restarts fall at the same instant, and what makes the order of
#: that instant's deadlines matter: one free run permit (a third task holds the other), or one
#: token of a shared retry budget.
_TIE_SCOPES = {
    "one free permit": (
        fsm.CoreConfig(1.0, max_concurrent=2),
        (
            TaskSpec.restartable(fn("a"), backoff=_RETRY),
            TaskSpec.restartable(fn("b"), backoff=_RETRY),
            TaskSpec.once(fn("c")),
        ),
    ),
    "one budget token": (
        fsm.CoreConfig(1.0, retry_budgets={"shared": fsm.RetryBudget(1.0, 1)}),
        (
            TaskSpec.restartable(fn("a"), backoff=_RETRY, retry_budget="shared"),
            TaskSpec.restartable(fn("b"), backoff=_RETRY, retry_budget="shared"),
        ),
    ),
}


def _failed_in_order(
    config: fsm.CoreConfig, specs: tuple[TaskSpec, ...], order: tuple[int, ...]
) -> fsm.SupervisorState:
    """Add ``specs`` at 0 s; then the attempts of the ids in ``order`` fail, all at 0 s."""
    rng = random.Random(0)  # constant backoff: nothing is drawn
    state = fsm.SupervisorState(config)
    fsm.step(state, AddTasks(1, tuple((TaskId(i + 1), sp) for i, sp in enumerate(specs))), 0, rng)
    for tid in order:
        fsm.step(state, AttemptEnded(TaskId(tid), 1, EndKind.FAILED, "boom"), 0, rng)
    return state


@pytest.mark.parametrize("scope", sorted(_TIE_SCOPES))
def test_states_whose_equal_deadlines_fire_in_another_order_have_different_snapshots(
    scope: str,
) -> None:
    # a and b fail at the same instant in either order: both restart at 1 s, and the one that
    # failed first fires first there (token order, I8) and takes the one permit or token. The
    # states differ only in that order, yet they do differently: their snapshots must differ,
    # or an explorer deduplicating by snapshot would drop one of the two futures.
    config, specs = _TIE_SCOPES[scope]
    a_first = _failed_in_order(config, specs, (1, 2))
    b_first = _failed_in_order(config, specs, (2, 1))
    assert a_first.snapshot() != b_first.snapshot()
    assert a_first.snapshot().ties == ((TaskId(1), TaskId(2)),)
    assert b_first.snapshot().ties == ((TaskId(2), TaskId(1)),)
    a_view, b_view = a_first.snapshot(), b_first.snapshot()
    assert (a_view.tasks, a_view.seq, a_view.budgets) == (b_view.tasks, b_view.seq, b_view.budgets)
    for state in (a_first, b_first):
        fsm.step(state, fsm.TICK, 10**9, random.Random(0))
    assert a_first.tasks[TaskId(1)].phase is Phase.RUNNING
    assert a_first.tasks[TaskId(2)].phase is not Phase.RUNNING
    assert b_first.tasks[TaskId(2)].phase is Phase.RUNNING
    assert b_first.tasks[TaskId(1)].phase is not Phase.RUNNING


def test_snapshots_keep_the_rank_among_equal_deadlines_not_the_tokens() -> None:
    # Two paths to one state: c's restart is scheduled (and c removed) before or after a's and
    # b's, so their timer tokens differ (1, 2 against 0, 1), but a still fires before b.
    config = fsm.CoreConfig(1.0)
    specs = tuple(TaskSpec.restartable(fn(name), backoff=_RETRY) for name in "abc")
    states = []
    for c_first in (True, False):
        state = _failed_in_order(config, specs, (3, 1, 2) if c_first else (1, 2, 3))
        fsm.step(state, Remove(9, task_id=TaskId(3)), 0, random.Random(0))
        states.append(state)
    tokens = [(s.tasks[TaskId(1)].timer, s.tasks[TaskId(2)].timer) for s in states]
    assert tokens[0] != tokens[1]
    assert states[0].snapshot() == states[1].snapshot()
    assert states[0].snapshot().ties == ((TaskId(1), TaskId(2)),)
    assert hash(states[0].snapshot()) == hash(states[1].snapshot())
