"""The core's own checks of retry shaping catch what they guard (I8 streams, I9 budgets).

Each test breaks one thing, in the state or in the core's behaviour, and expects
``check_state`` or ``check_step`` to name the invariant.
"""

from __future__ import annotations

import pytest

import taskvisor as tv
from taskvisor.fsm import EndKind, InvariantViolation, RetryBudget, _supervisor, check_state

from .driver import Driver, fn, s

ONE = tv.BackoffPolicy.constant(1.0)


def waiting_pair() -> tuple[Driver, tv.TaskId]:
    """A budget of one token; ``b`` waits one second for the next token."""
    d = Driver.make(retry_budgets={"db": RetryBudget(1.0, 1)})
    a = d.add(tv.TaskSpec.restartable(fn("a"), backoff=ONE, retry_budget="db"))
    b = d.add(tv.TaskSpec.restartable(fn("b"), backoff=ONE, retry_budget="db"))
    d.end(a, EndKind.FAILED)
    d.end(b, EndKind.FAILED)
    d.fire_next()
    return d, b


def test_check_state_catches_a_bucket_above_burst() -> None:
    d, _ = waiting_pair()
    bucket = d.state.budgets["db"]
    bucket.level = 2 * bucket.budget.unit
    with pytest.raises(InvariantViolation, match=r"I9: budget 'db' holds 2\.0 > burst"):
        check_state(d.state)


def test_check_state_catches_a_waiting_restart_granted_before_its_token() -> None:
    d, _ = waiting_pair()
    bucket = d.state.budgets["db"]
    bucket.grants[0] -= 1  # one ns early: the token is not there yet
    with pytest.raises(InvariantViolation, match="I9: budget 'db' grants a token at"):
        check_state(d.state)


def test_check_state_catches_a_waiting_restart_with_no_grant() -> None:
    d, _ = waiting_pair()
    d.state.budgets["db"].grants.clear()
    with pytest.raises(InvariantViolation, match="I9: a restart of 'db' waits until"):
        check_state(d.state)


def test_check_step_catches_a_restart_that_takes_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_supervisor._Txn, "wait_for_token", lambda self, t: False)
    with pytest.raises(InvariantViolation, match="I9: budget 'db': 2 tokens taken, level"):
        waiting_pair()


def test_check_step_catches_a_restart_that_goes_without_a_whole_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    take = _supervisor.Bucket.take
    monkeypatch.setattr(_supervisor.Bucket, "take", lambda self, now: take(self, now) and 0)
    with pytest.raises(InvariantViolation, match=r"I9: .*restarts of 'db' started with"):
        waiting_pair()


def test_check_state_catches_a_seeded_task_without_its_own_stream() -> None:
    d = Driver.make(seed=1, streams=True)
    tid = d.add(tv.TaskSpec.restartable(fn("x")))
    d.state.tasks[tid].stream = None
    with pytest.raises(InvariantViolation, match="I8: x has stream None under seed 1"):
        check_state(d.state)


def test_a_waiting_restart_starts_exactly_when_its_token_arrives() -> None:
    d, b = waiting_pair()
    assert d.next_deadline() == s(2.0)
    assert d.state.budgets["db"].tokens(s(2.0)) == 0.0  # its token, and no more (I9)
    d.fire_next()
    assert len(d.starts(b)) == 2
