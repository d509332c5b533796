"""Resident scale: many idle supervised tasks, against bare asyncio tasks and aiojobs.

Each taskvisor task is ``TaskSpec.restartable`` with a body that awaits ``ctx.cancelled()``;
each bare task awaits its own ``asyncio.Event``; each aiojobs job awaits one shared event
that is never set. At 2*10^3, 2*10^4 and 10^5 tasks, per task:

- memory: ``tracemalloc`` (Python allocations, from after the specs are built until every
  body is waiting) and the RSS delta from ``/proc/self/statm`` (a separate run: tracemalloc's
  own bookkeeping would inflate RSS);
- add: ``await h.add(spec)`` one task after another, until every body has started; bare: one
  ``create_task`` after another, until every task has started; aiojobs: one
  ``await scheduler.spawn(coro)`` after another;
- shutdown: ``SupervisorHandle.shutdown()`` (cooperative: every context reports cancellation,
  every attempt ends, the core reports each task gone); bare: set every event, await every
  task; aiojobs: ``Scheduler.close()`` (cancels every job and waits for it).

Every measurement runs in a fresh interpreter (``--child``), so allocator state left by an
earlier size cannot hide or inflate memory. Times are best of ``REPEATS`` runs in that child
(CPU time, ``time.process_time``); memory is from its first run. aiojobs runs only up to
``AIOJOBS_MAX`` tasks: its ``close()`` grows quadratically (about 300 µs per job at 10^5).

Run: ``python -m benchmarks.bench_scale``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import subprocess
import sys
import time
import tracemalloc
from typing import Any

import taskvisor as tv
from benchmarks._common import ROOT, Row, Section, Stopwatch, log, markdown, rss_bytes

SIZES = (2_000, 20_000, 100_000)
REPEATS = 3
AIOJOBS_MAX = 20_000
AIOJOBS_TARGET_AT = 20_000  # where issue 11 sets the target against aiojobs
BREAKDOWN_AT = 20_000  # where the tracemalloc run also reports allocation sites
BREAKDOWN_SITES = 15
WARMUP = 50  # tasks in the untimed run each child does first
CHILD_BUDGET_S = 40.0  # per size and implementation; see child()
TARGET_MEMORY = 2.0
TARGET_AIOJOBS = 1.0  # add + stop per task: no slower than aiojobs' spawn + close
TARGET_GROWTH = 1.3  # per-task add + stop from the smallest size to each larger one


async def _bare(n: int, memory: str) -> dict[str, Any]:
    gc.collect()
    before = _memory(memory, n)
    started = 0
    all_started = asyncio.Event()

    async def idle(event: asyncio.Event) -> None:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await event.wait()

    sw = Stopwatch()
    events = [asyncio.Event() for _ in range(n)]
    tasks = []
    for e in events:  # one by one, as taskvisor's adds (each add yields once)
        tasks.append(asyncio.create_task(idle(e)))
        await asyncio.sleep(0)
    await all_started.wait()
    add = sw.stop()
    gc.collect()
    after = _memory(memory)
    _memory_only_exit(memory, n, before, after)
    sw = Stopwatch()
    for e in events:
        e.set()
    await asyncio.gather(*tasks)
    shut = sw.stop()
    return _figures(n, before, after, add, shut, "create_task")


async def _taskvisor(n: int, memory: str) -> dict[str, Any]:
    started = 0
    all_started = asyncio.Event()

    async def idle(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await ctx.cancelled()

    # The specs are the user's, built before measuring: only what supervising costs counts.
    specs = [tv.TaskSpec.restartable(tv.TaskFn(f"idle-{i}", idle)) for i in range(n)]
    gc.collect()
    before = _memory(memory, n)
    sup = tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=[])  # the supervisor alone
    async with sup.serve() as h:
        sw = Stopwatch()
        for spec in specs:
            await h.add(spec)
        how = "add"
        await all_started.wait()
        add = sw.stop()
        gc.collect()
        after = _memory(memory)
        _memory_only_exit(memory, n, before, after)
        if len(h.list()) != n:
            raise AssertionError(f"{len(h.list())} tasks live, expected {n}")
        sw = Stopwatch()
        await h.shutdown()
        shut = sw.stop()
    return _figures(n, before, after, add, shut, how)


async def _aiojobs(n: int, memory: str) -> dict[str, Any]:
    import aiojobs

    never = asyncio.Event()

    async def idle() -> None:
        await never.wait()

    gc.collect()
    before = _memory(memory, n)
    sw = Stopwatch()
    scheduler = aiojobs.Scheduler(limit=None, close_timeout=None)
    for _ in range(n):
        await scheduler.spawn(idle())
    await asyncio.sleep(0)  # every job has started
    add = sw.stop()
    gc.collect()
    after = _memory(memory)
    _memory_only_exit(memory, n, before, after)
    sw = Stopwatch()
    await scheduler.close()
    shut = sw.stop()
    return _figures(n, before, after, add, shut, "spawn")


def _memory_only_exit(memory: str, n: int, before: int, after: int) -> None:
    """Under tracemalloc only the memory counts: report it and leave without shutting down
    (a traced shutdown of 10^5 tasks would cost minutes and measure nothing we report).

    At ``BREAKDOWN_AT`` tasks, also report where the memory went (top allocation sites).
    """
    if memory != "tracemalloc":
        return
    out: dict[str, Any] = {"n": n, "bytes_per_task": (after - before) / n}
    if _snapshots:
        diff = tracemalloc.take_snapshot().compare_to(_snapshots[0], "lineno")
        out["sites"] = [
            {
                "site": _short(d.traceback[0].filename) + f":{d.traceback[0].lineno}",
                "bytes_per_task": round(d.size_diff / n, 1),
                "blocks_per_task": round(d.count_diff / n, 2),
            }
            for d in diff[:BREAKDOWN_SITES]
        ]
    print(json.dumps(out), flush=True)
    os._exit(0)


_snapshots: list[tracemalloc.Snapshot] = []


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    stdlib = re.search(r"/lib/python3\.\d+/(.*)$", filename)
    if stdlib:
        return "stdlib/" + stdlib.group(1)
    return filename.replace(str(ROOT) + "/", "")


def _memory(kind: str, n: int = 0) -> int:
    if kind == "tracemalloc":
        if n == BREAKDOWN_AT and not _snapshots:
            _snapshots.append(tracemalloc.take_snapshot())
        return tracemalloc.get_traced_memory()[0]
    return rss_bytes()


def _figures(n: int, before: int, after: int, add: Any, shut: Any, how: str) -> dict[str, Any]:
    return {
        "n": n,
        "bytes_per_task": (after - before) / n,
        "add_us_per_task": add.wall / n * 1e6,
        "add_cpu_us_per_task": add.cpu / n * 1e6,
        "shutdown_us_per_task": shut.wall / n * 1e6,
        "shutdown_cpu_us_per_task": shut.cpu / n * 1e6,
        "add_with": how,
    }


def child(impl: str, n: int, memory: str, repeats: int) -> dict[str, Any]:
    """One implementation at one size, in this (fresh) process.

    Repeats up to ``repeats`` times, but starts another run only if it would still end
    within ``CHILD_BUDGET_S`` (a run at 10^5 tasks takes tens of seconds on 2 cores).
    """
    fn = {"taskvisor": _taskvisor, "aiojobs": _aiojobs, "asyncio": _bare}[impl]
    # Warm up: lazy imports and one-time caches are not per-task costs.
    asyncio.run(fn(WARMUP, "rss"))
    if memory == "tracemalloc":
        tracemalloc.start()
    runs = []
    t0 = time.perf_counter()
    for _ in range(repeats):
        gc.collect()
        t1 = time.perf_counter()
        runs.append(asyncio.run(fn(n, memory)))
        spent, last = time.perf_counter() - t0, time.perf_counter() - t1
        if spent + last > CHILD_BUDGET_S:
            break
    out = dict(runs[0])
    for key in ("add_us_per_task", "add_cpu_us_per_task"):
        out[key] = min(r[key] for r in runs)
    for key in ("shutdown_us_per_task", "shutdown_cpu_us_per_task"):
        out[key] = min(r[key] for r in runs)
    out["repeats"] = len(runs)
    return out


def _spawn(impl: str, n: int, memory: str, repeats: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_scale", "--child", impl, str(n), memory]
    cmd += [str(repeats)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["child_seconds"] = round(time.perf_counter() - t0, 1)
    return result


def measure() -> Section:
    section = Section("scale", "Resident scale (idle tasks added one by one, asyncio)")
    data: dict[str, Any] = {}
    for n in SIZES:
        impls = ["asyncio", "taskvisor"] + (["aiojobs"] if n <= AIOJOBS_MAX else [])
        for impl in impls:
            log(f"  scale: {impl} x {n:,}")
            timed = _spawn(impl, n, "rss", REPEATS)
            traced = _spawn(impl, n, "tracemalloc", 1) if impl != "aiojobs" else {}
            data.setdefault(str(n), {})[impl] = {
                "tracemalloc_bytes_per_task": traced.get("bytes_per_task"),
                "rss_bytes_per_task": timed["bytes_per_task"],
                "add_us_per_task": timed["add_us_per_task"],
                "add_cpu_us_per_task": timed["add_cpu_us_per_task"],
                "shutdown_us_per_task": timed["shutdown_us_per_task"],
                "shutdown_cpu_us_per_task": timed["shutdown_cpu_us_per_task"],
                "add_with": timed["add_with"],
                "repeats": timed["repeats"],
                "sites": traced.get("sites"),
                "child_seconds": {
                    "timed": timed["child_seconds"],
                    "traced": traced.get("child_seconds"),
                },
            }
    for n in SIZES:
        tvd, bare = data[str(n)]["taskvisor"], data[str(n)]["asyncio"]
        traced = tvd["tracemalloc_bytes_per_task"]
        traced_bare = bare["tracemalloc_bytes_per_task"]
        section.rows += [
            Row(
                f"{n:,} tasks: memory (tracemalloc)",
                traced,
                "B/task",
                "bare task + asyncio.Event",
                traced_bare,
                f"<= {TARGET_MEMORY:g}x bare",
                traced <= TARGET_MEMORY * traced_bare,
            ),
            Row(
                f"{n:,} tasks: memory (RSS delta)",
                tvd["rss_bytes_per_task"],
                "B/task",
                "bare task + asyncio.Event",
                bare["rss_bytes_per_task"],
            ),
            Row(
                f"{n:,} tasks: add, one by one, until all started",
                tvd["add_us_per_task"],
                "µs/task",
                "bare create_task, one by one",
                bare["add_us_per_task"],
                cpu_value=tvd["add_cpu_us_per_task"],
                cpu_baseline=bare["add_cpu_us_per_task"],
            ),
            Row(
                f"{n:,} tasks: shutdown",
                tvd["shutdown_us_per_task"],
                "µs/task",
                "bare: set event, await task",
                bare["shutdown_us_per_task"],
                cpu_value=tvd["shutdown_cpu_us_per_task"],
                cpu_baseline=bare["shutdown_cpu_us_per_task"],
            ),
            _total_row(n, tvd, bare, "bare: create + set + await"),
        ]
        jobs = data[str(n)].get("aiojobs")
        if jobs is not None:
            cpu, cpu_jobs = _total(tvd, "cpu"), _total(jobs, "cpu")
            target: dict[str, Any] = {}
            if n == AIOJOBS_TARGET_AT:
                target = {
                    "target": f"<= {TARGET_AIOJOBS:g}x aiojobs (CPU)",
                    "met": cpu <= TARGET_AIOJOBS * cpu_jobs,
                }
            section.rows.append(
                _total_row(n, tvd, jobs, "aiojobs: spawn one by one + Scheduler.close()", **target)
            )
    growth: dict[str, Any] = {}
    small = SIZES[0]
    for impl in ("taskvisor", "asyncio"):
        base = _total(data[str(small)][impl], "cpu")
        growth[impl] = {
            str(n): _total(data[str(n)][impl], "cpu") / base if base else None for n in SIZES[1:]
        }
        growth[impl]["memory"] = {
            str(n): data[str(n)][impl]["tracemalloc_bytes_per_task"]
            / data[str(small)][impl]["tracemalloc_bytes_per_task"]
            for n in SIZES[1:]
        }
    for n in SIZES[1:]:
        ratio = growth["taskvisor"][str(n)]
        section.rows.append(
            Row(
                f"per-task add + shutdown, {n:,} vs {small:,} tasks (CPU)",
                _total(data[str(n)]["taskvisor"], "cpu"),
                "µs/task",
                f"taskvisor at {small:,} tasks",
                _total(data[str(small)]["taskvisor"], "cpu"),
                f"<= {TARGET_GROWTH:g}x",
                ratio is not None and ratio <= TARGET_GROWTH,
                note=f"bare asyncio grows {_x(growth['asyncio'][str(n)])}",
                cpu_value=_total(data[str(n)]["taskvisor"], "cpu"),
                cpu_baseline=_total(data[str(small)]["taskvisor"], "cpu"),
            )
        )
    data["per_task_growth_from_smallest"] = growth
    section.data = data
    sites = data[str(BREAKDOWN_AT)]["taskvisor"]["sites"] if BREAKDOWN_AT in SIZES else None
    if sites:
        top = "; ".join(f"{x['site']} {x['bytes_per_task']:.0f} B" for x in sites[:6])
        section.notes.append(
            f"Where a supervised task's memory goes ({BREAKDOWN_AT:,} tasks, tracemalloc, "
            f"top sites; all {BREAKDOWN_SITES} in latest.json): {top}."
        )
    growth_note = "; ".join(
        f"{n:,}: taskvisor {_x(growth['taskvisor'][str(n)])}, bare asyncio "
        f"{_x(growth['asyncio'][str(n)])}"
        for n in SIZES[1:]
    )
    section.notes += [
        f"Per-task add + shutdown (CPU) against {small:,} tasks: {growth_note}. Memory per "
        f"task: taskvisor {', '.join(_x(v) for v in growth['taskvisor']['memory'].values())}.",
        "Each size and implementation runs in a fresh interpreter; times are best of "
        f"{REPEATS} (fewer where a run would overrun {CHILD_BUDGET_S:g} s: see repeats in "
        "latest.json), memory from the first run. aiojobs runs up to "
        f"{AIOJOBS_MAX:,} tasks (its close() is quadratic).",
        "taskvisor's memory counts the core's registry entry, the TaskContext, the attempt "
        "record, the asyncio task and its coroutine; not the specs (built before measuring).",
    ]
    return section


def _total(d: dict[str, Any], kind: str) -> float:
    if kind == "cpu":
        return float(d["add_cpu_us_per_task"] + d["shutdown_cpu_us_per_task"])
    return float(d["add_us_per_task"] + d["shutdown_us_per_task"])


def _total_row(n: int, tvd: dict[str, Any], base: dict[str, Any], baseline: str, **kw: Any) -> Row:
    return Row(
        f"{n:,} tasks: add + shutdown",
        _total(tvd, "wall"),
        "µs/task",
        baseline,
        _total(base, "wall"),
        cpu_value=_total(tvd, "cpu"),
        cpu_baseline=_total(base, "cpu"),
        **kw,
    )


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"x{ratio:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=4, metavar=("IMPL", "N", "MEMORY", "REPEATS"))
    args = parser.parse_args()
    if args.child:
        impl, n, memory, repeats = args.child
        print(json.dumps(child(impl, int(n), memory, int(repeats))))
        return
    print(markdown(measure()))


if __name__ == "__main__":
    main()
