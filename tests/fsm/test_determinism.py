"""Determinism (I8): the same seed and the same input script give the same trace, bit for bit;
the random source is consulted only for jittered backoff, once per scheduled retry."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, JitterPolicy, TaskSpec
from taskvisor.fsm import EndKind, EventKind, _supervisor

from .driver import Driver, fn
from .scripts import Config, Script, configs, play, scripts

EK = EventKind


def backoff_delays(policy: BackoffPolicy, seed: int, n: int = 8) -> list[float | None]:
    d = Driver.make(seed=seed)
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=policy))
    for _ in range(n):
        d.end(tid, EndKind.FAILED)
        d.fire_next()
    return [e.delay for e in d.events if e.kind is EK.BACKOFF_SCHEDULED]


@given(configs, scripts, st.integers(0, 2**32 - 1))
def test_same_seed_and_script_give_the_same_trace(
    config: Config, script: Script, seed: int
) -> None:
    a = play(config, script, seed)
    b = play(config, script, seed)
    assert a.log == b.log  # every input, time and effect, events included
    assert repr(a.log) == repr(b.log)  # bit for bit, floats included
    assert a.state.snapshot() == b.state.snapshot()


@given(configs, scripts, st.integers(0, 2**32 - 1))
def test_timer_compaction_never_changes_a_trace(config: Config, script: Script, seed: int) -> None:
    lazy = play(config, script, seed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_supervisor, "_TIMER_SLACK", -(10**9))  # compact on every step
        eager = play(config, script, seed)
    assert eager.log == lazy.log


def test_traces_do_not_depend_on_the_generator_object_only_on_its_draws() -> None:
    class Replay:
        def __init__(self, seed: int) -> None:
            self.draws = random.Random(seed)

        def random(self) -> float:
            return self.draws.random()

    policy = BackoffPolicy(jitter=JitterPolicy.FULL)
    d1 = Driver.make(seed=5)
    d2 = Driver(d1.state.config, rng=Replay(5))
    for d in (d1, d2):
        tid = d.add(TaskSpec.restartable(fn("x"), backoff=policy))
        for _ in range(5):
            d.end(tid, EndKind.FAILED)
            d.fire_next()
    assert d1.log == d2.log


def test_different_seeds_give_different_delays_for_jittered_policies() -> None:
    for jitter in (JitterPolicy.FULL, JitterPolicy.EQUAL, JitterPolicy.DECORRELATED):
        policy = BackoffPolicy(first=1.0, max=60.0, jitter=jitter)
        runs = {tuple(backoff_delays(policy, seed)) for seed in range(5)}
        assert len(runs) == 5, jitter


def test_unjittered_delays_do_not_depend_on_the_seed() -> None:
    policy = BackoffPolicy.exponential(0.5, 2.0, 10.0)
    runs = {tuple(backoff_delays(policy, seed)) for seed in range(5)}
    assert runs == {(0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0)}


class CountingRandom:
    def __init__(self) -> None:
        self.calls = 0
        self.rng = random.Random(0)

    def random(self) -> float:
        self.calls += 1
        return self.rng.random()


def test_one_draw_per_jittered_retry_and_none_otherwise() -> None:
    jittered = CountingRandom()
    d = Driver(Driver.make().state.config, rng=jittered)
    tid = d.add(TaskSpec.restartable(fn("j"), backoff=BackoffPolicy(jitter=JitterPolicy.EQUAL)))
    for _ in range(4):
        d.end(tid, EndKind.FAILED)
        d.fire_next()
    assert jittered.calls == 4

    plain = CountingRandom()
    d = Driver(Driver.make().state.config, rng=plain)
    tid = d.add(TaskSpec.restartable(fn("n"), backoff=BackoffPolicy.constant(0.1)))
    for end in [EndKind.FAILED] * 4 + [EndKind.RETURNED]:
        d.end(tid, end)
        if d.is_live(tid):
            d.fire_next()
    d.remove(d.add(TaskSpec.once(fn("m"))))
    d.shutdown()
    assert plain.calls == 0
