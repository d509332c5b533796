"""Retry shaping in the supervisor machine (docs/spec/api.md section 8; I8, I9).

Shared retry budgets (tokens taken at each restart's deadline, waits in deadline order, never
dropped), ``Retry-After`` from the failure, start and interval jitter, per-task random streams,
and the ``Decision`` every pause and every final event carries. Every step runs under
``fsm.check_step`` (I1-I9) through ``tests/fsm/driver.py``.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import taskvisor as tv
from taskvisor import fsm
from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    BackoffSource,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Decision,
    EndKind,
    Event,
    EventKind,
    Phase,
    RetryBudget,
    Submit,
    SubscriberInfo,
    TaskId,
)
from taskvisor.fsm._backoff import scale
from taskvisor.fsm._streams import next_uniform, stream_seed

from .driver import Driver, Fixed, fn, s

EK = EventKind
J = tv.JitterPolicy
SRC = BackoffSource
ONE = tv.BackoffPolicy.constant(1.0)


def backoffs(d: Driver, tid: TaskId) -> list[Event]:
    return [e for e in d.events_of(tid) if e.kind is EK.BACKOFF_SCHEDULED]


def budget_driver(per_second: float, burst: int, **kw: object) -> Driver:
    return Driver.make(retry_budgets={"db": RetryBudget(per_second, burst)}, **kw)  # type: ignore[arg-type]


def on_budget(name: str, backoff: tv.BackoffPolicy = ONE, **kw: object) -> tv.TaskSpec:
    return tv.TaskSpec.restartable(fn(name), backoff=backoff, retry_budget="db", **kw)  # type: ignore[arg-type]


# -- shared retry budgets (I9) -------------------------------------------------------------------


def test_a_restart_that_finds_a_token_starts_at_its_deadline_and_takes_it() -> None:
    d = budget_driver(1.0, 2)
    a = d.add(on_budget("a"))
    d.end(a, EndKind.FAILED, "boom")
    d.fire_next()
    assert [e.attempt for e in d.starts(a)] == [1, 2]
    assert d.now == s(1.0)
    assert d.state.budgets["db"].tokens(d.now) == 1.0
    assert [e.backoff_source for e in backoffs(d, a)] == [SRC.FAILURE]


def test_a_restart_without_a_token_waits_exactly_for_the_next_one() -> None:
    d = budget_driver(1.0, 1)
    a, b = d.add(on_budget("a")), d.add(on_budget("b"))
    d.end(a, EndKind.FAILED, "boom")
    d.end(b, EndKind.FAILED, "boom")
    d.fire_next()  # t = 1: a takes the one token; b finds none
    assert len(d.starts(a)) == 2
    assert len(d.starts(b)) == 1
    wait = backoffs(d, b)[-1]
    assert (wait.backoff_source, wait.delay) == (SRC.BUDGET, 1.0)
    assert wait.reason == "waiting for a token of retry budget 'db'"
    assert wait.decision == Decision(0, 1.0, J.NONE, SRC.BUDGET, 1.0, "retry budget")
    assert d.state.tasks[b].phase is Phase.BACKOFF
    d.fire_next()
    assert (len(d.starts(b)), d.now) == (2, s(2.0))  # lengthened by the wait, never dropped
    d.verify()


def test_waiting_restarts_get_tokens_in_the_order_of_their_deadlines() -> None:
    d = budget_driver(0.1, 1)  # one token per 10 s
    c = d.add(on_budget("c", tv.BackoffPolicy.constant(3.0)))
    b = d.add(on_budget("b", tv.BackoffPolicy.constant(1.5)))
    a = d.add(on_budget("a", tv.BackoffPolicy.constant(0.1)))
    d.end(c, EndKind.FAILED)  # fails first, restarts last: deadline 3.0
    d.wait_until(s(0.5))
    d.end(b, EndKind.FAILED)  # deadline 2.0
    d.wait_until(s(0.9))
    d.end(a, EndKind.FAILED)  # deadline 1.0: the one token
    d.advance(40.0)
    second = {tid: d.starts(tid)[1] for tid in (a, b, c)}
    restart = {tid: next(t for t, _, eff in d.log if second[tid] in eff) for tid in (a, b, c)}
    # a at its deadline; b at 2.0 finds 0.1 tokens: waits 9 s; c at 3.0 waits behind b.
    assert restart == {a: s(1.0), b: s(11.0), c: s(21.0)}
    assert [backoffs(d, t)[-1].delay for t in (b, c)] == [9.0, 18.0]


def test_tokens_never_exceed_burst_however_long_the_budget_is_idle() -> None:
    d = budget_driver(1.0, 2)
    ids = [d.add(on_budget(f"t{i}")) for i in range(3)]
    d.advance(3600.0)
    for tid in ids:
        d.end(tid, EndKind.FAILED)
    d.fire_next()  # all three deadlines at once: burst 2 go, the third waits one second
    assert [len(d.starts(t)) for t in ids] == [2, 2, 1]
    assert backoffs(d, ids[2])[-1].delay == 1.0


def test_restarts_after_success_and_first_starts_take_no_token() -> None:
    d = budget_driver(1.0, 1)
    p = d.add(tv.TaskSpec.periodic(fn("p"), 1.0, retry_budget="db", start_jitter=1.0))
    q = d.add(on_budget("q"))
    d.advance(1.0)
    d.end(p)
    d.advance(1.0)
    assert len(d.starts(p)) == 2
    assert d.state.budgets["db"].tokens(d.now) == 1.0  # untouched
    d.end(q, EndKind.FAILED)
    d.advance(1.0)
    assert d.state.budgets["db"].tokens(d.now) == 0.0


def test_a_retry_after_restart_takes_a_token_too() -> None:
    d = budget_driver(1.0, 1)
    a, b = d.add(on_budget("a")), d.add(on_budget("b"))
    d.end(a, EndKind.FAILED, retry_after=1.0)
    d.end(b, EndKind.FAILED, retry_after=1.0)
    d.fire_next()
    wait = backoffs(d, b)[-1]
    assert wait.backoff_source is SRC.BUDGET
    assert wait.decision is not None
    assert (wait.decision.base, wait.decision.rule) == (1.0, "retry budget")


def test_removing_a_restart_that_waits_for_a_token_ends_it_like_any_backoff() -> None:
    d = budget_driver(1.0, 1)
    a, b, c = (d.add(on_budget(n)) for n in "abc")
    for tid in (a, b, c):
        d.end(tid, EndKind.FAILED)
    d.fire_next()  # a goes; b waits 1 s, c 2 s
    assert d.remove(b)
    assert d.outcome(b).kind is tv.OutcomeKind.CANCELED
    assert d.kinds(b)[-2:] == [EK.TASK_REMOVE_REQUESTED, EK.TASK_REMOVED]
    # b's token is spent: c keeps the deadline it was given (I4), and the bucket stays <= 0.
    d.fire_next()
    assert d.now == s(3.0)
    assert len(d.starts(c)) == 2
    assert d.state.budgets["db"].tokens(d.now) == 0.0


def test_shutdown_ends_restarts_waiting_for_tokens_at_once() -> None:
    d = budget_driver(0.001, 1)
    ids = [d.add(on_budget(f"t{i}")) for i in range(3)]
    for tid in ids:
        d.end(tid, EndKind.FAILED)
    d.fire_next()
    d.shutdown()  # the two waiting end at once; the running one is asked to stop
    assert [d.outcome(t).kind for t in ids[1:]] == [tv.OutcomeKind.CANCELED] * 2
    d.end(ids[0], EndKind.CANCELED)
    assert not d.state.tasks
    assert d.state.shutdown is not None
    assert d.state.shutdown.done


def test_tasks_on_other_budgets_or_none_are_not_held_back() -> None:
    budgets = {"db": RetryBudget(0.001, 1), "api": RetryBudget(0.001, 1)}
    d = Driver.make(retry_budgets=budgets)
    a = d.add(on_budget("a"))
    b = d.add(tv.TaskSpec.restartable(fn("b"), backoff=ONE, retry_budget="api"))
    c = d.add(tv.TaskSpec.restartable(fn("c"), backoff=ONE))
    for _ in range(2):
        for tid in (a, b, c):
            if d.state.tasks[tid].phase is Phase.RUNNING:
                d.end(tid, EndKind.FAILED)
        d.advance(1.0)
    assert [len(d.starts(t)) for t in (a, b, c)] == [2, 2, 3]


def test_an_unknown_budget_is_refused_before_anything_is_written() -> None:
    d = budget_driver(1.0, 1)
    before = d.state.snapshot()
    spec = tv.TaskSpec.once(fn("x"), retry_budget="nope")
    with pytest.raises(tv.ConfigError, match=r"TaskSpec\.retry_budget.*'nope'.*'db'"):
        d.core.feed(AddTasks(1, ((TaskId(1), spec),)), 0)
    assert d.state.snapshot() == before
    config = CoreConfig(controller=ControllerConfig())
    core = fsm.Stepper(config, random.Random(0))
    with pytest.raises(tv.ConfigError, match="has none"):
        core.feed(Submit(1, TaskId(1), ControllerSpec(spec)), 0)
    assert core.state.seq == 0


def test_the_core_refuses_an_unknown_budget_naming_the_task_the_budget_and_those_it_has() -> None:
    d = budget_driver(1.0, 1)
    spec = tv.TaskSpec.once(fn("x"), retry_budget="nope")
    with pytest.raises(tv.ConfigError) as raised:
        d.core.feed(AddTasks(1, ((TaskId(1), spec),)), 0)
    assert raised.value.field == "TaskSpec.retry_budget"
    assert str(raised.value) == (
        "TaskSpec.retry_budget: task 'x' names the retry budget 'nope', which is not "
        "configured (the supervisor's retry_budgets has 'db')"
    )


@pytest.mark.parametrize(
    ("budgets", "text"),
    [
        ({"": RetryBudget(1, 1)}, "non-empty str"),
        ({1: RetryBudget(1, 1)}, "non-empty str"),
        ({"db": (1, 1)}, "expected a RetryBudget"),
        ([("db", RetryBudget(1, 1))], "expected a mapping"),
    ],
)
def test_bad_budget_maps_are_refused_naming_the_field(budgets: object, text: str) -> None:
    with pytest.raises(tv.ConfigError, match=rf"CoreConfig\.retry_budgets.*{text}"):
        CoreConfig(retry_budgets=budgets)  # type: ignore[arg-type]


# -- Retry-After ---------------------------------------------------------------------------------


def test_a_retry_after_is_the_exact_delay_not_capped_and_draws_nothing() -> None:
    rng = Fixed(0.25)
    config = CoreConfig(subscribers=[SubscriberInfo("rec")])
    d = Driver(config, rng=rng)
    policy = tv.BackoffPolicy(first=1.0, max=30.0, jitter=J.FULL)
    tid = d.add(tv.TaskSpec.restartable(fn("x"), backoff=policy))
    d.end(tid, EndKind.FAILED, "503", retry_after=120.0)
    ev = backoffs(d, tid)[-1]
    assert (ev.delay, ev.backoff_source, ev.reason) == (120.0, SRC.RETRY_AFTER, "503")
    assert ev.decision == Decision(0, 120.0, J.NONE, SRC.RETRY_AFTER, 0.0, "retry-after")
    assert rng.draws == 0
    d.fire_next()
    assert d.now == s(120.0)
    d.end(tid, EndKind.FAILED, "again")  # a plain failure next: retry 1 of the same streak
    ev = backoffs(d, tid)[-1]
    assert (ev.delay, ev.decision and ev.decision.retry) == (0.5, 1)  # FULL of base(1) = 2 s


def test_a_retry_after_is_raised_to_the_floor_and_zero_restarts_at_once() -> None:
    d = Driver.make()
    floored = d.add(tv.TaskSpec.restartable(fn("f"), backoff=tv.BackoffPolicy(floor=2.0)))
    d.end(floored, EndKind.FAILED, retry_after=0.5)
    assert backoffs(d, floored)[-1].delay == 2.0
    now = d.add(tv.TaskSpec.restartable(fn("n"), backoff=tv.BackoffPolicy.constant(5.0)))
    d.end(now, EndKind.FAILED, retry_after=0.0)
    assert backoffs(d, now)[-1].delay == 0.0
    at = d.now
    d.fire_next()
    assert (len(d.starts(now)), d.now) == (2, at)


def test_retry_after_failures_count_toward_max_retries() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x"), max_retries=1))
    d.end(tid, EndKind.FAILED, "busy", retry_after=0.1)
    d.fire_next()
    d.end(tid, EndKind.FAILED, "busy", retry_after=0.1)
    outcome = d.outcome(tid)
    assert outcome.kind is tv.OutcomeKind.FAILED
    assert "retry limit" in outcome.reason
    last = d.events_of(tid)[-2]
    assert last.kind is EK.ACTOR_EXHAUSTED
    assert last.decision is not None
    assert (last.decision.rule, last.decision.retry) == ("retry limit", 1)


def test_a_negative_retry_after_is_refused_before_anything_is_written() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    before = d.state.snapshot()
    with pytest.raises(ValueError, match="retry_after_ns"):
        d.core.feed(fsm.AttemptEnded(tid, 1, EndKind.FAILED, "x", retry_after_ns=-1), d.now)
    assert d.state.snapshot() == before


# -- dispersion: start and interval jitter -------------------------------------------------------


def test_the_first_attempt_waits_its_start_jitter_then_starts() -> None:
    config = CoreConfig(subscribers=[SubscriberInfo("rec")])
    d = Driver(config, rng=Fixed(0.5))
    tid = d.add(tv.TaskSpec.once(fn("x"), start_jitter=10.0))
    assert d.kinds(tid) == [EK.TASK_ADD_REQUESTED, EK.TASK_ADDED, EK.BACKOFF_SCHEDULED]
    ev = backoffs(d, tid)[0]
    assert (ev.delay, ev.backoff_source, ev.attempt) == (5.0, SRC.START, None)
    assert ev.decision == Decision(0, 10.0, J.FULL, SRC.START, 0.0, "start jitter")
    view = d.state.snapshot().task(tid)
    assert view is not None
    assert view.decision == ev.decision  # why it waits, while it waits
    assert not d.starts(tid)
    d.fire_next()
    assert (d.now, [e.attempt for e in d.starts(tid)]) == (s(5.0), [1])
    d.end(tid, EndKind.FAILED)  # a restart is never jittered as a start again
    assert d.outcome(tid).attempts == 1


def test_without_start_jitter_nothing_is_drawn_and_the_task_starts_at_once() -> None:
    rng = Fixed(0.5)
    d = Driver(CoreConfig(), rng=rng)
    tid = d.add(tv.TaskSpec.once(fn("x")))
    assert len(d.starts(tid)) == 1
    assert rng.draws == 0


def test_a_task_removed_during_its_start_jitter_ends_canceled_without_an_attempt() -> None:
    d = Driver.make()
    tid = d.add(tv.TaskSpec.restartable(fn("x"), start_jitter=5.0))
    assert d.remove(tid)
    assert (d.outcome(tid).kind, d.outcome(tid).attempts) == (tv.OutcomeKind.CANCELED, 0)


def test_after_its_start_jitter_a_task_still_waits_for_a_run_permit() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(tv.TaskSpec.once(fn("a")))
    b = d.add(tv.TaskSpec.once(fn("b"), start_jitter=0.001))
    d.advance(1.0)
    assert d.state.tasks[b].phase is Phase.WAITING
    d.end(a)
    assert len(d.starts(b)) == 1


@given(jitter=st.floats(0.0, 1.0), u=st.floats(0.0, 1.0))
@settings(max_examples=50)
def test_the_pause_after_a_success_lies_within_interval_times_one_plus_or_minus_jitter(
    jitter: float, u: float
) -> None:
    rng = Fixed(u)
    d = Driver(CoreConfig(), rng=rng)
    tid = d.add(tv.TaskSpec.periodic(fn("p"), 10.0, jitter=jitter))
    d.end(tid)
    ev = backoffs(d, tid)[0]
    assert ev.delay is not None
    assert 10.0 * (1 - jitter) - 1e-9 <= ev.delay <= 10.0 * (1 + jitter) + 1e-9
    assert ev.backoff_source is SRC.SUCCESS
    assert ev.decision is not None
    assert ev.decision.rule == "interval"
    assert rng.draws == (1 if ev.decision.jitter is None else 0)


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"jitter": -0.1}, r"RestartPolicy\.jitter.*\[0, 1\]"),
        ({"jitter": 1.5}, r"RestartPolicy\.jitter.*\[0, 1\]"),
        ({"jitter": math.nan}, r"RestartPolicy\.jitter.*\[0, 1\]"),
        ({"jitter": "x"}, r"RestartPolicy\.jitter.*expected a number"),
        ({"jitter": True}, r"RestartPolicy\.jitter.*expected a number"),
    ],
)
def test_bad_interval_jitter_is_refused_naming_the_field(kw: dict[str, object], text: str) -> None:
    with pytest.raises(tv.ConfigError, match=text):
        tv.RestartPolicy.always(1.0, **kw)  # type: ignore[arg-type]


def test_only_always_takes_an_interval_jitter_and_repr_shows_it() -> None:
    with pytest.raises(tv.ConfigError, match=r"RestartPolicy\.jitter.*only"):
        tv.RestartPolicy(tv.fsm.RestartMode.ON_FAILURE, None, 0.5)
    assert (
        repr(tv.RestartPolicy.always(5.0, 0.25))
        == "RestartPolicy.always(interval=5.0, jitter=0.25)"
    )
    assert repr(tv.RestartPolicy.always(5.0)) == "RestartPolicy.always(interval=5.0)"
    assert tv.RestartPolicy.always(5.0, 0.25) != tv.RestartPolicy.always(5.0)


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"start_jitter": -1.0}, r"TaskSpec\.start_jitter.*negative"),
        ({"start_jitter": "x"}, r"TaskSpec\.start_jitter"),
        ({"retry_budget": ""}, r"TaskSpec\.retry_budget"),
        ({"retry_budget": 3}, r"TaskSpec\.retry_budget"),
    ],
)
def test_bad_shaping_fields_of_a_spec_are_refused_naming_them(
    kw: dict[str, object], text: str
) -> None:
    with pytest.raises(tv.ConfigError, match=text):
        tv.TaskSpec(fn("x"), **kw)  # type: ignore[arg-type]


# -- per-task random streams (I8) ----------------------------------------------------------------

JITTERY = tv.BackoffPolicy(first=0.5, max=8.0, jitter=J.FULL)


def delays_of(d: Driver, name: str) -> list[float | None]:
    return [e.delay for e in d.events if e.task == name and e.kind is EK.BACKOFF_SCHEDULED]


def run_with_others(order: list[str], fails: int, seed: int) -> Driver:
    """Add the tasks in ``order``; every task fails ``fails`` times, in lockstep rounds."""
    d = Driver.make(seed=seed, streams=True)
    ids = [d.add(tv.TaskSpec.restartable(fn(n), backoff=JITTERY, start_jitter=1.0)) for n in order]
    d.advance(1.0)
    for _ in range(fails):
        for tid in ids:
            if d.is_live(tid) and d.state.tasks[tid].phase is Phase.RUNNING:
                d.end(tid, EndKind.FAILED)
        d.advance(8.0)
    return d


@given(
    others=st.lists(st.sampled_from("abcdef"), unique=True, max_size=5),
    position=st.integers(0, 5),
    seed=st.integers(0, 2**32),
)
@settings(max_examples=40, deadline=None)
def test_adding_removing_or_reordering_other_tasks_never_changes_a_tasks_delays(
    others: list[str], position: int, seed: int
) -> None:
    alone = delays_of(run_with_others(["x"], 3, seed), "x")
    order = list(others)
    order.insert(min(position, len(order)), "x")
    assert delays_of(run_with_others(order, 3, seed), "x") == alone
    assert len(alone) == 4  # the start, then three backoffs


def test_without_a_seed_tasks_share_one_stream_and_disturb_each_other() -> None:
    def shared(order: list[str]) -> list[float | None]:
        d = Driver.make(seed=3)  # streams=False: one shared random.Random(3)
        ids = [d.add(tv.TaskSpec.restartable(fn(n), backoff=JITTERY)) for n in order]
        for tid in ids:
            d.end(tid, EndKind.FAILED)
        return delays_of(d, "x")

    assert shared(["x"]) != shared(["a", "x"])


def test_a_name_reused_later_draws_from_a_new_stream_the_same_in_every_run() -> None:
    def twice(seed: int) -> tuple[list[float | None], list[float | None]]:
        d = Driver.make(seed=seed, streams=True)
        first = d.add(tv.TaskSpec.restartable(fn("x"), backoff=JITTERY))
        d.end(first, EndKind.FAILED)
        d.remove(first)
        before = delays_of(d, "x")
        second = d.add(tv.TaskSpec.restartable(fn("x"), backoff=JITTERY))
        d.end(second, EndKind.FAILED)
        assert d.state.incarnations == {"x": 2}
        return before, delays_of(d, "x")[len(before) :]

    (one, two), again = twice(9), twice(9)
    assert one != two
    assert (one, two) == again


def test_a_task_draws_from_its_own_stream_what_stream_seed_gives() -> None:
    d = Driver.make(seed=42, streams=True)
    policy = tv.BackoffPolicy(first=1.0, max=1.0, jitter=J.FULL)
    tid = d.add(tv.TaskSpec.restartable(fn("db"), backoff=policy))
    d.end(tid, EndKind.FAILED)
    u, _ = next_uniform(stream_seed(42, "db", 0))
    assert backoffs(d, tid)[0].delay == scale(NS_PER_S, u) / NS_PER_S


# -- decisions on final events -------------------------------------------------------------------


def final_event(d: Driver, tid: TaskId) -> Event:
    return next(e for e in d.events_of(tid) if e.kind in (EK.ACTOR_EXHAUSTED, EK.ACTOR_DEAD))


def test_every_final_event_carries_the_rule_that_ended_the_task() -> None:
    d = Driver.make()
    done = d.add(tv.TaskSpec.once(fn("done")))
    d.end(done)
    never = d.add(tv.TaskSpec.once(fn("never")))
    d.end(never, EndKind.FAILED)
    fatal = d.add(tv.TaskSpec.restartable(fn("fatal")))
    d.end(fatal, EndKind.FATAL)
    rules = {tid: final_event(d, tid).decision for tid in (done, never, fatal)}
    assert {tid: (r.rule, r.source) for tid, r in rules.items() if r is not None} == {
        done: ("completed", None),
        never: ("never restarted", SRC.FAILURE),
        fatal: ("fatal", SRC.FAILURE),
    }


def test_every_backoff_and_final_event_has_a_decision_and_no_other_event_does() -> None:
    d = budget_driver(0.5, 1)
    a = d.add(on_budget("a", max_retries=2))
    b = d.add(on_budget("b", start_jitter=0.5))
    d.advance(0.5)
    for _ in range(4):
        for tid in (a, b):
            if d.is_live(tid) and d.state.tasks[tid].phase is Phase.RUNNING:
                d.end(tid, EndKind.FAILED)
        d.advance(2.0)
    with_decision = {EK.BACKOFF_SCHEDULED, EK.ACTOR_EXHAUSTED, EK.ACTOR_DEAD}
    for ev in d.events:
        assert (ev.decision is not None) == (ev.kind in with_decision), ev
    sources = {e.backoff_source for e in d.events if e.kind is EK.BACKOFF_SCHEDULED}
    assert sources == {SRC.FAILURE, SRC.BUDGET, SRC.START}
    d.verify()


def test_a_start_jitter_that_draws_zero_in_a_tick_starts_the_task_in_that_tick() -> None:
    # A REPLACE submission waits for the forced owner to be abandoned at a deadline; the slot
    # then admits it inside that tick, its start jitter draws 0, and its deadline (now) fires
    # in the same tick. Found by the slots machine; the contract model must accept it.
    from taskvisor.testing import CheckedCore

    core = CheckedCore(
        CoreConfig(0.0, force_wait=0.0, controller=ControllerConfig(max_slot_queue=1)),
        Fixed(0.0),
    )
    policies = [tv.AdmissionPolicy.QUEUE] * 3 + [tv.AdmissionPolicy.REPLACE]
    for i, admission in enumerate(policies):
        spec = tv.TaskSpec.once(fn("a"), start_jitter=1e-9 if i == 3 else 0.0)
        core.feed(Submit(core.ticket(), core.new_id(), ControllerSpec(spec, admission, "s")))
    core.fire_next()
    last = [(e.kind, e.backoff_source) for e in core.events if e.task_id == TaskId(4)][-2:]
    assert last == [(EK.BACKOFF_SCHEDULED, SRC.START), (EK.TASK_STARTING, None)]
    core.drain()
    core.verify()


def test_a_start_jitter_that_draws_zero_in_a_tick_may_leave_the_task_waiting_for_a_permit() -> None:
    # As above, but the permit the abandoned owner frees goes to a task queued for it first:
    # the newcomer's pause ends in the same tick and it waits for a permit. Found by the slots
    # machine; the contract model must accept it, and start it later from WAITING.
    from taskvisor.testing import CheckedCore

    config = CoreConfig(
        0.0, force_wait=0.0, max_concurrent=1, controller=ControllerConfig(max_slot_queue=1)
    )
    core = CheckedCore(config, Fixed(0.0))
    owner, newcomer = core.new_id(), None
    queue = ControllerSpec(tv.TaskSpec.restartable(fn("a")), tv.AdmissionPolicy.QUEUE, "s")
    core.feed(Submit(core.ticket(), owner, queue))
    core.feed(AddTasks(core.ticket(), ((core.new_id(), tv.TaskSpec.restartable(fn("w"))),)))
    newcomer = core.new_id()
    spec = tv.TaskSpec.restartable(fn("b"), start_jitter=1e-9)
    replace = ControllerSpec(spec, tv.AdmissionPolicy.REPLACE, "s")
    core.feed(Submit(core.ticket(), newcomer, replace))
    core.fire_next()  # the owner is abandoned; "w" takes the permit; "b" waits for one
    assert core.state.tasks[newcomer].phase is Phase.WAITING
    core.end(TaskId(2), EndKind.RETURNED)  # "w" is done: "b" starts
    assert core.in_flight[newcomer] == 1
    core.drain()
    core.verify()
