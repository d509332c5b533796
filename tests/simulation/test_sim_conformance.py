"""The fast ``outage`` model backs off exactly as the supervisor machine does (rule 5, I4).

The same outage world is driven through ``fsm.step`` (``CoreDriver``): tasks are real
``TaskSpec``s, failures are ``AttemptEnded`` inputs, restarts come from the core's timers.
With the same core random stream, both give the same attempts, the same overload rejections
and the same recovery times, to the nanosecond.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

import taskvisor as tv
from taskvisor import fsm
from taskvisor.sim import RunSeeds, get_scenario, simulate
from taskvisor.sim._engine import CoreDriver
from taskvisor.sim._sweep import run_seeds

J = tv.JitterPolicy
S = 1_000_000_000


async def _body(ctx: object) -> None:  # never run
    return None


def _outage_through_the_core(
    policy: tv.BackoffPolicy, seeds: RunSeeds, tasks: int, down: int, capacity: int, latency: int
) -> dict[str, float]:
    attempts = wasted = 0
    window, admitted = -1, 0
    recovered: list[int] = []
    broken_at_start: set[fsm.TaskId] = set()

    def on_effects(d: CoreDriver, effects: Sequence[fsm.Effect]) -> None:
        nonlocal attempts, wasted, window, admitted
        for e in effects:
            if not isinstance(e, fsm.StartAttempt):
                continue
            if e.attempt == 1:  # connected before t = 0: the outage breaks it at once
                broken_at_start.add(e.task_id)
                d.at(d.now, fsm.AttemptEnded(e.task_id, 1, fsm.EndKind.FAILED, "down"))
                continue
            attempts += 1
            start = d.now
            if start >= down:
                w = (start - down) // S
                if w != window:
                    window, admitted = w, 0
                if admitted < capacity:
                    admitted += 1
                    recovered.append(start - down)
                    continue  # connected: the attempt keeps running
                wasted += 1
            d.at(start + latency, fsm.AttemptEnded(e.task_id, e.attempt, fsm.EndKind.FAILED, "x"))

    driver = CoreDriver(fsm.CoreConfig(), seeds.policy_rng(), on_effects, check_every=1)
    specs = tuple(
        (fsm.TaskId(i + 1), tv.TaskSpec.restartable(tv.TaskFn(f"t{i}", _body), backoff=policy))
        for i in range(tasks)
    )
    driver.at(0, fsm.AddTasks(1, specs))
    driver.run()
    assert len(broken_at_start) == tasks
    recovered.sort()
    return {
        "attempts": float(attempts),
        "wasted": float(wasted),
        "recovery": recovered[-1] / S,
        "recovery_p50": recovered[(len(recovered) + 1) // 2 - 1] / S,
    }


@pytest.mark.parametrize(
    "policy",
    [
        tv.BackoffPolicy(0.2, 10.0, jitter=J.NONE),
        tv.BackoffPolicy(0.2, 10.0, jitter=J.FULL),
        tv.BackoffPolicy(0.2, 10.0, jitter=J.EQUAL),
        tv.BackoffPolicy(0.2, 10.0, jitter=J.DECORRELATED),
        tv.BackoffPolicy(0.5, 4.0, factor=1.5, jitter=J.FULL, floor=0.3),
    ],
    ids=lambda p: f"{p.jitter.value}-{p.factor}",
)
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_outage_equals_the_supervisor_machine(policy: tv.BackoffPolicy, seed: int) -> None:
    params = {"tasks": 40, "down": 20.0, "capacity": 5, "latency": 0.1}
    fast = simulate("outage", policy, params, seed=seed).metrics
    resolved = get_scenario("outage").resolve(params)
    seeds = run_seeds(seed, "outage", resolved, policy, 0)
    core = _outage_through_the_core(policy, seeds, 40, 20 * S, 5, S // 10)
    for name, value in core.items():
        assert fast[name] == pytest.approx(value, abs=1e-9), name
