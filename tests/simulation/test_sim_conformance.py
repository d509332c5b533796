"""The fast ``outage`` model backs off exactly as the supervisor machine does (rule 5, I4, I9).

The same outage world is driven through ``fsm.step`` (``CoreDriver``): tasks are real
``TaskSpec``s, failures are ``AttemptEnded`` inputs, restarts come from the core's timers, and
the core draws from each task's own stream (``CoreConfig(seed=...)``). Both give the same
attempts, the same overload rejections and the same recovery times, to the nanosecond, also
with a shared retry budget and with a deploy's start jitter.
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
    policy: tv.BackoffPolicy,
    seeds: RunSeeds,
    tasks: int,
    down: int,
    capacity: int,
    latency: int,
    budget: tv.RetryBudget | None = None,
    start_jitter: float | None = None,
) -> dict[str, float]:
    attempts = wasted = throttled = 0
    window, admitted = -1, 0
    recovered: list[int] = []
    broken_at_start: set[fsm.TaskId] = set()

    def on_effects(d: CoreDriver, effects: Sequence[fsm.Effect]) -> None:
        nonlocal attempts, wasted, window, admitted, throttled
        for e in effects:
            if isinstance(e, fsm.Publish) and e.event.backoff_source is tv.BackoffSource.BUDGET:
                throttled += 1
            if not isinstance(e, fsm.StartAttempt):
                continue
            if e.attempt == 1 and start_jitter is None:  # connected: the outage breaks it
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

    budgets = None if budget is None else {"dep": budget}
    config = fsm.CoreConfig(retry_budgets=budgets, seed=seeds.tasks)
    driver = CoreDriver(config, seeds.policy_rng(), on_effects, check_every=1)
    specs = tuple(
        (
            fsm.TaskId(i + 1),
            tv.TaskSpec.restartable(
                tv.TaskFn(f"task-{i + 1}", _body),
                backoff=policy,
                retry_budget=None if budget is None else "dep",
                start_jitter=start_jitter or 0.0,
            ),
        )
        for i in range(tasks)
    )
    driver.at(0, fsm.AddTasks(1, specs))
    driver.run()
    assert len(broken_at_start) == (tasks if start_jitter is None else 0)
    recovered.sort()
    return {
        "attempts": float(attempts),
        "wasted": float(wasted),
        "recovery": recovered[-1] / S,
        "recovery_p50": recovered[(len(recovered) + 1) // 2 - 1] / S,
        "throttled": float(throttled),
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


@pytest.mark.parametrize(
    ("extra", "budget", "start_jitter"),
    [
        ({"retry_budget": 2.0, "burst": 3}, tv.RetryBudget(2.0, 3), None),
        ({"retry_budget": 0.5, "burst": 1, "down": 0.0}, tv.RetryBudget(0.5, 1), None),
        ({"start_jitter": 4.0, "down": 0.0}, None, 4.0),
        ({"start_jitter": 0.0, "down": 2.0}, None, 0.0),
        ({"start_jitter": 3.0, "retry_budget": 1.0, "burst": 2}, tv.RetryBudget(1.0, 2), 3.0),
    ],
    ids=["budget", "budget-no-outage", "deploy", "deploy-herd", "deploy-and-budget"],
)
@pytest.mark.parametrize(
    "policy",
    [tv.BackoffPolicy(0.2, 10.0, jitter=J.EQUAL), tv.BackoffPolicy(0.5, 4.0, jitter=J.NONE)],
    ids=["equal", "none"],
)
def test_fast_outage_with_a_budget_or_a_deploy_equals_the_supervisor_machine(
    policy: tv.BackoffPolicy,
    extra: dict[str, float],
    budget: tv.RetryBudget | None,
    start_jitter: float | None,
) -> None:
    params = {"tasks": 40, "down": 20.0, "capacity": 5, "latency": 0.1, **extra}
    fast = simulate("outage", policy, params, seed=3).metrics
    resolved = get_scenario("outage").resolve(params)
    seeds = run_seeds(3, "outage", resolved, policy, 0)
    down = round(float(params["down"]) * S)
    core = _outage_through_the_core(policy, seeds, 40, down, 5, S // 10, budget, start_jitter)
    if budget is not None:
        assert core["throttled"] > 0  # the budget really held restarts back
    for name, value in core.items():
        assert fast[name] == pytest.approx(value, abs=1e-9), name
