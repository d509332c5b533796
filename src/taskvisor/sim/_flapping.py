"""``flapping``: a dependency that keeps going down and coming back, run by the core itself.

Owns the flapping model (docs/simulator.md, "flapping"):

- The dependency is up from t = 0 for ``up`` seconds, then down for ``down`` seconds, and so
  on until ``horizon``. With ``periods=random`` each period is exponential with that mean
  (drawn from the world's stream); with ``fixed`` it is exactly that long.
- N long-running tasks, ``TaskSpec.restartable(backoff=policy, max_retries=...,
  reset_after=...)``, are added at t = 0 and connect at once. When the dependency goes down,
  every connected task's attempt fails at that instant. An attempt that starts while the
  dependency is up connects at once and runs until the next down; one that starts while it is
  down fails ``latency`` later.
- Everything else is decided by the supervisor machine itself (``fsm.step`` through
  ``_engine.CoreDriver``), as in production: the backoff delays (one draw from the task's
  own stream per jittered delay, as under ``SupervisorConfig(seed=...)``), the failure streak
  and its healthy-run reset (docs/crash-loops.md: a connection that held at least
  ``reset_after`` before it broke ends the streak first, so its delay starts again from
  ``first``), and ``max_retries``
  (with ``reset_after=none``, the seed's rule, the streak of a connection that never
  *returns* only grows: its delays climb to the cap and ``max_retries`` ends it for good).

World events are the driver's ``WorldCall``s: at one instant they run in the order they were
scheduled, before the core's own deadlines (a restart due at the instant the dependency
returns sees it up). Must not import the runtime; does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial

from taskvisor.fsm import (
    NS_PER_S,
    AddTasks,
    AttemptEnded,
    BackoffPolicy,
    CoreConfig,
    Effect,
    EndKind,
    Finished,
    OutcomeKind,
    StartAttempt,
    TaskFn,
    TaskId,
    TaskSpec,
)
from taskvisor.sim._engine import CoreDriver
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
    p_opt_float,
    p_opt_int,
    tasks_param,
)

__all__ = ["FLAPPING"]


async def _never_run(ctx: object) -> None:  # pragma: no cover - the simulator runs no bodies
    """Stands for the task's body; the world model decides how each attempt ends."""


class _World:
    """The dependency and the tasks' connections; carries out the core's effects."""

    def __init__(
        self,
        n: int,
        up_ns: int,
        down_ns: int,
        latency: int,
        horizon: int,
        params: Mapping[str, Value],
        seeds: RunSeeds,
        series: bool,
    ) -> None:
        self.n, self.up_ns, self.down_ns = n, up_ns, down_ns
        self.latency, self.horizon = latency, horizon
        self.randomised = params["periods"] == "random"
        self.world = seeds.world_rng()
        self.dep_up = True
        self.up_since = 0  # start of the current up period
        self.first_up = True
        self.connected_at: list[int | None] = [None] * n  # None: not connected
        self.attempt = [0] * n  # the task's current attempt number
        self.failed_at: list[int | None] = [None] * n  # in backoff since (None: not waiting)
        self.rate = RateCounter(NS_PER_S, keep=series)
        self.reconnect = Quantiles()
        self.series = series
        self.durations: list[float] = []
        self.attempts = self.connected_ns = self.backoff_ns = 0
        self.missed = self.periods_seen = 0
        self.waiting = 0  # tasks not connected during this up period (for `missed`)
        self.exhausted = 0
        self.exhaust_ns = 0

    def period(self, mean: int) -> int:
        if not self.randomised or mean == 0:
            return mean
        return int(-math.log(1.0 - self.world.random()) * mean)

    def on_effects(self, driver: CoreDriver, effects: Sequence[Effect]) -> None:
        now = driver.now
        for eff in effects:
            if isinstance(eff, StartAttempt):
                i = eff.task_id.value - 1
                self.attempt[i] = eff.attempt
                since = self.failed_at[i]
                if since is not None:
                    self.backoff_ns += now - since
                    self.failed_at[i] = None
                if eff.attempt == 1:  # connected from t = 0, not a retry
                    self.connected_at[i] = now
                    continue
                self.attempts += 1
                self.rate.add(now)
                if self.dep_up:
                    self.connected_at[i] = now
                    self.waiting -= 1
                    self.reconnect.add(now - self.up_since)
                    if self.series and len(self.durations) < 10_000:
                        self.durations.append((now - self.up_since) / NS_PER_S)
                else:
                    driver.call_at(now + self.latency, partial(self.fail, i, eff.attempt))
            elif isinstance(eff, Finished) and eff.outcome.kind is OutcomeKind.FAILED:
                self.exhausted += 1
                self.exhaust_ns += now
                self.failed_at[eff.task_id.value - 1] = None  # gone for good, not waiting

    def fail(self, i: int, attempt: int, driver: CoreDriver) -> None:
        """Attempt ``attempt`` of task ``i`` fails now."""
        self.failed_at[i] = driver.now
        driver.feed(AttemptEnded(TaskId(i + 1), attempt, EndKind.FAILED, "dependency down"))

    def transition(self, driver: CoreDriver) -> None:
        """The dependency goes down or comes back."""
        now = driver.now
        if self.dep_up:
            if not self.first_up:
                self.missed += self.waiting
            self.dep_up = False
            for i in range(self.n):
                since = self.connected_at[i]
                if since is not None:
                    self.connected_ns += now - since
                    self.connected_at[i] = None
                    self.fail(i, self.attempt[i], driver)
            driver.call_at(now + self.period(self.down_ns), self.transition)
        else:
            self.dep_up, self.up_since, self.first_up = True, now, False
            self.periods_seen += self.n
            self.waiting = sum(1 for c in self.connected_at if c is None)
            driver.call_at(now + self.period(self.up_ns), self.transition)

    def finish(self) -> None:
        """Close the books at the horizon."""
        horizon = self.horizon
        if self.dep_up and not self.first_up:
            self.missed += self.waiting
        for since in self.connected_at:
            if since is not None:
                self.connected_ns += horizon - since
        for since in self.failed_at:
            if since is not None:
                self.backoff_ns += horizon - since
        self.rate.finish(horizon)


def _run(
    params: Mapping[str, Value], policy: BackoffPolicy, seeds: RunSeeds, series: bool
) -> RunResult:
    n = p_int(params, "tasks")
    horizon = p_ns(params, "horizon")
    w = _World(
        n,
        p_ns(params, "up"),
        p_ns(params, "down"),
        p_ns(params, "latency"),
        horizon,
        params,
        seeds,
        series,
    )
    # Each task draws from its own stream (I8): policies meet the same draws (common numbers).
    driver = CoreDriver(CoreConfig(seed=seeds.tasks), seeds.policy_rng(), w.on_effects)
    max_retries = p_opt_int(params, "max_retries")
    reset_after = p_opt_float(params, "reset_after")
    specs = tuple(
        (
            TaskId(i + 1),
            TaskSpec.restartable(
                TaskFn(f"conn-{i + 1}", _never_run),
                backoff=policy,
                max_retries=max_retries,
                reset_after=reset_after,
            ),
        )
        for i in range(n)
    )
    driver.at(0, AddTasks(1, specs))
    driver.call_at(w.period(w.up_ns), w.transition)
    # An event at the horizon itself is not simulated (the run covers [0, horizon)).
    driver.run(until=horizon - 1)
    w.finish()
    reconnect = w.reconnect
    seconds = horizon / NS_PER_S
    task_time = n * horizon
    metrics = {
        "availability": w.connected_ns / task_time,
        "attempts": float(w.attempts),
        "mean_rate": w.attempts / seconds,
        "peak_rate": float(w.rate.quantiles.max),
        "p99_rate": w.rate.quantiles.quantile(0.99),
        "reconnect_p50": reconnect.quantile(0.50) / NS_PER_S,
        "reconnect_p99": reconnect.quantile(0.99) / NS_PER_S,
        "missed": w.missed / w.periods_seen if w.periods_seen else math.nan,
        "backoff": w.backoff_ns / task_time,
        "exhausted": w.exhausted / n,
        "exhaust_time": w.exhaust_ns / w.exhausted / NS_PER_S if w.exhausted else math.nan,
    }
    if not series:
        return RunResult(metrics)
    return RunResult(metrics, tuple(w.rate.series), w.rate.series_bin_ns, tuple(w.durations))


def _check(params: Mapping[str, Value], policy: BackoffPolicy) -> None:
    check_latency_advances_time(params, policy, why=" while the dependency is down")


FLAPPING = Scenario(
    name="flapping",
    summary="the dependency alternates up and down: availability, load and exhaustion per policy",
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
        Param(
            "max_retries",
            "int",
            None,
            "retries allowed after the first failure of a streak (none: unlimited)",
            low=1,
            high=1_000_000,
            none_ok=True,
        ),
        Param(
            "reset_after",
            "float",
            300.0,
            "healthy-run reset: a connection that held this long before it broke ends its "
            "failure streak (s; none: the seed's rule, only a return ends it)",
            low=1e-3,
            high=1e7,
            none_ok=True,
        ),
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
        Metric("backoff", "fraction of task-time spent waiting out backoff delays"),
        Metric("exhausted", "fraction of tasks that used up max_retries (ended FAILED)"),
        Metric("exhaust_time", "mean time at which an exhausted task ended (s)"),
    ),
    run_fn=_run,
    policies=SUPERVISOR_BACKOFF,
    seeds=20,
    durations="time to reconnect after the dependency returns (s)",
    check_fn=_check,
)
