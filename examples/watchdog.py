"""A watchdog for hung tasks (systemd's ``WatchdogSec``): ``ctx.heartbeat()`` or a restart.

A queue consumer that hangs without dying (a lost TCP peer, a deadlocked library) holds its
work forever, and no exception will ever tell you. ``TaskSpec(watchdog=30)``: the attempt
must call ``ctx.heartbeat()`` at least every 30 s (counted from its start). When it misses,
the attempt is ended like a timeout: ``TIMEOUT_HIT`` with the reason "watchdog: no heartbeat
for 30s", then ``TASK_FAILED``, and it is restarted with backoff as any failure.
``ctx.heartbeat()`` is cheap enough to call once per message: the runtime only reads the
clock, and reports the latest beat when the supervisor needs it. On virtual time: instant.

Run: ``python examples/watchdog.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv
from taskvisor.testing import VirtualClock, seeded


class Consumer:
    """Takes a message every second; the first connection hangs after the 5th message."""

    name = "consumer"

    def __init__(self, done: asyncio.Event) -> None:
        self.done = done
        self.processed = 0

    async def run(self, ctx: tv.TaskContext) -> None:
        for _ in range(5):
            await asyncio.sleep(1.0)  # receive and handle one message
            self.processed += 1
            ctx.heartbeat()
        print(f"attempt {ctx.attempt}: {self.processed} messages processed so far")
        if ctx.attempt == 1:
            await asyncio.Event().wait()  # the broker stops answering: hung, not dead
        self.done.set()
        await ctx.cancelled()


class Watch:
    """Prints the watchdog's verdict (an async subscriber: delivered on the loop)."""

    async def on_event(self, ev: tv.Event) -> None:
        if ev.kind is tv.EventKind.TIMEOUT_HIT:
            print(f"  at {ev.at:.0f}s TIMEOUT_HIT: {ev.reason}")
        elif ev.kind is tv.EventKind.BACKOFF_SCHEDULED:
            print(f"  restarting in {ev.delay:.2f}s")


async def main() -> None:
    done = asyncio.Event()
    consumer = Consumer(done)
    spec = tv.TaskSpec.restartable(consumer, watchdog=30.0)
    async with tv.Supervisor(seeded(1), subscribers=[Watch()]).serve() as handle:
        await handle.add(spec)
        await done.wait()
    print(f"stopped cleanly; {consumer.processed} messages processed")


if __name__ == "__main__":
    VirtualClock().run(main())
