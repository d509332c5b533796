"""A child process for test_signals.py: ``Supervisor.run`` until a signal shuts it down.

Usage: python signal_child.py asyncio|uvloop|trio. Prints ``ready`` once both tasks run, then
what ``run`` returned; the test sends SIGTERM or SIGINT and expects a graceful exit, code 0.
"""

from __future__ import annotations

import sys

import anyio

import taskvisor as tv


async def main() -> None:
    started = 0

    async def polite(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == 2:
            print("ready", flush=True)
        await ctx.cancelled()
        await anyio.sleep(0.01)  # cleanup
        print(f"cleaned up {ctx.name}", flush=True)

    sup = tv.Supervisor(tv.SupervisorConfig(grace=5))
    out = await sup.run([tv.TaskSpec(polite, name="a"), tv.TaskSpec(polite, name="b")])
    for name, outcome in sorted(out.items()):
        print(f"{name} {outcome.kind.name}", flush=True)


if __name__ == "__main__":
    backend = sys.argv[1]
    if backend == "trio":
        anyio.run(main, backend="trio")
    else:
        anyio.run(main, backend="asyncio", backend_options={"use_uvloop": backend == "uvloop"})
    print("exited", flush=True)
