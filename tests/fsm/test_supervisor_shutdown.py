"""Shutdown and forced cancellation in the supervisor machine (docs/spec/api.md 4, I7)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, TaskSpec
from taskvisor.fsm import (
    Abandon,
    EndKind,
    EventKind,
    ForceCancel,
    OutcomeKind,
    Phase,
    RequestCancel,
    ShutdownDone,
    TaskId,
)
from taskvisor.fsm._table import CancelCause

from .driver import Driver, fn, s

EK = EventKind
FIXED = BackoffPolicy.constant(1.0)


def shutdown_dones(d: Driver) -> list[ShutdownDone]:
    return [e for e in d.effects if isinstance(e, ShutdownDone)]


def test_shutdown_with_no_tasks_completes_at_once() -> None:
    d = Driver.make()
    effects = d.shutdown()
    assert d.all_kinds() == [EK.SHUTDOWN_REQUESTED, EK.ALL_STOPPED_WITHIN_GRACE]
    assert effects[-1] == ShutdownDone(())
    assert d.next_deadline() is None


def test_grace_zero_forces_at_once() -> None:
    d = Driver.make(grace=0, force_wait=1.0)
    a = d.add(TaskSpec.restartable(fn("a")))
    b = d.add(TaskSpec.restartable(fn("b")))
    effects = d.shutdown()
    assert ForceCancel(a, 1) in effects
    assert ForceCancel(b, 1) in effects
    assert not any(isinstance(e, RequestCancel) for e in effects)
    d.end(a, EndKind.INTERRUPTED)
    d.end(b, EndKind.RETURNED)  # even a clean return after a force is a forced end
    assert d.events_of(a)[-1].outcome is OutcomeKind.FORCE_ABORTED
    assert d.events_of(b)[-1].outcome is OutcomeKind.FORCE_ABORTED
    assert d.all_kinds()[-1] is EK.GRACE_EXCEEDED
    assert shutdown_dones(d) == [ShutdownDone(("a", "b"))]
    assert d.now == 0
    d.verify()


def test_remove_with_grace_zero_forces_at_once() -> None:
    d = Driver.make(grace=0, force_wait=1.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    effects = d.feed_remove(tid).effects
    assert ForceCancel(tid, 1) in effects
    assert not any(isinstance(e, RequestCancel) for e in effects)
    assert d.next_deadline() == s(1.0)
    assert d.advance(1.0)[0] == Abandon(tid, 1)
    assert d.outcome(tid).kind is OutcomeKind.FORCE_ABORTED


def test_force_wait_zero_abandons_in_the_same_tick() -> None:
    d = Driver.make(grace=1.0, force_wait=0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.shutdown()
    effects = d.advance(1.0)
    assert effects[:2] == [ForceCancel(tid, 1), Abandon(tid, 1)]
    assert shutdown_dones(d) == [ShutdownDone(("x",))]


def test_a_second_shutdown_waits_and_a_late_one_gets_the_same_answer() -> None:
    d = Driver.make(grace=2.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.shutdown()
    events = len(d.events)
    assert d.shutdown() == []
    d.end(tid, EndKind.RETURNED)
    assert shutdown_dones(d) == [ShutdownDone(())]
    events = len(d.events)
    assert d.shutdown() == [ShutdownDone(())]
    assert len(d.events) == events  # no second SHUTDOWN_REQUESTED or completion event


def test_remove_during_shutdown_claims_nothing() -> None:
    d = Driver.make(grace=2.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.shutdown()
    assert d.remove(tid) is False
    assert d.remove(name="x") is False
    assert EK.TASK_REMOVE_REQUESTED not in d.kinds(tid)


def test_a_removal_in_progress_is_not_cancelled_twice() -> None:
    d = Driver.make(grace=4.0, force_wait=1.0)
    tid = d.add(TaskSpec.restartable(fn("x")))
    assert d.remove(tid)  # grace ends at t=4
    d.advance(1.0)
    effects = d.shutdown()
    assert not any(isinstance(e, RequestCancel | ForceCancel) for e in effects)
    view = d.state.snapshot().task(tid)
    assert view is not None
    assert view.cause is CancelCause.REMOVE  # still why it stops: the removal, not the shutdown
    assert d.advance(3.0) == [ForceCancel(tid, 1)]  # the removal's grace, not the shutdown's
    d.end(tid, EndKind.INTERRUPTED)
    # It was forced while shutting down, so it is reported stuck.
    assert shutdown_dones(d) == [ShutdownDone(("x",))]
    assert d.kinds(tid).count(EK.TASK_REMOVE_REQUESTED) == 1
    d.verify()


def test_a_timed_out_attempt_during_shutdown_ends_within_force_wait() -> None:
    # docs/spec/api.md is silent on this overlap; the core lets the shutdown take over the timeout's
    # forced cancellation: the task ends FORCE_ABORTED, and no later than force_wait.
    d = Driver.make(grace=10.0, force_wait=1.0)
    tid = d.add(TaskSpec.restartable(fn("x"), timeout=1.0))
    d.advance(1.0)
    assert d.state.tasks[tid].phase is Phase.STOPPING
    effects = d.shutdown()
    assert not any(isinstance(e, RequestCancel | ForceCancel) for e in effects)
    d.advance(0.5)
    d.end(tid, EndKind.INTERRUPTED)
    assert d.outcome(tid).kind is OutcomeKind.FORCE_ABORTED
    assert shutdown_dones(d)
    assert d.now <= s(2.0)
    d.verify()


def test_shutdown_cancels_in_id_order() -> None:
    d = Driver.make()
    ids = [d.add(TaskSpec.restartable(fn(n))) for n in ("c", "a", "b")]
    effects = d.shutdown()
    assert [e.task_id for e in effects if isinstance(e, RequestCancel)] == ids


def test_waiting_and_backing_off_tasks_end_at_once() -> None:
    d = Driver.make(max_concurrent=1)
    running = d.add(TaskSpec.restartable(fn("r")))
    waiting = d.add(TaskSpec.restartable(fn("w")))
    d.end(running, EndKind.FAILED)  # r backs off, w starts
    d.shutdown()
    assert d.kinds(running)[-1] is EK.TASK_REMOVED
    assert d.events_of(running)[-1].outcome is OutcomeKind.CANCELED
    assert d.state.tasks[waiting].phase is Phase.STOPPING
    d.end(waiting, EndKind.RETURNED)
    assert d.all_kinds()[-1] is EK.ALL_STOPPED_WITHIN_GRACE
    assert d.starts(running) == d.starts(running)[:1]  # never restarted
    d.verify()


# -- I7 over random populations -------------------------------------------------------------------

behaviours = st.one_of(
    st.tuples(st.just("cooperative"), st.floats(0.0, 0.999)),  # fraction of grace
    st.tuples(st.just("after force"), st.floats(0.0, 0.999)),  # fraction of force_wait
    st.tuples(st.just("never"), st.just(0.0)),
)


@given(
    grace=st.sampled_from([0.0, 0.5, 2.0, 30.0]),
    force_wait=st.sampled_from([0.0, 0.25, 1.0]),
    population=st.lists(
        st.tuples(st.sampled_from(["running", "backoff", "waiting"]), behaviours),
        min_size=0,
        max_size=8,
    ),
    max_concurrent=st.one_of(st.none(), st.integers(1, 4)),
    at=st.floats(0.0, 100.0),
)
def test_shutdown_finishes_within_grace_plus_force_wait(
    grace: float,
    force_wait: float,
    population: list[tuple[str, tuple[str, float]]],
    max_concurrent: int | None,
    at: float,
) -> None:
    d = Driver.make(grace=grace, force_wait=force_wait, max_concurrent=max_concurrent)
    ids = []
    for i, (phase, _) in enumerate(population):
        tid = d.add(TaskSpec.restartable(fn(f"t{i}"), backoff=BackoffPolicy.constant(1000.0)))
        ids.append(tid)
        if phase == "backoff" and d.state.tasks[tid].phase is Phase.RUNNING:
            d.end(tid, EndKind.FAILED)
    d.advance(at)
    start = d.now
    bound = start + s(grace) + s(force_wait)
    running = {t for t in ids if d.state.tasks[t].phase is Phase.RUNNING}
    d.shutdown()
    # When each running attempt will end, by its behaviour ("never": abandoned).
    ends: dict[TaskId, int] = {}
    for tid, (_, (how, frac)) in zip(ids, population, strict=True):
        if tid in running and how == "cooperative" and grace > 0:
            ends[tid] = start + int(frac * s(grace))
        elif tid in running and how == "after force":
            ends[tid] = start + s(grace) + int(frac * s(force_wait))
    while d.state.tasks:
        deadline = d.next_deadline()
        first = min((at for tid, at in ends.items() if tid in d.state.tasks), default=None)
        if first is not None and (deadline is None or first < deadline):
            d.wait_until(first)
            for tid in [tid for tid, at in ends.items() if at == first]:
                d.end(tid, EndKind.INTERRUPTED)
                del ends[tid]
        else:
            assert deadline is not None, "tasks are left but nothing will end them"
            d.fire_next()  # a deadline tied with an end fires first: force, then the end
        assert d.now <= bound  # I7
    done = shutdown_dones(d)
    assert len(done) == 1
    expected_stuck = sorted(
        f"t{i}"
        for i, (tid, (_, (how, _))) in enumerate(zip(ids, population, strict=True))
        if tid in running and (how != "cooperative" or grace == 0)
    )
    assert list(done[0].stuck) == expected_stuck
    assert d.all_kinds()[-1] is (
        EK.GRACE_EXCEEDED if expected_stuck else EK.ALL_STOPPED_WITHIN_GRACE
    )
    for i, tid in enumerate(ids):
        assert d.kinds(tid).count(EK.TASK_REMOVED) == 1
        kind = d.outcome(tid).kind
        assert kind is (
            OutcomeKind.FORCE_ABORTED if f"t{i}" in expected_stuck else OutcomeKind.CANCELED
        )
    d.verify()
