"""The core alone, one step at a time: an ended attempt's step and a restart's step.

Two steps make every crash-looping attempt, and both are timed in isolation here, on CPU time:

- **ended attempt**: ``AttemptEnded(FAILED)`` for a RUNNING task whose policy restarts it:
  TASK_FAILED, BACKOFF_SCHEDULED, the task moves to BACKOFF with a deadline, the run permit
  is released;
- **restart**: ``TICK`` at that deadline, restarting exactly that one task: the deadline is
  popped, the task moves to RUNNING, TASK_STARTING, ``StartAttempt``.

``N`` tasks (zero backoff; each ended at its own time, so each ``TICK`` restarts one task) and
one subscriber whose queue has room (drained between rounds, untimed), as in the per-attempt
workload. Inputs are built before timing. Each round times the ``N`` ended steps, then the
``N`` restart steps; the figure is the best round's CPU time per step, with the median and the
spread of the rounds. The baseline is the hand-rolled retry loop (``bench_attempts``'s floor,
asyncio) per attempt, measured in the same run.

The module keeps to the API every core since the first has had (``state, effects =
fsm.step(...)``), so ``PYTHONPATH=<old checkout>/src python -m benchmarks.bench_core`` times an
older core the same way (docs/benchmarks.md's before/after table).

Run: ``python -m benchmarks.bench_core``.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Any

import taskvisor as tv
from benchmarks._common import Row, Section, best_of, log, markdown, on
from taskvisor import fsm

N_TASKS = 1_000
ROUNDS = 40
TARGET_US = 3.0


async def _noop(ctx: object) -> None:
    return None


def _setup(subscribers: int) -> tuple[Any, list[Any], Any]:
    """A core with ``N_TASKS`` RUNNING tasks; per task its ``AttemptEnded`` and its id."""
    rng = random.Random(0)
    infos = [fsm.SubscriberInfo(f"s{i}", 1 << 40) for i in range(subscribers)]
    state = fsm.SupervisorState.initial(fsm.CoreConfig(subscribers=infos))
    backoff = tv.BackoffPolicy.constant(0)
    items = tuple(
        (fsm.TaskId(i + 1), tv.TaskSpec.restartable(tv.TaskFn(f"t{i}", _noop), backoff=backoff))
        for i in range(N_TASKS)
    )
    state, _ = fsm.step(state, fsm.AddTasks(1, items), 0, rng)
    return state, [tid for tid, _ in items], rng


def _drain(state: Any, now: int, rng: Any, subscribers: int) -> Any:
    for i in range(subscribers):
        depth = state.bus.depths[i]
        if depth:
            state, _ = fsm.step(state, fsm.EventsConsumed(i, depth), now, rng)
    return state


def steps(subscribers: int = 1, rounds: int = ROUNDS) -> dict[str, Any]:
    """CPU µs per ended-attempt step and per restart step: best, median, worst round."""
    state, ids, rng = _setup(subscribers)
    step, failed, tick = fsm.step, fsm.EndKind.FAILED, fsm.TICK
    clock = time.process_time
    ended_us: list[float] = []
    restart_us: list[float] = []
    now = 1_000
    attempt = 1
    for _ in range(rounds):
        ends = [fsm.AttemptEnded(tid, attempt, failed, "boom") for tid in ids]
        times = [now + 1_000 * i for i in range(len(ids))]
        pairs = list(zip(ends, times, strict=True))
        gc.collect()
        c0 = clock()
        for inp, at in pairs:
            state, _ = step(state, inp, at, rng)
        c1 = clock()
        for at in times:  # each deadline is one task's: each TICK restarts exactly one
            state, _ = step(state, tick, at, rng)
        c2 = clock()
        ended_us.append((c1 - c0) * 1e6 / len(ids))
        restart_us.append((c2 - c1) * 1e6 / len(ids))
        now = times[-1] + 1_000
        attempt += 1
        state = _drain(state, now, rng, subscribers)
    if any(t.attempt != attempt for t in _tasks(state)):
        raise AssertionError("a TICK did not restart its task")
    return {"ended": _spread(ended_us), "restart": _spread(restart_us), "rounds": rounds}


def _tasks(state: Any) -> list[Any]:
    tasks = state.tasks
    return [tasks[tid] for tid in tasks]


def _spread(samples: list[float]) -> dict[str, float]:
    return {
        "best": min(samples),
        "median": statistics.median(samples),
        "worst": max(samples),
    }


async def _floor() -> Any:
    from benchmarks.bench_attempts import _floor as floor

    return await floor(False)


def measure() -> Section:
    from benchmarks.bench_attempts import ATTEMPTS

    section = Section("core", f"The core alone, one step at a time ({N_TASKS:,} tasks)")
    log("  core: floor")
    floor = best_of(on("asyncio", _floor), k=5).per(ATTEMPTS)
    floor_us = floor.cpu * 1e6
    data: dict[str, Any] = {"tasks": N_TASKS, "floor_cpu_us_per_attempt": floor_us}
    for subs in (1, 0):
        log(f"  core: {subs} subscriber(s)")
        result = steps(subs)
        data[f"subscribers_{subs}"] = result
        label = "one subscriber" if subs else "no subscriber"
        for key, what in (
            ("ended", "ended attempt's step (FAILED -> BACKOFF)"),
            ("restart", "restart's step (TICK -> RUNNING, one task)"),
        ):
            s = result[key]
            target = {"target": f"<= {TARGET_US:g} µs CPU", "met": s["best"] <= TARGET_US}
            section.rows.append(
                Row(
                    f"{what}, {label}: {s['best']:.2f} µs (median {s['median']:.2f})",
                    s["best"],
                    "µs CPU",
                    "hand-rolled retry loop, per attempt (asyncio)",
                    floor_us,
                    cpu_value=s["best"],
                    cpu_baseline=floor_us,
                    note=f"median {s['median']:.2f}, worst {s['worst']:.2f}",
                    **(target if subs else {}),
                )
            )
    section.data = data
    spreads = "; ".join(
        f"{k} {v['median']:.2f}/{v['worst']:.2f}"
        for subs in (1, 0)
        for k, v in data[f"subscribers_{subs}"].items()
        if isinstance(v, dict)
    )
    section.notes += [
        f"CPU time (time.process_time) of {N_TASKS:,} steps of each kind per round (GC on, "
        f"collected before each round); the figure is the best of {ROUNDS} rounds. "
        f"Median/worst round (one subscriber, then none): {spreads} µs.",
        "Each ended attempt is a FAILED end of a task whose policy restarts it after a zero "
        "backoff; each TICK fires one task's deadline. Inputs are built before timing.",
        "Both columns are CPU time; the baseline is one attempt of the hand-rolled retry loop "
        "(no yield) on asyncio, measured in the same process.",
    ]
    return section


def main() -> None:
    print(markdown(measure()))


if __name__ == "__main__":
    main()
