"""A queue consumer that reconnects with exponential backoff when its connection drops.

Each attempt connects to the broker and consumes until the connection is lost; raising
``tv.Fail`` lets the supervisor reconnect after an exponentially growing, jittered delay (the
seed makes the delays reproducible). Messages are acknowledged only once processed, so a
dropped connection redelivers the unacknowledged one. When the queue is drained the consumer
returns, and ``TaskSpec.restartable`` ends it: done.

Run: ``python examples/queue_consumer.py``.
"""

from __future__ import annotations

import asyncio
from collections import deque

import taskvisor as tv


class Broker:
    """An in-memory broker whose connections drop after a few deliveries, three times."""

    def __init__(self, messages: list[str]) -> None:
        self.queue = deque(messages)
        self.connections = 0

    async def connect(self) -> Connection:
        await asyncio.sleep(0.001)
        self.connections += 1
        drops_after = {1: 3, 2: 1, 3: 2}.get(self.connections)  # then a stable connection
        return Connection(self, drops_after)


class Connection:
    def __init__(self, broker: Broker, drops_after: int | None) -> None:
        self.broker = broker
        self.left = drops_after

    async def receive(self) -> str | None:
        await asyncio.sleep(0.001)
        if self.left == 0:
            raise ConnectionResetError("broker closed the connection")
        if self.left is not None:
            self.left -= 1
        return self.broker.queue[0] if self.broker.queue else None

    def ack(self) -> None:
        self.broker.queue.popleft()


async def consume(ctx: tv.TaskContext, broker: Broker, processed: list[str]) -> None:
    conn = await broker.connect()
    print(f"attempt {ctx.attempt}: connected")
    while True:
        try:
            message = await conn.receive()
        except ConnectionError as exc:
            raise tv.Fail(f"connection lost: {exc}") from exc
        if message is None:
            print("queue drained")
            return
        processed.append(message)
        conn.ack()


class Reconnects:
    """Prints each scheduled reconnection (async subscriber: on the loop, in order)."""

    async def on_event(self, ev: tv.Event) -> None:
        if ev.kind is tv.EventKind.BACKOFF_SCHEDULED:
            print(f"  {ev.reason}; reconnecting in {ev.delay:.3f}s")


async def main() -> None:
    broker = Broker([f"m{i}" for i in range(8)])
    processed: list[str] = []

    async def consumer(ctx: tv.TaskContext) -> None:
        await consume(ctx, broker, processed)

    backoff = tv.BackoffPolicy(first=0.01, factor=2.0, max=1.0, jitter=tv.JitterPolicy.EQUAL)
    spec = tv.TaskSpec.restartable(consumer, backoff=backoff)
    sup = tv.Supervisor(tv.SupervisorConfig(seed=2024), subscribers=[Reconnects()])
    outcomes = await sup.run([spec])
    print(f"processed {processed}")
    print(
        f"outcome: {outcomes['consumer'].kind.name} after {outcomes['consumer'].attempts} attempts"
    )


if __name__ == "__main__":
    asyncio.run(main())
