"""``h.snapshot()`` cost at 10^2, 10^4 and 10^5 live tasks (docs/spec/api.md section 9).

The health endpoint of docs/recipes.md calls it every second, so it must stay cheap with
10^4 tasks. It reads the core's state directly (no command round trip), so it is measured on a
core holding N running tasks, against ``h.list()`` over the same state in the same process (the
other reader that copies at the boundary): CPU time per call, best of 5.

Run: ``python -m benchmarks.bench_snapshot``.
"""

from __future__ import annotations

import random
import time
from typing import Any

import taskvisor as tv
from taskvisor import fsm
from taskvisor.runtime._snapshot import task_snapshots

SIZES = (100, 10_000, 100_000)
REPEATS = 5


async def _idle(ctx: object) -> None:
    return None


def _state(n: int) -> fsm.SupervisorState:
    core = fsm.Stepper(fsm.CoreConfig(), random.Random(0))
    spec = [
        (fsm.TaskId(i + 1), tv.TaskSpec(tv.TaskFn(f"t{i}", _idle), intensity=tv.Intensity(3, 60)))
        for i in range(n)
    ]
    core.feed(fsm.AddTasks(1, tuple(spec)), 0)
    # A tenth of them failed once and wait in backoff, so every field is filled somewhere.
    for tid, _ in spec[::10]:
        core.feed(fsm.AttemptEnded(tid, 1, fsm.EndKind.FAILED, "boom"), 1_000)
    return core.state


def _cpu_per_call(fn: Any, calls: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - t0) / calls)
    return best


def main() -> None:
    print("| live tasks | snapshot() per call | list() per call | ratio |")
    print("|---:|---:|---:|---:|")
    for n in SIZES:
        state = _state(n)
        calls = max(1, 20_000 // n)

        def snap(state: fsm.SupervisorState = state) -> object:
            return task_snapshots(state, 2_000, {})

        def listing(state: fsm.SupervisorState = state) -> object:
            return sorted((tid, t.name) for tid, t in state.tasks.items())

        assert len(snap()) == n  # type: ignore[arg-type]
        s, li = _cpu_per_call(snap, calls), _cpu_per_call(listing, calls)
        print(f"| {n:,} | {s * 1e3:.3f} ms | {li * 1e3:.3f} ms | {s / li:.2f}x |")


if __name__ == "__main__":
    main()
