"""``_engine``: time order on the timeline, and driving ``fsm.step`` as the runtime does."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.sim._engine import CoreDriver, Timeline


async def _body(ctx: object) -> None:  # never run: the core only carries the task
    return None


def test_timeline_pops_in_time_then_entity_order() -> None:
    tl = Timeline()
    for t, e in [(50, 3), (10, 9), (50, 1), (0, 4)]:
        tl.push(t, e)
    assert [tl.pop() for _ in range(len(tl))] == [(0, 4), (10, 9), (50, 1), (50, 3)]
    assert tl.peek_time() is None


def test_timeline_rejects_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="entity"):
        Timeline.key(0, 1 << 30)
    with pytest.raises(ValueError, match="negative"):
        Timeline.key(-1, 0)


def _failing_world(log: list[tuple[int, str]], fail_times: int) -> object:
    def on_effects(d: CoreDriver, effects: Sequence[fsm.Effect]) -> None:
        for e in effects:
            if isinstance(e, fsm.StartAttempt):
                log.append((d.now, f"start {e.attempt}"))
                kind = fsm.EndKind.FAILED if e.attempt <= fail_times else fsm.EndKind.RETURNED
                d.at(d.now + 5, fsm.AttemptEnded(e.task_id, e.attempt, kind, "x"))
            elif isinstance(e, fsm.Finished):
                log.append((d.now, e.outcome.kind.name))

    return on_effects


def test_core_driver_restarts_exactly_at_backoff_deadlines() -> None:
    log: list[tuple[int, str]] = []
    d = CoreDriver(fsm.CoreConfig(), random.Random(0), _failing_world(log, 2), check_every=1)
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("t", _body), backoff=tv.BackoffPolicy.exponential(100e-9, max=1)
    )
    d.at(0, fsm.AddTasks(1, ((fsm.TaskId(1), spec),)))
    d.run()
    # start at 0, fails at 5, waits 100 ns; fails at 110, waits 200 ns; succeeds at 315.
    assert log == [(0, "start 1"), (105, "start 2"), (310, "start 3"), (315, "COMPLETED")]
    assert d.checks == d.steps  # every step was checked (I1-I8)


def test_core_driver_stops_at_until_and_keeps_pending_work() -> None:
    log: list[tuple[int, str]] = []
    d = CoreDriver(fsm.CoreConfig(), random.Random(0), _failing_world(log, 99))
    spec = tv.TaskSpec.restartable(tv.TaskFn("t", _body), backoff=tv.BackoffPolicy.constant(1e-6))
    d.at(0, fsm.AddTasks(1, ((fsm.TaskId(1), spec),)))
    d.run(until=2_500)
    assert d.now == 2_500
    assert [t for t, _ in log] == [0, 1_005, 2_010]
    # The third attempt ended at 2015; its retry waits for the deadline at 3015.
    assert fsm.next_deadline(d.state) == 3_015
    assert not d.inputs


def test_world_calls_run_in_time_order_without_a_core_step() -> None:
    seen: list[int] = []
    d = CoreDriver(fsm.CoreConfig(), random.Random(0), lambda d, e: None)
    d.call_at(30, lambda d: seen.append(d.now))
    d.call_at(10, lambda d: seen.append(d.now))
    d.run()
    assert seen == [10, 30]
    assert d.steps == 0


def test_scheduling_in_the_past_is_an_error() -> None:
    d = CoreDriver(fsm.CoreConfig(), random.Random(0), lambda d, e: None)
    d.call_at(10, lambda d: None)
    d.run()
    with pytest.raises(ValueError, match="before now"):
        d.at(5, fsm.TICK)
