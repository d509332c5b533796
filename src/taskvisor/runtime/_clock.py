"""The runtime's time source: what ``now`` the core is fed and how the driver sleeps.

Owns: the ``Clock`` protocol and ``LoopClock``, the default. The core takes time only as an
integer ``now`` in nanoseconds (architecture rule 2); this module is where the runtime reads it.
``LoopClock`` reads ``anyio.current_time()``, the event loop's monotonic clock, so a virtual loop
clock (trio's ``MockClock`` passed through anyio's ``backend_options``) makes the whole supervisor
run on virtual time (I8). Must not import the driver or any backend directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import anyio

from taskvisor.fsm import NS_PER_S

__all__ = ["Clock", "LoopClock", "bind"]


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock in integer nanoseconds, and a way to sleep until one of its instants.

    The driver reads ``now_ns()`` for every input it feeds the core and sleeps with
    ``sleep_until_ns`` until the core's next deadline. Both must use the same time base.
    """

    def now_ns(self) -> int:
        """The current time, integer nanoseconds (any origin; must never go backwards)."""
        ...

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        """Return at (or after) ``deadline_ns``; may be cancelled."""
        ...


class LoopClock:
    """The event loop's clock: ``anyio.current_time()`` (virtual under trio's ``MockClock``)."""

    __slots__ = ()

    def now_ns(self) -> int:
        return round(anyio.current_time() * NS_PER_S)

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        await anyio.sleep_until(deadline_ns / NS_PER_S)

    def __repr__(self) -> str:
        return "LoopClock()"


class _BoundClock:
    """``LoopClock`` with the loop's time function looked up once (it is read on every feed)."""

    __slots__ = ("_time",)

    def __init__(self, time: Callable[[], float]) -> None:
        self._time = time

    def now_ns(self) -> int:
        return round(self._time() * NS_PER_S)

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        await anyio.sleep_until(deadline_ns / NS_PER_S)


def bind(clock: Clock, loop_time: Callable[[], float]) -> Clock:
    """``clock``, or for a ``LoopClock`` the same clock reading ``loop_time`` directly.

    ``loop_time`` must be what ``anyio.current_time`` returns on the running loop
    (``loop.time`` on asyncio, ``trio.current_time`` on trio).
    """
    return _BoundClock(loop_time) if type(clock) is LoopClock else clock
