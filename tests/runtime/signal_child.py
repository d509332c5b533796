"""A child process for test_signals.py: ``run`` or ``serve`` until a signal shuts it down.

Usage: python signal_child.py asyncio|uvloop|trio [run|serve]. Prints ``ready`` once both tasks
run, then what happened; the test sends SIGTERM or SIGINT and expects a graceful exit, code 0.

- ``run``: prints each task's outcome as ``run`` returned it.
- ``serve``: the block's body waits forever; the signal cancels it after the graceful shutdown
  and the block exits normally: prints ``body cancelled`` (from the body's cancellation) and
  ``left the block``.

Both then print ``stopped_by <name>`` and the backend prints ``exited``.
"""

from __future__ import annotations

import signal
import sys

import anyio

import taskvisor as tv


async def main(mode: str) -> None:
    started = 0

    async def polite(ctx: tv.TaskContext) -> None:
        nonlocal started
        started += 1
        if started == 2:
            print("ready", flush=True)
        try:
            await ctx.cancelled()
            await anyio.sleep(0.01)  # cleanup
        finally:
            print(f"cleaned up {ctx.name}", flush=True)

    sup = tv.Supervisor(tv.SupervisorConfig(grace=5), subscribers=[])
    specs = [tv.TaskSpec(polite, name="a"), tv.TaskSpec(polite, name="b")]
    if mode == "run":
        out = await sup.run(specs)
        for name, outcome in sorted(out.items()):
            print(f"{name} {outcome.kind.name}: {outcome.reason}", flush=True)
    else:
        async with sup.serve() as handle:
            for spec in specs:
                await handle.add(spec)
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                print(f"body cancelled, live tasks: {len(handle.list())}", flush=True)
                raise
        print("left the block", flush=True)
    print(f"stopped_by {sup.stopped_by}", flush=True)


if __name__ == "__main__":
    # A shell that starts its jobs in the background makes them ignore SIGINT, and serve()
    # leaves an ignored signal alone (docs/spec/api.md section 9): restore Python's default so
    # the test means the same however pytest was launched.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    backend = sys.argv[1]
    mode = sys.argv[2] if len(sys.argv) > 2 else "run"
    if backend == "trio":
        anyio.run(main, mode, backend="trio")
    else:
        anyio.run(
            main, mode, backend="asyncio", backend_options={"use_uvloop": backend == "uvloop"}
        )
    print("exited", flush=True)
