"""``flapping``: a dependency that keeps going down and coming back.

Owns the flapping model (docs/simulator.md, "flapping"):

- The dependency is up from t = 0 for ``up`` seconds, then down for ``down`` seconds, and so
  on until ``horizon``. With ``periods=random`` each period is exponential with that mean
  (drawn from the world's stream); with ``fixed`` it is exactly that long.
- N long-running tasks start connected. When the dependency goes down, every connected task's
  attempt fails at that instant. An attempt that starts while the dependency is up connects at
  once and runs until the next down; one that starts while it is down fails ``latency`` later.
- After each failure the task waits ``fsm.next_delay_ns`` on its ``fsm.RetryStreak`` (one core
  draw per jittered delay, in time order, ties in task order), as the supervisor machine does.
  The core resets a streak only when an attempt *returns* successfully; a connection that held
  for a while and then broke does not, so delays keep growing from flap to flap, up to the cap.
  That is what the production core does, and a main finding this scenario shows.

Events are keyed ``(t, entity)``: entity 0 is the dependency's next transition (so at one
instant the transition comes first), entity ``2*i + 1`` task ``i``'s failure report and
``2*i + 2`` its next start. Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from heapq import heappop, heappush

from taskvisor.fsm import EMPTY_STREAK, NS_PER_S, BackoffPolicy, needs_draw, next_delay_ns
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
    p_int,
    p_ns,
    tasks_param,
)

__all__ = ["FLAPPING"]

_MASK = (1 << ENTITY_BITS) - 1


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    n = p_int(params, "tasks")
    up_ns = p_ns(params, "up")
    down_ns = p_ns(params, "down")
    latency = p_ns(params, "latency")
    horizon = p_ns(params, "horizon")
    randomised = params["periods"] == "random"
    world = seeds.world_rng()
    rng = seeds.policy_rng()
    draws = needs_draw(policy)

    def period(mean: int) -> int:
        if not randomised or mean == 0:
            return mean
        return int(-math.log(1.0 - world.random()) * mean)

    streaks = [EMPTY_STREAK] * n
    connected_at: list[int | None] = [0] * n  # None: not connected
    rate = RateCounter(NS_PER_S, keep=series)
    reconnect = Quantiles()
    heap: list[int] = []
    dep_up = True
    up_since = 0  # start of the current up period
    first_up = True
    heappush(heap, period(up_ns) << ENTITY_BITS)
    attempts = 0
    connected_ns = 0
    missed = periods_seen = 0
    waiting = 0  # tasks not connected during this up period (for `missed`)
    durations: list[float] = []

    def fail(i: int, now: int) -> None:
        u = rng.random() if draws else 0.0
        delay, streaks[i] = next_delay_ns(policy, streaks[i], u)
        heappush(heap, ((now + delay) << ENTITY_BITS) | (2 * i + 2))

    while heap:
        key = heappop(heap)
        t = key >> ENTITY_BITS
        if t >= horizon:
            break
        entity = key & _MASK
        if entity == 0:  # the dependency changes state
            if dep_up:
                if not first_up:
                    missed += waiting
                dep_up = False
                for i in range(n):
                    since = connected_at[i]
                    if since is not None:
                        connected_ns += t - since
                        connected_at[i] = None
                        fail(i, t)
                heappush(heap, (t + period(down_ns)) << ENTITY_BITS)
            else:
                dep_up, up_since, first_up = True, t, False
                periods_seen += n
                waiting = sum(1 for c in connected_at if c is None)
                heappush(heap, (t + period(up_ns)) << ENTITY_BITS)
            continue
        i = (entity - 1) >> 1
        if entity & 1:  # failure report of an attempt made while down
            fail(i, t)
            continue
        attempts += 1
        rate.add(t)
        if dep_up:
            connected_at[i] = t
            waiting -= 1
            reconnect.add(t - up_since)
            if series and len(durations) < 10_000:
                durations.append((t - up_since) / NS_PER_S)
        else:
            heappush(heap, ((t + latency) << ENTITY_BITS) | (2 * i + 1))

    if dep_up and not first_up:
        missed += waiting
    for since in connected_at:
        if since is not None:
            connected_ns += horizon - since
    rate.finish(horizon)
    seconds = horizon / NS_PER_S
    metrics = {
        "availability": connected_ns / (n * horizon) if horizon else math.nan,
        "attempts": float(attempts),
        "mean_rate": attempts / seconds if seconds else math.nan,
        "peak_rate": float(rate.quantiles.max),
        "p99_rate": rate.quantiles.quantile(0.99),
        "reconnect_p50": reconnect.quantile(0.50) / NS_PER_S,
        "reconnect_p99": reconnect.quantile(0.99) / NS_PER_S,
        "missed": missed / periods_seen if periods_seen else math.nan,
    }
    if not series:
        return RunResult(metrics)
    return RunResult(metrics, tuple(rate.series), rate.series_bin_ns, tuple(durations))


def _check(params: Mapping[str, Value], policy: BackoffPolicy) -> None:
    check_latency_advances_time(params, policy, why=" while the dependency is down")


FLAPPING = Scenario(
    name="flapping",
    summary="the dependency alternates up and down: availability and load per policy",
    params=(
        tasks_param(100, 1_000_000),
        Param(
            "up", "float", 30.0, "length (or mean length) of an up period (s)", low=1e-3, high=1e6
        ),
        Param("down", "float", 10.0, "length (or mean) of a down period (s)", low=1e-3, high=1e6),
        Param(
            "periods",
            "choice",
            "fixed",
            "fixed periods, or random ones (exponential with those means)",
            choices=("fixed", "random"),
        ),
        LATENCY,
        horizon_param(3600.0),
    ),
    metrics=(
        Metric("availability", "fraction of task-time connected to the dependency"),
        Metric("attempts", "attempts that reached the dependency"),
        Metric("mean_rate", "attempts per second, averaged over the horizon"),
        Metric("peak_rate", "most attempts started in any one second"),
        Metric("p99_rate", "99th percentile of attempts per second"),
        Metric("reconnect_p50", "median time from the dependency's return to a reconnection (s)"),
        Metric("reconnect_p99", "99th percentile of that time (s)"),
        Metric("missed", "fraction of up periods a disconnected task missed entirely"),
    ),
    run_fn=_run,
    policies=SUPERVISOR_BACKOFF,
    seeds=20,
    durations="time to reconnect after the dependency returns (s)",
    check_fn=_check,
)
