"""Dynamic management: adding, cancelling, listing and churning tasks on a live supervisor.

Against aiojobs (``Scheduler(limit=None)``), the closest asyncio library with the same verbs,
and bare asyncio where aiojobs has no equivalent. Every task is idle: taskvisor's awaits
``ctx.cancelled()`` (cooperative cancellation), aiojobs' and bare asyncio's await an event
that is never set (so they are cancelled by ``Task.cancel``).

- add: ``await h.add(spec)`` one after another (each a command stepped by the core at once,
  nothing being queued) against ``await scheduler.spawn(coro)``;
- add + cancel: ``tid = await h.add(spec); await h.cancel(tid)`` (returns once the task is
  gone) against ``job = await scheduler.spawn(coro); await job.close()``;
- ``h.list()`` with 10^4 live tasks against ``list(scheduler)``;
- churn: 1,000 live tasks; each round cancels the oldest and adds a new one.

Run: ``python -m benchmarks.bench_dynamic`` (asyncio only: aiojobs is asyncio-only).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

import aiojobs

import taskvisor as tv
from benchmarks._common import (
    Section,
    SelfTimed,
    Stopwatch,
    interleaved,
    log,
    markdown,
    on,
    timing_row,
)

ADDS = 2_000
ROUND_TRIPS = 1_000
LISTED = 10_000
LIST_CALLS = 5
LIVE = 1_000
CHURN = 1_000
REPEATS = 3


async def _idle(ctx: tv.TaskContext) -> None:
    await ctx.cancelled()


def _spec(i: int) -> tv.TaskSpec:
    return tv.TaskSpec.restartable(tv.TaskFn(f"idle-{i}", _idle))


async def _never(event: asyncio.Event) -> None:
    await event.wait()


def _supervisor() -> tv.Supervisor:
    return tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=[])  # the supervisor alone


async def _add_many(h: tv.SupervisorHandle, specs: list[tv.TaskSpec]) -> None:
    add_batch = getattr(h, "add_batch", None)
    if add_batch is not None:
        await add_batch(specs)
    else:
        for spec in specs:
            await h.add(spec)


# -- taskvisor ------------------------------------------------------------------------------


async def tv_add() -> SelfTimed:
    specs = [_spec(i) for i in range(ADDS)]
    async with _supervisor().serve() as h:
        sw = Stopwatch()
        for spec in specs:
            await h.add(spec)
        return sw.stop()


async def tv_round_trip() -> SelfTimed:
    specs = [_spec(i) for i in range(ROUND_TRIPS)]
    async with _supervisor().serve() as h:
        sw = Stopwatch()
        for spec in specs:
            tid = await h.add(spec)
            await h.cancel(tid)
        timed = sw.stop()
        if h.list():
            raise AssertionError("tasks left after add + cancel")
        return timed


async def tv_list() -> SelfTimed:
    async with _supervisor().serve() as h:
        await _add_many(h, [_spec(i) for i in range(LISTED)])
        best = None
        for _ in range(LIST_CALLS):
            sw = Stopwatch()
            n = len(h.list())
            timed = sw.stop(n)
            if best is None or timed.wall < best.wall:
                best = timed
        assert best is not None
        assert best.result == LISTED
        return best


async def tv_churn() -> SelfTimed:
    async with _supervisor().serve() as h:
        live: deque[tv.TaskId] = deque()
        for i in range(LIVE):
            live.append(await h.add(_spec(i)))
        specs = [_spec(LIVE + i) for i in range(CHURN)]
        sw = Stopwatch()
        for spec in specs:
            await h.cancel(live.popleft())
            live.append(await h.add(spec))
        timed = sw.stop()
        if len(h.list()) != LIVE:
            raise AssertionError(f"{len(h.list())} live after churn, expected {LIVE}")
        return timed


# -- aiojobs and bare asyncio ---------------------------------------------------------------


async def aiojobs_add() -> SelfTimed:
    never = asyncio.Event()
    sched = aiojobs.Scheduler(limit=None, close_timeout=None)
    sw = Stopwatch()
    for _ in range(ADDS):
        await sched.spawn(_never(never))
    timed = sw.stop()
    await sched.close()
    return timed


async def aiojobs_round_trip() -> SelfTimed:
    never = asyncio.Event()
    sched = aiojobs.Scheduler(limit=None, close_timeout=None)
    sw = Stopwatch()
    for _ in range(ROUND_TRIPS):
        job = await sched.spawn(_never(never))
        await job.close()
    timed = sw.stop()
    await sched.close()
    return timed


async def aiojobs_list() -> SelfTimed:
    never = asyncio.Event()
    sched = aiojobs.Scheduler(limit=None, close_timeout=None)
    for _ in range(LISTED):
        await sched.spawn(_never(never))
    await asyncio.sleep(0)
    best = None
    for _ in range(LIST_CALLS):
        sw = Stopwatch()
        n = len(list(sched))
        timed = sw.stop(n)
        if best is None or timed.wall < best.wall:
            best = timed
    await sched.close()
    assert best is not None
    return best


async def aiojobs_churn() -> SelfTimed:
    never = asyncio.Event()
    sched = aiojobs.Scheduler(limit=None, close_timeout=None)
    live: deque[Any] = deque()
    for _ in range(LIVE):
        live.append(await sched.spawn(_never(never)))
    sw = Stopwatch()
    for _ in range(CHURN):
        await live.popleft().close()
        live.append(await sched.spawn(_never(never)))
    timed = sw.stop()
    await sched.close()
    return timed


async def bare_add() -> SelfTimed:
    never = asyncio.Event()
    sw = Stopwatch()
    tasks = [asyncio.create_task(_never(never)) for _ in range(ADDS)]
    timed = sw.stop()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return timed


async def bare_round_trip() -> SelfTimed:
    never = asyncio.Event()
    sw = Stopwatch()
    for _ in range(ROUND_TRIPS):
        task = asyncio.create_task(_never(never))
        await asyncio.sleep(0)  # let it start, as the others do
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return sw.stop()


def measure() -> Section:
    section = Section("dynamic", "Dynamic management (asyncio; idle tasks)")
    cases = {
        "tv_add": on("asyncio", tv_add),
        "aiojobs_add": on("asyncio", aiojobs_add),
        "bare_add": on("asyncio", bare_add),
        "tv_round_trip": on("asyncio", tv_round_trip),
        "aiojobs_round_trip": on("asyncio", aiojobs_round_trip),
        "bare_round_trip": on("asyncio", bare_round_trip),
        "tv_list": on("asyncio", tv_list),
        "aiojobs_list": on("asyncio", aiojobs_list),
        "tv_churn": on("asyncio", tv_churn),
        "aiojobs_churn": on("asyncio", aiojobs_churn),
    }
    log("  dynamic: asyncio")
    t0 = time.perf_counter()
    t = interleaved(cases, REPEATS)
    us = 1e6
    section.rows += [
        timing_row("add", t["tv_add"], t["aiojobs_add"], us / ADDS, "µs", "aiojobs spawn"),
        timing_row("add", t["tv_add"], t["bare_add"], us / ADDS, "µs", "asyncio.create_task"),
        timing_row(
            "add + cancel (until gone)",
            t["tv_round_trip"],
            t["aiojobs_round_trip"],
            us / ROUND_TRIPS,
            "µs",
            "aiojobs spawn + Job.close",
        ),
        timing_row(
            "add + cancel (until gone)",
            t["tv_round_trip"],
            t["bare_round_trip"],
            us / ROUND_TRIPS,
            "µs",
            "create_task + cancel + await",
        ),
        timing_row(
            f"list() with {LISTED:,} tasks",
            t["tv_list"],
            t["aiojobs_list"],
            us,
            "µs/call",
            "list(aiojobs.Scheduler)",
        ),
        timing_row(
            f"churn at {LIVE:,} live (cancel oldest + add)",
            t["tv_churn"],
            t["aiojobs_churn"],
            us / CHURN,
            "µs/round",
            "aiojobs close + spawn",
        ),
    ]
    section.data = {
        name: {"wall_s": timing.wall, "cpu_s": timing.cpu} for name, timing in t.items()
    }
    section.data["sizes"] = {
        "adds": ADDS,
        "round_trips": ROUND_TRIPS,
        "listed": LISTED,
        "live": LIVE,
        "churn": CHURN,
    }
    section.notes += [
        f"Best of {REPEATS}, every case interleaved round by round; list() is the best of "
        f"{LIST_CALLS} calls in each run.",
        "taskvisor's add and cancel are commands the core steps at once (nothing is queued) "
        "and answers in that step, then each yields once; cancel is cooperative (the body "
        "sees ctx.cancelled()) and returns once the task "
        "has left list(). aiojobs' close is Task.cancel plus a wait.",
        "list() returns (TaskId, name) pairs sorted by id (docs/spec/api.md); aiojobs' "
        "iteration is "
        "unsorted job objects.",
    ]
    section.seconds = time.perf_counter() - t0
    return section


def main() -> None:
    print(markdown(measure()))


if __name__ == "__main__":
    main()
