"""``crashloop``: tasks that crash with probability p, run by the supervisor machine itself.

Owns the crash-loop model (docs/simulator.md, "crashloop"). N tasks are added at t = 0 as
``TaskSpec(restart=..., backoff=policy, max_retries=..., intensity=..., reset_after=...)``
under ``CoreConfig(intensity=...)``, and the real core (``fsm.step``, through
``_engine.CoreDriver``) decides everything: restarts, backoff, the retry limit, the healthy-run
reset, the restart intensity of each task (it ends ``FAILED``) and of the supervisor (it shuts
down: every running attempt is asked to stop, and stops at once), the ``always(interval)``
pause. The world only decides how each attempt ends: it runs for a drawn duration (``run``
seconds: exactly, or exponential with that mean), then fails with probability ``p`` or returns
normally. Under ``on_failure`` a return completes the task; under ``always`` it restarts after
``interval``. Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    AttemptEnded,
    BackoffPolicy,
    CoreConfig,
    Effect,
    EndKind,
    Escalate,
    Finished,
    OutcomeKind,
    RequestCancel,
    RestartPolicy,
    StartAttempt,
    TaskFn,
    TaskId,
    TaskSpec,
)
from taskvisor.sim._engine import CoreDriver
from taskvisor.sim._metrics import RateCounter
from taskvisor.sim._scenario import (
    SUPERVISOR_BACKOFF,
    Metric,
    Param,
    ParamError,
    RunResult,
    RunSeeds,
    Scenario,
    Value,
    horizon_param,
    never_run,
    p_float,
    p_int,
    p_intensity,
    p_ns,
    p_opt_float,
    p_opt_int,
    tasks_param,
)

__all__ = ["CRASHLOOP"]


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    n = p_int(params, "tasks")
    p_fail = p_float(params, "p")
    run_ns = p_ns(params, "run")
    exponential = params["run_dist"] == "exponential"
    horizon = p_ns(params, "horizon")
    retries = p_opt_int(params, "max_retries")
    restart = (
        RestartPolicy.always(p_float(params, "interval"))
        if params["restart"] == "always"
        else RestartPolicy.ON_FAILURE
    )
    world = seeds.world_rng()
    rate = RateCounter(NS_PER_S, keep=series)

    last_start: dict[TaskId, int] = {}
    ends: dict[TaskId, int] = {}  # when the running attempt of each task will end
    counts = {"attempts": 0, "failures": 0, "gaps": 0, "exhausted": 0, "completed": 0}
    gap_ns = running_ns = exhaust_ns = 0
    escalated_at: int | None = None
    exhaust_times: list[float] = []

    def on_effects(driver: CoreDriver, effects: Sequence[Effect]) -> None:
        nonlocal gap_ns, running_ns, exhaust_ns, escalated_at
        now = driver.now
        for eff in effects:
            if isinstance(eff, RequestCancel):
                # The supervisor shuts down (its intensity was exceeded): the attempt stops at
                # once (its end already scheduled arrives stale), so it ran only until now.
                end = ends.pop(eff.task_id)
                running_ns -= min(end, horizon) - min(now, horizon)
                driver.at(now, AttemptEnded(eff.task_id, eff.attempt, EndKind.CANCELED))
            elif isinstance(eff, Escalate):
                escalated_at = now
            elif isinstance(eff, StartAttempt):
                counts["attempts"] += 1
                rate.add(now)
                prev = last_start.get(eff.task_id)
                if prev is not None:
                    gap_ns += now - prev
                    counts["gaps"] += 1
                last_start[eff.task_id] = now
                d = run_ns
                if exponential and run_ns:
                    d = int(-math.log(1.0 - world.random()) * run_ns)
                failed = world.random() < p_fail
                end = now + d
                ends[eff.task_id] = end
                running_ns += min(end, horizon) - min(now, horizon)
                kind = EndKind.FAILED if failed else EndKind.RETURNED
                counts["failures"] += failed
                driver.at(end, AttemptEnded(eff.task_id, eff.attempt, kind, "crashed"))
            elif isinstance(eff, Finished):
                ends.pop(eff.task_id, None)
                if eff.outcome.kind is OutcomeKind.FAILED:
                    counts["exhausted"] += 1
                    exhaust_ns += now
                    if series and len(exhaust_times) < 10_000:
                        exhaust_times.append(now / NS_PER_S)
                elif eff.outcome.kind is OutcomeKind.COMPLETED:
                    counts["completed"] += 1

    # Each task draws from its own stream (I8): policies meet the same draws (common numbers).
    config = CoreConfig(intensity=p_intensity(params, "supervisor_intensity"), seed=seeds.tasks)
    driver = CoreDriver(config, seeds.policy_rng(), on_effects)
    intensity = p_intensity(params, "intensity")
    reset_after = p_opt_float(params, "reset_after")
    specs = tuple(
        (
            TaskId(i + 1),
            TaskSpec(
                TaskFn(f"task-{i + 1}", never_run),
                restart=restart,
                backoff=policy,
                max_retries=retries,
                timeout=None,
                intensity=intensity,
                reset_after=reset_after,
            ),
        )
        for i in range(n)
    )
    driver.at(0, AddTasks(1, specs))
    driver.run(until=horizon)
    rate.finish(horizon)
    # Attempts still running at the horizon were counted up to the horizon only.
    exhausted = counts["exhausted"]
    metrics = {
        "attempts": float(counts["attempts"]),
        "failures": float(counts["failures"]),
        "exhausted": exhausted / n,
        "exhaust_time": exhaust_ns / exhausted / NS_PER_S if exhausted else math.nan,
        "completed": counts["completed"] / n,
        "uptime": running_ns / (n * horizon) if horizon else math.nan,
        "start_gap": gap_ns / counts["gaps"] / NS_PER_S if counts["gaps"] else math.nan,
        "escalated": 0.0 if escalated_at is None else 1.0,
        "escalate_time": math.nan if escalated_at is None else escalated_at / NS_PER_S,
    }
    if not series:
        return RunResult(metrics)
    return RunResult(metrics, tuple(rate.series), rate.series_bin_ns, tuple(exhaust_times))


def _check(params: Mapping[str, Value], policy: BackoffPolicy) -> None:
    if p_ns(params, "run") > 0:
        return
    if params["restart"] == "always" and p_ns(params, "interval") == 0:
        raise ParamError(
            "run",
            "{run} must be > 0 under {restart} always with {interval} 0: "
            "simulated time would not advance",
        )
    if policy.ceiling_ns == 0 and params["max_retries"] is None and p_float(params, "p") > 0:
        raise ParamError(
            "run",
            "{run} must be > 0 when failures retry at once without limit: "
            "simulated time would not advance",
        )


CRASHLOOP = Scenario(
    name="crashloop",
    summary="tasks crash with probability p after running a while: limits, intensity, cadence",
    params=(
        tasks_param(100, 100_000, "tasks under supervision"),
        Param("p", "float", 0.8, "probability that an attempt fails", low=0.0, high=1.0),
        Param(
            "run", "float", 1.0, "how long an attempt runs before it ends (s)", low=0.0, high=1e6
        ),
        Param(
            "run_dist",
            "choice",
            "exponential",
            "attempt durations: exactly `run`, or exponential with mean `run`",
            choices=("exponential", "fixed"),
        ),
        Param(
            "max_retries",
            "int",
            5,
            "retries allowed after the first failure of a streak (none: unlimited)",
            low=1,
            high=1_000_000,
            none_ok=True,
        ),
        Param(
            "restart",
            "choice",
            "on_failure",
            "on_failure (done after a success) or always (restart after `interval`)",
            choices=("on_failure", "always"),
        ),
        Param(
            "interval", "float", 0.0, "pause after a success under always (s)", low=0.0, high=1e6
        ),
        Param(
            "intensity",
            "intensity",
            None,
            "each task's restart intensity N/S: a task that would restart after a failure more "
            "than N times within S seconds ends FAILED (none: no limit)",
            none_ok=True,
        ),
        Param(
            "supervisor_intensity",
            "intensity",
            None,
            "the supervisor's restart intensity N/S, counted over all tasks: when exceeded the "
            "supervisor shuts down (none: no limit)",
            none_ok=True,
        ),
        Param(
            "reset_after",
            "float",
            300.0,
            "healthy-run reset: an attempt that ran this long before it failed ends its "
            "failure streak (s; none: only a success ends it)",
            low=1e-3,
            high=1e7,
            none_ok=True,
        ),
        horizon_param(600.0),
    ),
    metrics=(
        Metric("attempts", "attempts started, all tasks"),
        Metric("failures", "attempts that failed"),
        Metric(
            "exhausted",
            "fraction of tasks that ended FAILED (retry limit or their restart intensity)",
        ),
        Metric("exhaust_time", "mean time at which an exhausted task gave up (s)"),
        Metric("completed", "fraction of tasks that ended COMPLETED"),
        Metric("uptime", "fraction of task-time with an attempt running"),
        Metric("start_gap", "mean time between two starts of the same task (s): the cadence"),
        Metric("escalated", "fraction of runs in which the supervisor's intensity shut it down"),
        Metric("escalate_time", "mean time at which the supervisor shut down (s)"),
    ),
    run_fn=_run,
    policies=SUPERVISOR_BACKOFF,
    seeds=10,
    durations="time at which a task exhausted its retries (s)",
    check_fn=_check,
)
