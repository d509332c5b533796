"""Resident scale: many idle supervised tasks, against bare asyncio tasks doing the same wait.

Each taskvisor task is ``TaskSpec.restartable`` with a body that awaits ``ctx.cancelled()``;
each bare task awaits its own ``asyncio.Event``. At 10^3, 10^4 and 10^5 tasks, per task:

- memory: ``tracemalloc`` (Python allocations, from before the specs are built until every
  body is waiting) and the RSS delta from ``/proc/self/statm`` (a separate run: tracemalloc's
  own bookkeeping would inflate RSS);
- add: from the batch add (``SupervisorHandle.add_batch``, what ``run`` uses) until every body
  has started; bare: from the first ``create_task`` until every task has started;
- shutdown: ``SupervisorHandle.shutdown()`` (cooperative: every context reports cancellation,
  every attempt ends, the core reports each task gone); bare: set every event, await every task.

Every measurement runs in a fresh interpreter (``--child``), so allocator state left by an
earlier size cannot hide or inflate memory. Times are best of ``REPEATS`` runs in that child;
memory is from its first run.

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

SIZES = (1_000, 10_000, 100_000)
REPEATS = 3
BREAKDOWN_AT = 10_000  # where the tracemalloc run also reports allocation sites
BREAKDOWN_SITES = 15
WARMUP = 50  # tasks in the untimed run each child does first
CHILD_BUDGET_S = 40.0  # per size and implementation; see child()
TARGET_MEMORY = 2.0
TARGET_US = 50.0


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
    tasks = [asyncio.create_task(idle(e)) for e in events]
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
    gc.collect()
    before = _memory(memory, n)
    started = 0
    all_started = asyncio.Event()

    async def idle(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == n:
            all_started.set()
        await ctx.cancelled()

    specs = [tv.TaskSpec.restartable(tv.TaskFn(f"idle-{i}", idle)) for i in range(n)]
    sup = tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=[])  # the supervisor alone
    async with sup.serve() as h:
        add_batch = getattr(h, "add_batch", None)
        sw = Stopwatch()
        if add_batch is not None:
            await add_batch(specs)
            how = "add_batch"
        else:  # the batch form is gone: one add per task
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
    fn = _taskvisor if impl == "taskvisor" else _bare
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
    section = Section("scale", "Resident scale (idle tasks awaiting cancellation, asyncio)")
    data: dict[str, Any] = {}
    for n in SIZES:
        for impl in ("asyncio", "taskvisor"):
            log(f"  scale: {impl} x {n:,}")
            timed = _spawn(impl, n, "rss", REPEATS)
            traced = _spawn(impl, n, "tracemalloc", 1)
            data.setdefault(str(n), {})[impl] = {
                "tracemalloc_bytes_per_task": traced["bytes_per_task"],
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
                    "traced": traced["child_seconds"],
                },
            }
    for n in SIZES:
        tvd, bare = data[str(n)]["taskvisor"], data[str(n)]["asyncio"]
        traced = tvd["tracemalloc_bytes_per_task"]
        traced_bare = bare["tracemalloc_bytes_per_task"]
        total = tvd["add_us_per_task"] + tvd["shutdown_us_per_task"]
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
                f"{n:,} tasks: add (batch) until all started",
                tvd["add_us_per_task"],
                "µs/task",
                "bare create_task",
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
            Row(
                f"{n:,} tasks: add + shutdown",
                total,
                "µs/task",
                "bare: create + set + await",
                bare["add_us_per_task"] + bare["shutdown_us_per_task"],
                f"< {TARGET_US:g} µs/task",
                total < TARGET_US,
                cpu_value=tvd["add_cpu_us_per_task"] + tvd["shutdown_cpu_us_per_task"],
                cpu_baseline=bare["add_cpu_us_per_task"] + bare["shutdown_cpu_us_per_task"],
            ),
        ]
    small, large = data[str(SIZES[0])]["taskvisor"], data[str(SIZES[-1])]["taskvisor"]
    growth = {
        key: large[key] / small[key] if small[key] else None
        for key in ("tracemalloc_bytes_per_task", "add_us_per_task", "shutdown_us_per_task")
    }
    data["per_task_growth_smallest_to_largest"] = growth
    section.data = data
    sites = data[str(BREAKDOWN_AT)]["taskvisor"]["sites"] if BREAKDOWN_AT in SIZES else None
    if sites:
        top = "; ".join(f"{x['site']} {x['bytes_per_task']:.0f} B" for x in sites[:6])
        section.notes.append(
            f"Where a supervised task's memory goes ({BREAKDOWN_AT:,} tasks, tracemalloc, "
            f"top sites; all {BREAKDOWN_SITES} in latest.json): {top}."
        )
    section.notes += [
        "Linear growth means a flat per-task figure: from "
        f"{SIZES[0]:,} to {SIZES[-1]:,} tasks the per-task memory changes "
        f"{_x(growth['tracemalloc_bytes_per_task'])}, add {_x(growth['add_us_per_task'])}, "
        f"shutdown {_x(growth['shutdown_us_per_task'])}.",
        "Each size and implementation runs in a fresh interpreter; times are best of "
        f"{REPEATS} (fewer where a run would overrun {CHILD_BUDGET_S:g} s: see repeats in "
        "latest.json), memory from the first run. RSS at 1,000 tasks is page-granular noise.",
        "taskvisor's memory counts the specs (TaskFn + TaskSpec + name), the core's registry "
        "entry, the TaskContext, the attempt record, the asyncio task and its coroutine.",
    ]
    return section


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
