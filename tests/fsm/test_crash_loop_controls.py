"""The crash-loop controls of docs/spec/api.md section 8, decided by the core alone (I10).

Each test drives ``fsm.step`` through ``Driver`` (every step checked against I1-I8 and the
timer heap) at exact virtual times, so the boundaries of each rule are asserted to the
nanosecond: the healthy-run threshold, the intensity window, the give-up age, the heartbeat.
"""

from __future__ import annotations

import random

import pytest

from taskvisor import BackoffPolicy, ConfigError, Fail, Intensity, TaskDefaults, TaskSpec
from taskvisor.fsm import (
    CoreConfig,
    EndKind,
    Escalate,
    EventKind,
    Heartbeat,
    OutcomeKind,
    Phase,
    SubscriberInfo,
    TaskId,
)
from taskvisor.fsm._intensity import allows, count_within, record

from .driver import Driver, fn, s

EK = EventKind
OK = OutcomeKind
FIXED = BackoffPolicy.constant(1.0)


def driver(**config: object) -> Driver:
    return Driver(
        CoreConfig(1.0, force_wait=0.5, subscribers=[SubscriberInfo("rec")], **config),  # type: ignore[arg-type]
        seed=0,
    )


def fail_after(d: Driver, tid: TaskId, ran: float, reason: str = "boom") -> None:
    """The running attempt fails ``ran`` seconds after it started."""
    d.wait_until(d.state.tasks[tid].started_at + s(ran))
    d.end(tid, EndKind.FAILED, reason)


# -- healthy-run reset ----------------------------------------------------------------------------


def test_an_attempt_that_ran_reset_after_starts_a_new_streak_exactly_at_the_threshold() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("conn"), backoff=BackoffPolicy.exponential(1.0)))
    fail_after(d, tid, 10.0)  # streak 1: retry 0 -> 1 s
    d.fire_next()
    fail_after(d, tid, 10.0)  # retry 1 -> 2 s
    assert d.state.tasks[tid].streak.failures == 2
    d.fire_next()
    fail_after(d, tid, 300.0 - 1e-9)  # 1 ns short of the default reset_after: retry 2 -> 4 s
    assert [e.delay for e in d.events_of(tid) if e.kind is EK.BACKOFF_SCHEDULED] == [1, 2, 4]
    d.fire_next()
    fail_after(d, tid, 300.0)  # exactly reset_after: retry 0 of a new streak -> 1 s
    delays = [e.delay for e in d.events_of(tid) if e.kind is EK.BACKOFF_SCHEDULED]
    assert delays[-1] == 1.0
    assert d.state.tasks[tid].streak.failures == 1


def test_max_retries_counts_afresh_after_a_healthy_run() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("conn"), max_retries=1, backoff=FIXED))
    for _ in range(5):  # five long runs, each failing once: never two failures in a streak
        fail_after(d, tid, 3600.0)
        assert d.state.tasks[tid].phase is Phase.BACKOFF
        d.fire_next()
    # The last long run's failure was the first of its streak (its one retry is running now):
    # a quick failure is the second in a row, past max_retries=1.
    fail_after(d, tid, 1.0)
    assert "retry limit (1) reached" in d.outcome(tid).reason


def test_reset_after_none_gives_the_seeds_trace() -> None:
    """With ``reset_after=None`` the streak ends only on success, exactly as before: a task
    failing once a day is exhausted on day 4; with a reset it never is."""

    def trace(reset: float | None, days: int = 10) -> list[tuple[EventKind, float | None]]:
        d = driver(defaults=TaskDefaults(reset_after=reset))
        tid = d.add(TaskSpec.restartable(fn("conn"), max_retries=3))
        for _ in range(days):
            fail_after(d, tid, 86_400.0)
            if not d.is_live(tid):
                break
            d.fire_next()
        return [(e.kind, e.delay) for e in d.events_of(tid)]

    old = trace(None)
    assert old[-2][0] is EK.ACTOR_EXHAUSTED
    assert sum(1 for k, _ in old if k is EK.TASK_STARTING) == 4
    assert trace(None) == old  # deterministic
    new = trace(3600.0)
    assert EK.ACTOR_EXHAUSTED not in [k for k, _ in new]
    assert sum(1 for k, _ in new if k is EK.TASK_STARTING) == 11


# -- restart intensity ----------------------------------------------------------------------------


def test_a_tasks_intensity_window_counts_restarts_within_the_last_within_seconds() -> None:
    d = driver()
    spec = TaskSpec.restartable(fn("x"), intensity=Intensity(2, 10.0), backoff=FIXED)
    tid = d.add(spec)
    fail_after(d, tid, 1.0)  # t=1: restart 1 (window: 1)
    d.fire_next()
    fail_after(d, tid, 1.0)  # t=3: restart 2 (window: 1, 3)
    d.fire_next()
    assert list(d.state.tasks[tid].restarts or ()) == [s(1.0), s(3.0)]
    # t=11 - 1ns: 1 and 3 are both still within 10 s -> a third restart is refused...
    d.wait_until(s(11.0) - 1)
    snap = d.state.clone()
    d.end(tid, EndKind.FAILED, "boom")
    assert "restart intensity exceeded (more than 2 restarts within 10s)" in d.outcome(tid).reason
    # ...but at exactly t=11 the restart at 1 s has left the window (now - r >= within).
    # d2 starts from a transplanted state, which the contract model never saw: unmodelled.
    d2 = Driver(d.state.config, seed=0, contract=False)
    d2.core.state = snap  # type: ignore[misc]
    d2.now = s(11.0)
    d2.end(tid, EndKind.FAILED, "boom")
    assert d2.state.tasks[tid].phase is Phase.BACKOFF
    assert list(d2.state.tasks[tid].restarts or ()) == [s(3.0), s(11.0)]  # 1 s was forgotten


def test_intensity_zero_means_no_restart_after_a_failure() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("x"), intensity=Intensity(0, 1.0)))
    d.end(tid, EndKind.FAILED, "boom")
    assert d.outcome(tid).kind is OK.FAILED
    assert "restart intensity" in d.outcome(tid).reason


def test_the_supervisors_intensity_escalates_once_and_cancels_everyone() -> None:
    d = driver(intensity=Intensity(1, 60.0))
    a = d.add(TaskSpec.restartable(fn("a"), backoff=FIXED))
    b = d.add(TaskSpec.restartable(fn("b"), backoff=FIXED))
    d.end(a, EndKind.FAILED, "boom")  # restart 1 of 1
    assert d.state.escalation is None
    effects = d.end(b, EndKind.FAILED, "boom")  # a second restart would exceed it
    escalations = [e for e in effects if isinstance(e, Escalate)]
    assert escalations == [Escalate("restart intensity", None, None, 1, 60.0)]
    assert "supervisor restart intensity exceeded" in d.outcome(b).reason
    assert d.outcome(a).kind is OK.CANCELED  # in backoff: cancelled at once
    assert d.state.shutdown is not None
    assert d.state.shutdown.done
    shutdowns = [e for e in d.events if e.kind is EK.SHUTDOWN_REQUESTED]
    assert len(shutdowns) == 1
    assert "restart intensity" in (shutdowns[0].reason or "")
    d.verify()


@pytest.mark.parametrize(
    "spec",
    [
        TaskSpec.restartable(fn("a"), max_retries=1, backoff=FIXED),  # its retry limit
        TaskSpec.once(fn("a")),  # restart NEVER
        TaskSpec.restartable(fn("a"), intensity=Intensity(0, 60.0)),  # its own intensity
    ],
    ids=["retry limit", "never restarted", "task intensity"],
)
def test_a_task_ended_by_its_own_rule_does_not_shut_down_a_supervisor_with_an_intensity(
    spec: TaskSpec,
) -> None:
    d = driver(intensity=Intensity(5, 60.0))
    other = d.add(TaskSpec.restartable(fn("other")))
    tid = d.add(spec)
    while d.is_live(tid):
        if d.state.tasks[tid].phase is Phase.RUNNING:
            d.end(tid, EndKind.FAILED, "boom")
        else:
            d.fire_next()
    assert d.outcome(tid).kind is OK.FAILED
    assert not [e for e in d.effects if isinstance(e, Escalate)]
    assert (d.state.escalation, d.state.shutdown) == (None, None)
    assert d.state.tasks[other].phase is Phase.RUNNING


def test_periodic_restarts_after_success_never_enter_a_window() -> None:
    d = driver(intensity=Intensity(0, 60.0))
    tid = d.add(TaskSpec.periodic(fn("p"), 1.0, intensity=Intensity(0, 60.0)))
    for _ in range(20):
        d.end(tid, EndKind.RETURNED)
        d.fire_next()
    assert d.state.restarts == type(d.state.restarts)()  # an empty deque
    assert d.state.tasks[tid].restarts is None
    assert d.state.tasks[tid].attempt == 21


# -- critical tasks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "escalates"),
    [
        (EndKind.FAILED, True),
        (EndKind.FATAL, True),
        (EndKind.RETURNED, False),
        (EndKind.CANCELED, False),
    ],
)
def test_only_a_critical_tasks_failed_or_fatal_end_escalates(end: EndKind, escalates: bool) -> None:
    d = driver()
    other = d.add(TaskSpec.restartable(fn("other")))
    tid = d.add(TaskSpec.once(fn("db"), critical=True))
    effects = d.end(tid, end, "why")
    got = [e for e in effects if isinstance(e, Escalate)]
    if escalates:
        outcome = d.outcome(tid)
        assert got == [Escalate("critical task", "db", outcome, None, None)]
        assert d.state.tasks[other].phase is Phase.STOPPING  # cancelled cooperatively
    else:
        assert got == []
        assert d.state.shutdown is None


def test_a_critical_failure_during_shutdown_does_not_escalate() -> None:
    d = driver()
    d.add(TaskSpec.once(fn("db"), critical=True, timeout=0.5))
    d.shutdown()
    effects = d.advance(2.0)
    assert not [e for e in effects if isinstance(e, Escalate)]
    assert d.state.escalation is None


# -- which failures retry -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "fatal"),
    [
        (ValueError("bad"), True),
        (ConnectionError("reset"), False),
        (ConnectionResetError("reset"), False),  # a subclass of a listed type
        (Fail("x"), False),  # Fail always retries
        (None, False),  # the runtime's own classification
    ],
)
def test_retry_on_decides_which_exceptions_retry(error: BaseException | None, fatal: bool) -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("x"), retry_on=ConnectionError))
    d.end(tid, EndKind.FAILED, "it broke", error=error)
    if fatal:
        assert d.outcome(tid).kind is OK.FATAL
        assert d.outcome(tid).reason == "not retried (ValueError is not in retry_on): it broke"
        assert d.kinds(tid)[-3:] == [EK.TASK_FAILED, EK.ACTOR_DEAD, EK.TASK_REMOVED]
        assert d.outcome(tid).error is error  # the exception itself, for run()'s results
    else:
        assert d.state.tasks[tid].phase is Phase.BACKOFF


# -- giving up ------------------------------------------------------------------------------------


def test_give_up_after_counts_from_the_streaks_first_failure() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("x"), give_up_after=5.0, backoff=FIXED))
    fail_after(d, tid, 2.0)  # t=2: the streak begins here (not at the attempt's start, 0)
    d.fire_next()  # t=3
    fail_after(d, tid, 4.0)  # t=7: exactly 5 s into the streak, not more: retried
    assert d.state.tasks[tid].phase is Phase.BACKOFF
    d.fire_next()  # t=8
    d.wait_until(s(8.0) + 1)
    d.end(tid, EndKind.FAILED, "boom")  # 6 s + 1 ns > 5 s
    assert d.outcome(tid).reason == "gave up after 5s of failures; last failure: boom"


def test_a_long_healthy_run_does_not_make_its_first_failure_too_old() -> None:
    # A connection that held for an hour, give_up_after=600: its drop starts a fresh streak.
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("conn"), give_up_after=600.0, backoff=FIXED))
    fail_after(d, tid, 3600.0)
    assert d.state.tasks[tid].phase is Phase.BACKOFF
    assert d.state.tasks[tid].streak_start == s(3600.0)


# -- the watchdog ---------------------------------------------------------------------------------


def test_the_watchdog_deadline_follows_the_latest_heartbeat() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("w"), watchdog=2.0, backoff=FIXED))
    assert d.next_deadline() == s(2.0)  # counted from the start
    d.wait_until(s(1.5))
    d.feed(Heartbeat(tid, 1, s(1.5)))
    assert d.next_deadline() == s(2.0)  # not re-armed by the heartbeat itself (lazy)
    effects = d.feed(d_tick := __import__("taskvisor").fsm.TICK, s(2.0))
    assert effects == []  # the heartbeat moved the deadline: re-armed, nothing else
    assert d.next_deadline() == s(3.5)
    assert d_tick is not None
    d.feed(Heartbeat(tid, 1, s(9.0)))  # a beat from the future is taken as now (2 s)
    d.fire_next()  # 3.5 s: the beat at 2 s moves the deadline to 4 s
    assert d.now == s(3.5)
    assert d.next_deadline() == s(4.0)
    d.fire_next()  # 4 s: missed
    hits = [e for e in d.events_of(tid) if e.kind is EK.TIMEOUT_HIT]
    assert [(e.at, e.reason, e.timeout) for e in hits] == [
        (4.0, "watchdog: no heartbeat for 2s", 2.0)
    ]
    d.end(tid, EndKind.INTERRUPTED, "cancelled")
    failed = [e for e in d.events_of(tid) if e.kind is EK.TASK_FAILED]
    assert failed[-1].reason == "watchdog: no heartbeat for 2s"
    assert d.state.tasks[tid].phase is Phase.BACKOFF  # retryable, like a timeout
    view = d.state.snapshot().task(tid)
    assert view is not None  # a plain failure now: nothing is cancelling or forcing it
    assert (view.cause, view.forced) == (None, False)


@pytest.mark.parametrize("limit", ["timeout", "watchdog"])
def test_an_attempt_ended_by_its_time_limit_keeps_its_error_in_the_final_outcome(
    limit: str,
) -> None:
    d = driver()
    tid = d.add(TaskSpec.once(fn("w"), **{limit: 1.0}))
    d.fire_next()  # the limit, at 1 s: cancelled and forced
    error = RuntimeError("raised while cancelled")
    d.end(tid, EndKind.INTERRUPTED, "cancelled", error=error)
    outcome = d.outcome(tid)
    assert outcome.kind is OK.FAILED  # never restarted: the first failure ends it
    assert outcome.error is error


def test_a_stale_heartbeat_is_ignored_and_the_timeout_still_applies() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("w"), watchdog=2.0, timeout=3.0, backoff=FIXED))
    before = d.state.snapshot()
    d.feed(Heartbeat(tid, 7, 0))  # not the running attempt
    assert d.state.snapshot() == before
    for t in (1.0, 2.0, 2.9):
        d.wait_until(max(d.now, s(t)))
        d.feed(Heartbeat(tid, 1, s(t)))
        d.advance(0)
    d.fire_next()  # the timeout, at 3 s, comes before the next heartbeat is due
    hits = [e for e in d.events_of(tid) if e.kind is EK.TIMEOUT_HIT]
    assert [(e.at, e.reason) for e in hits] == [(3.0, None)]


def test_a_timeout_shorter_than_the_watchdog_is_the_first_deadline() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("w"), watchdog=5.0, timeout=1.0, backoff=FIXED))
    assert d.next_deadline() == s(1.0)
    d.fire_next()
    hits = [e for e in d.events_of(tid) if e.kind is EK.TIMEOUT_HIT]
    assert [(e.at, e.reason, e.timeout) for e in hits] == [(1.0, None, 1.0)]


def test_a_heartbeat_of_an_earlier_attempt_or_of_a_task_that_is_gone_is_ignored() -> None:
    d = driver()
    tid = d.add(TaskSpec.restartable(fn("w"), watchdog=2.0, backoff=FIXED))
    fail_after(d, tid, 1.0)
    d.fire_next()  # t=2: attempt 2 starts; its first heartbeat is due at 4 s
    d.wait_until(s(3.5))
    before = d.state.snapshot()
    d.feed(Heartbeat(tid, 1, s(3.5)))  # attempt 1 is over
    d.feed(Heartbeat(TaskId(99), 1, s(3.5)))  # no such task
    assert d.state.snapshot() == before
    d.fire_next()
    hits = [e for e in d.events_of(tid) if e.kind is EK.TIMEOUT_HIT]
    assert [(e.at, e.attempt) for e in hits] == [(4.0, 2)]


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Intensity(-1, 1.0), "Intensity.max_restarts"),
        (lambda: Intensity(True, 1.0), "Intensity.max_restarts"),
        (lambda: Intensity(1, 0), "Intensity.within"),
        (lambda: Intensity(1, float("nan")), "Intensity.within"),
        (lambda: TaskSpec(fn("x"), reset_after=0), "TaskSpec.reset_after"),
        (lambda: TaskSpec(fn("x"), reset_after=-1.0), "TaskSpec.reset_after"),
        (lambda: TaskSpec(fn("x"), give_up_after=0), "TaskSpec.give_up_after"),
        (lambda: TaskSpec(fn("x"), watchdog=0), "TaskSpec.watchdog"),
        (lambda: TaskSpec(fn("x"), intensity=(3, 60)), "TaskSpec.intensity"),
        (lambda: TaskSpec(fn("x"), retry_on=ValueError("x")), "TaskSpec.retry_on"),
        (lambda: TaskSpec(fn("x"), retry_on=()), "TaskSpec.retry_on"),
        (lambda: TaskSpec(fn("x"), retry_on=(int,)), "TaskSpec.retry_on"),
        (lambda: TaskSpec(fn("x"), critical=1), "TaskSpec.critical"),
        (lambda: TaskDefaults(reset_after=0), "TaskDefaults.reset_after"),
        (lambda: TaskDefaults(intensity=3), "TaskDefaults.intensity"),
        (lambda: CoreConfig(intensity=3), "CoreConfig.intensity"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_control_is_refused_naming_its_field(build: object, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build()  # type: ignore[operator]


# -- the window arithmetic (CrossHair checks the contracts too: tools/contracts.py) ---------------


def test_window_arithmetic_matches_a_plain_count() -> None:
    rng = random.Random(3)
    for _ in range(500):
        within = rng.randint(1, 20)
        times = sorted(rng.randint(0, 50) for _ in range(rng.randint(0, 8)))
        now = max(times, default=0) + rng.randint(0, 10)
        assert count_within(times, now, within) == sum(1 for t in times if now - t < within)
    assert allows(2, 3)
    assert not allows(3, 3)
    assert not allows(0, 0)
    from collections import deque

    window: deque[int] = deque([1, 2, 30])
    record(window, 40, 11)
    assert list(window) == [30, 40]
    record(window, 41, 11)  # 30 is 11 old at 41: it leaves
    assert list(window) == [40, 41]
