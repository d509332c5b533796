"""``taskvisor.sim.backoff_delays``: the preview equals what the core really schedules (I4, I8)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import taskvisor as tv
from taskvisor import fsm
from taskvisor.sim import backoff_delays

J = tv.JitterPolicy


async def _body(ctx: object) -> None:  # never run: the core only carries the task
    return None


def _scheduled_by_core(policy: tv.BackoffPolicy, n: int, seed: int) -> list[float]:
    """Fail one task ``n`` times through ``fsm.step``; collect BACKOFF_SCHEDULED delays."""
    state = fsm.SupervisorState.initial(fsm.CoreConfig())
    rng = random.Random(seed)
    tid = fsm.TaskId(1)
    spec = tv.TaskSpec.restartable(tv.TaskFn("t", _body), backoff=policy, max_retries=None)
    state, _ = fsm.step(state, fsm.AddTasks(1, ((tid, spec),)), 0, rng)
    delays: list[float] = []
    now = 0
    for attempt in range(1, n + 1):
        state, effects = fsm.step(
            state, fsm.AttemptEnded(tid, attempt, fsm.EndKind.FAILED, "boom"), now, rng
        )
        delays += [
            e.event.delay
            for e in effects
            if isinstance(e, fsm.Publish)
            and e.event.kind is tv.EventKind.BACKOFF_SCHEDULED
            and e.event.delay is not None
        ]
        deadline = fsm.next_deadline(state)
        assert deadline is not None
        now = deadline
        state, effects = fsm.step(state, fsm.TICK, now, rng)
        assert any(isinstance(e, fsm.StartAttempt) for e in effects)
    return delays


def test_exponential_without_jitter_doubles_up_to_the_cap() -> None:
    policy = tv.BackoffPolicy.exponential(0.1, factor=2.0, max=1.0)
    assert backoff_delays(policy, 6) == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


def test_constant_zero_retries_at_once() -> None:
    assert backoff_delays(tv.BackoffPolicy.constant(0), 3) == [0.0, 0.0, 0.0]


def test_zero_failures_give_no_delays() -> None:
    assert backoff_delays(tv.BackoffPolicy(), 0) == []


def test_full_jitter_stays_within_base_and_depends_on_seed() -> None:
    policy = tv.BackoffPolicy.exponential(0.1, max=1.0, jitter=J.FULL)
    a = backoff_delays(policy, 50, seed=1)
    b = backoff_delays(policy, 50, seed=2)
    bases = [min(1.0, 0.1 * 2**n) for n in range(50)]
    assert all(0 <= d <= base for d, base in zip(a, bases, strict=True))
    assert a != b
    assert a == backoff_delays(policy, 50, seed=1)


def test_equal_jitter_keeps_at_least_half_the_base() -> None:
    policy = tv.BackoffPolicy.exponential(0.1, max=1.0, jitter=J.EQUAL)
    bases = [min(1.0, 0.1 * 2**n) for n in range(30)]
    delays = backoff_delays(policy, 30, seed=3)
    assert all(base / 2 - 1e-9 <= d <= base for d, base in zip(delays, bases, strict=True))


def test_decorrelated_stays_between_first_and_cap() -> None:
    policy = tv.BackoffPolicy(first=0.005, max=2.0, jitter=J.DECORRELATED)
    delays = backoff_delays(policy, 200, seed=4)
    assert all(0.005 <= d <= 2.0 for d in delays)
    assert max(delays) > 1.0  # it does grow towards the cap


def test_floor_raises_every_delay() -> None:
    policy = tv.BackoffPolicy(first=0.1, max=1.0, jitter=J.FULL, floor=0.3)
    assert min(backoff_delays(policy, 40, seed=5)) >= 0.3


@pytest.mark.parametrize("jitter", list(J))
def test_preview_equals_what_the_core_schedules(jitter: tv.JitterPolicy) -> None:
    policy = tv.BackoffPolicy(first=0.01, max=2.0, factor=3.0, jitter=jitter)
    assert backoff_delays(policy, 12, seed=7) == _scheduled_by_core(policy, 12, seed=7)


@given(
    first=st.floats(0, 5),
    extra=st.floats(0, 100),
    factor=st.floats(1, 10),
    jitter=st.sampled_from(list(J)),
    floor=st.floats(0, 10),
    n=st.integers(0, 8),
    seed=st.integers(0, 2**32),
)
def test_preview_matches_core_for_any_policy(
    first: float,
    extra: float,
    factor: float,
    jitter: tv.JitterPolicy,
    floor: float,
    n: int,
    seed: int,
) -> None:
    policy = tv.BackoffPolicy(
        first=first, max=first + extra, factor=factor, jitter=jitter, floor=floor
    )
    delays = backoff_delays(policy, n, seed=seed)
    assert delays == _scheduled_by_core(policy, n, seed)
    assert all(0 <= d <= fsm.ns_to_s(policy.ceiling_ns) for d in delays)  # I4


@pytest.mark.parametrize("n", [-1, 1.5, True, "3"])
def test_bad_count_is_a_config_error_naming_n(n: object) -> None:
    with pytest.raises(tv.ConfigError, match=r"backoff_delays\.n"):
        backoff_delays(tv.BackoffPolicy(), n)  # type: ignore[arg-type]


def test_bad_policy_is_a_config_error_naming_policy() -> None:
    with pytest.raises(tv.ConfigError, match=r"backoff_delays\.policy"):
        backoff_delays(0.5, 3)  # type: ignore[arg-type]
