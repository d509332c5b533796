"""``outage``: N supervised tasks, one shared dependency that goes down and comes back.

Owns the outage model (docs/simulator.md, "outage"), where a thundering herd forms:

- N long-running tasks (``TaskSpec.restartable(..., backoff=policy)``, unlimited retries) are
  connected to the dependency. At t = 0 it goes down: every task's attempt fails at once. With
  ``start_jitter`` they are instead deployed at t = 0 (``TaskSpec(start_jitter=...)``): each
  task's first attempt starts after a uniform delay in ``[0, start_jitter]`` (the deploy herd,
  when it is 0).
- An attempt reaches the dependency when it starts. While the dependency is down (t < ``down``)
  the attempt fails ``latency`` seconds later.
- From t = ``down`` on it admits at most ``capacity`` new attempts in each second
  ``[down + k, down + k + 1)``; an admitted attempt connects at once and the task is healthy
  from then on (its attempt keeps running). An attempt beyond the capacity fails as overload
  ``latency`` later: a *wasted* attempt.
- After each failure the task waits the delay the core schedules for it:
  ``fsm._backoff.next_delay_ns`` on the task's ``RetryStreak``, with one draw from the task's own
  stream per jittered delay, as a supervisor with ``SupervisorConfig(seed=...)`` does (tasks are
  named ``task-1``..``task-N``).
- With ``retry_budget`` (tokens per second) every task shares one ``RetryBudget(retry_budget,
  burst)``: a restart takes a token when its deadline comes, and without one waits for the next
  (``fsm._retry_budget.Bucket``, the core's own arithmetic). First starts take none.

Each task has at most one attempt in flight and every attempt fails after the same latency, so
the attempt *reports* come in start order: one event per attempt (its report), one heap.
Metrics are streamed (no trace). Must not import the runtime; does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from heapq import heappop, heappush

from taskvisor.fsm import NS_PER_S, BackoffPolicy, RetryBudget
from taskvisor.fsm._backoff import EMPTY_STREAK, needs_draw, next_delay_ns, scale
from taskvisor.fsm._retry_budget import Bucket
from taskvisor.fsm._streams import next_uniform
from taskvisor.sim._engine import ENTITY_BITS
from taskvisor.sim._metrics import Quantiles, RateCounter
from taskvisor.sim._scenario import (
    LATENCY,
    SUPERVISOR_BACKOFF,
    Metric,
    Param,
    RunResult,
    RunSeeds,
    Scenario,
    Value,
    check_latency_advances_time,
    horizon_param,
    p_float,
    p_int,
    p_ns,
    tasks_param,
)

__all__ = ["OUTAGE"]

_MASK = (1 << ENTITY_BITS) - 1
_SECOND = NS_PER_S


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    n = p_int(params, "tasks")
    down = p_ns(params, "down")
    capacity = p_int(params, "capacity")
    latency = p_ns(params, "latency")
    horizon = p_ns(params, "horizon")
    draws = needs_draw(policy)
    streams = [seeds.task_stream(f"task-{i + 1}") for i in range(n)]  # I8: one per task
    streaks = [EMPTY_STREAK] * n
    budget = params["retry_budget"]
    bucket = (
        None
        if budget is None
        else Bucket(RetryBudget(p_float(params, "retry_budget"), p_int(params, "burst")))
    )
    free = bytearray(n)  # 1: the task's next start takes no token (a first start, or granted)
    rate = RateCounter(_SECOND, keep=series)
    after = RateCounter(_SECOND)  # seconds counted from the return: the herd at recovery
    recovery = Quantiles()
    heap: list[int] = []

    def fail(i: int, now: int) -> None:
        # The core's decision for a failed attempt: the next delay of this task's streak (I4).
        u = 0.0
        if draws:
            u, streams[i] = next_uniform(streams[i])
        delay, streaks[i] = next_delay_ns(policy, streaks[i], u)
        heappush(heap, ((now + delay + latency) << ENTITY_BITS) | i)

    if params["start_jitter"] is None:
        for i in range(n):  # t = 0: the dependency goes down under every connected task
            fail(i, 0)
    else:  # t = 0: a deploy; each first attempt after its start jitter (no token taken)
        window = p_ns(params, "start_jitter")
        for i in range(n):
            start = 0
            if window:
                u, streams[i] = next_uniform(streams[i])
                start = scale(window, u)
            free[i] = 1
            heappush(heap, ((start + latency) << ENTITY_BITS) | i)

    attempts = wasted = healthy = throttled = 0
    window, admitted = -1, 0
    last_healthy = down
    durations: list[float] = []
    while heap:
        key = heappop(heap)
        reported = key >> ENTITY_BITS
        i = key & _MASK
        start = reported - latency
        if start > horizon:
            break
        if bucket is not None and not free[i]:
            # A restart after a failure takes a token at its deadline, or waits for one (I9).
            wait = bucket.take(start)
            if wait:
                free[i] = 1
                throttled += 1
                heappush(heap, key + (wait << ENTITY_BITS))
                continue
        free[i] = 0
        attempts += 1
        rate.add(start)
        if start < down:
            fail(i, reported)
            continue
        after.add(start - down)
        w = (start - down) // _SECOND
        if w != window:
            window, admitted = w, 0
        if admitted < capacity:
            admitted += 1
            healthy += 1
            recovery.add(start - down)
            last_healthy = start
            if series and len(durations) < 10_000:
                durations.append((start - down) / NS_PER_S)
            continue
        wasted += 1
        fail(i, reported)

    unrecovered = n - healthy
    end = last_healthy if unrecovered == 0 else max(horizon, down)
    rate.finish(end + 1)
    after.finish(end - down + 1)
    metrics = {
        "attempts": float(attempts),
        "peak_rate": float(rate.quantiles.max),
        "p99_rate": rate.quantiles.quantile(0.99),
        "return_peak": float(after.quantiles.max),
        "recovery": (end - down) / NS_PER_S,
        "recovery_p50": recovery.quantile(0.50) / NS_PER_S,
        "recovery_p99": recovery.quantile(0.99) / NS_PER_S,
        "wasted": float(wasted),
        "unrecovered": float(unrecovered),
        "throttled": float(throttled),
    }
    if not series:
        return RunResult(metrics)
    return RunResult(metrics, tuple(rate.series), rate.series_bin_ns, tuple(durations))


def _check(params: Mapping[str, Value], policy: BackoffPolicy) -> None:
    if params["retry_budget"] is not None:
        return  # a budget's waits move time on
    if p_ns(params, "down") > 0:  # no outage, no failure: time advances
        check_latency_advances_time(params, policy)


OUTAGE = Scenario(
    name="outage",
    summary="a shared dependency is down, then admits a limited rate: the thundering herd",
    params=(
        tasks_param(1000, 1_000_000),
        Param("down", "float", 60.0, "how long the dependency is down (s)", low=0.0, high=1e6),
        Param(
            "capacity",
            "int",
            100,
            "new attempts the dependency admits per second once it is back",
            low=1,
            high=10_000_000,
        ),
        LATENCY,
        horizon_param(
            3600.0,
            "simulated time after which tasks still failing count as unrecovered (s)",
            low=0.0,
        ),
        Param(
            "retry_budget",
            "float",
            None,
            "tokens per second of one retry budget shared by every task (none: no budget)",
            low=0.001,
            high=1e7,
            none_ok=True,
        ),
        Param(
            "burst",
            "int",
            10,
            "tokens the shared retry budget holds (with --retry-budget)",
            low=1,
            high=10_000_000,
        ),
        Param(
            "start_jitter",
            "float",
            None,
            "none: tasks are connected when the outage begins; a number: a deploy at t = 0, "
            "each first attempt after a uniform delay in [0, start_jitter] (s)",
            low=0.0,
            high=1e6,
            none_ok=True,
        ),
    ),
    metrics=(
        Metric("attempts", "attempts that reached the dependency (retries after the outage began)"),
        Metric("peak_rate", "most attempts started in any one second"),
        Metric("p99_rate", "99th percentile of attempts per second, over the run's seconds"),
        Metric("return_peak", "most attempts in one second after the return (the herd)"),
        Metric("recovery", "time from the dependency's return until every task is healthy (s)"),
        Metric("recovery_p50", "median per-task recovery time after the return (s)"),
        Metric("recovery_p99", "99th percentile per-task recovery time (s)"),
        Metric("wasted", "attempts after the return that failed as overload"),
        Metric("unrecovered", "tasks not healthy by the horizon"),
        Metric("throttled", "restarts that waited for a token of the retry budget"),
    ),
    run_fn=_run,
    policies=SUPERVISOR_BACKOFF,
    seeds=20,
    durations="per-task recovery time (s)",
    check_fn=_check,
)
