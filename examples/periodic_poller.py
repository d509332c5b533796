"""A periodic poller: check an endpoint every interval; a failed poll is retried with backoff.

``TaskSpec.periodic(task, every)`` restarts the task ``every`` seconds after each *successful*
attempt; a failure uses the backoff policy instead, and a hung poll is cut by ``timeout``.
The poller is a ``Task`` object, so it keeps state (its last reading) across attempts.

Run: ``python examples/periodic_poller.py``.
"""

from __future__ import annotations

import asyncio

import taskvisor as tv


class FlakyEndpoint:
    """A stand-in for an HTTP endpoint: the 3rd call fails, the 5th hangs."""

    def __init__(self) -> None:
        self.calls = 0

    async def get(self) -> int:
        self.calls += 1
        await asyncio.sleep(0.005)
        if self.calls == 3:
            raise ConnectionError("503 Service Unavailable")
        if self.calls == 5:
            await asyncio.sleep(60)  # hangs: the per-attempt timeout cuts it
        return 20 + self.calls


class Poller:
    """Polls ``endpoint``; stops for good after ``polls`` good readings."""

    name = "poller"

    def __init__(self, endpoint: FlakyEndpoint, polls: int, done: asyncio.Event) -> None:
        self.endpoint = endpoint
        self.readings: list[int] = []
        self.polls = polls
        self.done = done

    async def run(self, ctx: tv.TaskContext) -> None:
        value = await self.endpoint.get()
        self.readings.append(value)
        print(f"attempt {ctx.attempt}: reading {value}")
        if len(self.readings) == self.polls:
            self.done.set()


class FailurePrinter:
    """An async subscriber: delivered on the event loop, in order, a moment after the fact."""

    async def on_event(self, ev: tv.Event) -> None:
        if ev.kind in (tv.EventKind.TASK_FAILED, tv.EventKind.TIMEOUT_HIT):
            print(f"  {ev.kind.name}: {ev.reason or f'after {ev.timeout}s'}")


async def main() -> None:
    done = asyncio.Event()
    poller = Poller(FlakyEndpoint(), polls=5, done=done)
    spec = tv.TaskSpec.periodic(
        poller, every=0.02, timeout=0.1, backoff=tv.BackoffPolicy.constant(0.01)
    )
    sup = tv.Supervisor(tv.SupervisorConfig(grace=1.0), subscribers=[FailurePrinter()])
    async with sup.serve() as handle:
        await handle.add(spec)
        await done.wait()
    print(f"readings: {poller.readings}")


if __name__ == "__main__":
    asyncio.run(main())
