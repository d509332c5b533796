"""Tests for ``taskvisor.fsm._table``: the lifecycle table is what the machine really does.

A tour of small scenarios records every move the supervisor machine makes (through its one
chokepoint, ``check_move``); together they must exercise every entry of ``TRANSITIONS``, and
any move outside the table must raise ``IllegalTransition``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from taskvisor import BackoffPolicy, RetryBudget, TaskSpec
from taskvisor.fsm import EndKind, IllegalTransition, Phase, Remove, _supervisor, check_state
from taskvisor.fsm._table import TRANSITIONS, Trigger, check_move

from .driver import Driver, fn

P, T = Phase, Trigger
Move = tuple[Phase, Trigger, Phase]
FIXED = BackoffPolicy.constant(1.0)


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> list[Move]:
    """Record every move the machine checks against the table."""
    seen: list[Move] = []

    def recording(source: Phase, trigger: Trigger, target: Phase) -> None:
        check_move(source, trigger, target)
        seen.append((source, trigger, target))

    monkeypatch.setattr(_supervisor, "check_move", recording)
    return seen


# -- the tour: each scenario and the moves it must make -----------------------------------------


def once_succeeds() -> None:
    d = Driver.make()
    d.end(d.add(TaskSpec.once(fn("x"))), EndKind.RETURNED)


def waits_for_a_permit_then_starts() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(TaskSpec.once(fn("a")))
    d.add(TaskSpec.once(fn("b")))
    d.end(a, EndKind.RETURNED)


def waiter_removed() -> None:
    d = Driver.make(max_concurrent=1)
    d.add(TaskSpec.once(fn("a")))
    d.remove(d.add(TaskSpec.once(fn("b"))))


def fails_backs_off_restarts() -> None:
    d = Driver.make()
    d.end(d.add(TaskSpec.restartable(fn("x"), backoff=FIXED)), EndKind.FAILED)
    d.fire_next()


def back_from_backoff_must_wait() -> None:
    d = Driver.make(max_concurrent=1)
    a = d.add(TaskSpec.restartable(fn("a"), backoff=FIXED))
    d.add(TaskSpec.once(fn("b")))
    d.end(a, EndKind.FAILED)
    d.fire_next()


def removed_in_backoff() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED))
    d.end(tid, EndKind.FAILED)
    d.remove(tid)


def removed_while_running() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x")))
    d.remove(tid)
    d.end(tid, EndKind.CANCELED)


def timed_out_then_restarted() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), timeout=1.0))
    d.advance(1.0)
    d.end(tid, EndKind.INTERRUPTED)


def timed_out_then_removed() -> None:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), timeout=1.0))
    d.advance(1.0)
    d.remove(tid)
    d.end(tid, EndKind.INTERRUPTED)


def ignores_cancellation_and_force() -> None:
    d = Driver.make(grace=1.0, force_wait=1.0)
    d.remove(d.add(TaskSpec.restartable(fn("x"))))
    d.advance(2.0)


def start_jitter_then_first_attempt() -> None:
    d = Driver.make()
    d.add(TaskSpec.once(fn("x"), start_jitter=1.0))
    d.fire_next()


def waits_for_a_retry_budget_token() -> None:
    d = Driver.make(retry_budgets={"db": RetryBudget(1.0, 1)})
    a = d.add(TaskSpec.restartable(fn("a"), backoff=FIXED, retry_budget="db"))
    b = d.add(TaskSpec.restartable(fn("b"), backoff=FIXED, retry_budget="db"))
    d.end(a, EndKind.FAILED)
    d.end(b, EndKind.FAILED)
    d.fire_next()  # both deadlines: a takes the one token, b waits for the next
    d.fire_next()


TOUR: dict[str, tuple[Callable[[], None], set[Move]]] = {
    "once succeeds": (
        once_succeeds,
        {(P.NEW, T.ADMIT, P.RUNNING), (P.RUNNING, T.END_FINAL, P.GONE)},
    ),
    "waits for a permit": (
        waits_for_a_permit_then_starts,
        {(P.NEW, T.ADMIT, P.WAITING), (P.WAITING, T.PERMIT, P.RUNNING)},
    ),
    "waiter removed": (waiter_removed, {(P.WAITING, T.CANCEL, P.GONE)}),
    "fails, backs off, restarts": (
        fails_backs_off_restarts,
        {(P.RUNNING, T.END_RESTART, P.BACKOFF), (P.BACKOFF, T.DEADLINE, P.RUNNING)},
    ),
    "back from backoff must wait": (
        back_from_backoff_must_wait,
        {(P.BACKOFF, T.DEADLINE, P.WAITING)},
    ),
    "removed in backoff": (removed_in_backoff, {(P.BACKOFF, T.CANCEL, P.GONE)}),
    "removed while running": (
        removed_while_running,
        {(P.RUNNING, T.CANCEL, P.STOPPING), (P.STOPPING, T.END_FINAL, P.GONE)},
    ),
    "timed out, restarted": (
        timed_out_then_restarted,
        {(P.RUNNING, T.TIMEOUT, P.STOPPING), (P.STOPPING, T.END_RESTART, P.BACKOFF)},
    ),
    "timed out, removed": (timed_out_then_removed, {(P.STOPPING, T.CANCEL, P.STOPPING)}),
    "ignores cancellation and force": (
        ignores_cancellation_and_force,
        {(P.STOPPING, T.DEADLINE, P.STOPPING), (P.STOPPING, T.DEADLINE, P.GONE)},
    ),
    "start jitter": (
        start_jitter_then_first_attempt,
        {(P.NEW, T.ADMIT, P.BACKOFF), (P.BACKOFF, T.DEADLINE, P.RUNNING)},
    ),
    "waits for a retry budget's token": (
        waits_for_a_retry_budget_token,
        {(P.BACKOFF, T.BUDGET, P.BACKOFF), (P.BACKOFF, T.DEADLINE, P.RUNNING)},
    ),
}


@pytest.mark.parametrize("name", TOUR)
def test_each_scenario_makes_its_moves(name: str, moves: list[Move]) -> None:
    scenario, expected = TOUR[name]
    scenario()
    assert expected <= set(moves), expected - set(moves)


def test_the_tour_exercises_every_entry_of_the_table(moves: list[Move]) -> None:
    for scenario, _ in TOUR.values():
        scenario()
    table = {(src, trig, dst) for (src, trig), dsts in TRANSITIONS.items() for dst in dsts}
    unexercised = sorted(f"{a.name} --{t.name}--> {b.name}" for a, t, b in table - set(moves))
    assert not unexercised, f"entries of TRANSITIONS no test exercises: {unexercised}"
    assert set(moves) <= table


# -- illegal moves --------------------------------------------------------------------------------


def test_check_move_allows_exactly_the_table() -> None:
    for source, trigger, target in itertools.product(Phase, Trigger, Phase):
        allowed = target in TRANSITIONS.get((source, trigger), frozenset())
        if allowed:
            check_move(source, trigger, target)
        else:
            with pytest.raises(IllegalTransition, match=f"{source.name} --{trigger.name}-->"):
                check_move(source, trigger, target)


def test_gone_is_terminal_and_new_is_left_only_by_admission() -> None:
    assert not any(src is P.GONE for src, _ in TRANSITIONS)
    assert {trig for src, trig in TRANSITIONS if src is P.NEW} == {T.ADMIT}
    assert not any(P.NEW in dsts for dsts in TRANSITIONS.values())


def test_illegal_transition_is_an_assertion_error() -> None:
    assert issubclass(IllegalTransition, AssertionError)


def test_the_machine_refuses_a_move_the_table_does_not_allow() -> None:
    # Corrupt a state so that a removal would move a task out of NEW, which only admission may.
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x")))
    broken = d.state.clone()
    broken.tasks[tid].phase = P.NEW
    with pytest.raises(IllegalTransition, match="NEW --CANCEL--> STOPPING"):
        _supervisor.step(broken, Remove(1, tid), d.now, d.rng)
    # The move is checked before it is written: the task stays where it was (h11's rule), and
    # the clone shares nothing with the state it was taken from.
    assert broken.tasks[tid].phase is P.NEW
    assert d.state.tasks[tid].phase is P.RUNNING
    check_state(d.state)
