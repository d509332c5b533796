"""The driver's one timer, armed for the core's next deadline (aioquic's ``get_timer`` pattern).

Owns: ``TaskTimer`` (a background task sleeping on the ``Clock``: any backend, any clock) and
``CallbackTimer`` (asyncio with the loop's own clock: ``loop.call_at``, no task, no cancellation
to re-arm, which keeps each attempt cheap). Both call ``due(deadline)`` once the deadline is
reached; the driver then feeds ``TICK`` with ``now = max(deadline, clock)``, so an early wake-up
never runs the core before its deadline. A deadline already due fires at the next loop turn,
after the tasks already ready: a zero-backoff crash loop cannot starve the event loop. The timer
decides nothing (rule 5). Must not import the driver.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
import anyio.lowlevel

from taskvisor.fsm import NS_PER_S
from taskvisor.runtime._clock import Clock

__all__ = ["CallbackTimer", "TaskTimer", "Timer"]

Due = Callable[[int], None]


class Timer:
    """Arms one deadline at a time; ``due(deadline)`` is called when it is reached."""

    def arm(self, deadline: int | None, now: int) -> None:
        """Replace the armed deadline (None: disarm). ``now`` is the core's current time."""
        raise NotImplementedError

    async def run(self) -> None:
        """The timer's background work, if it needs any (started in the driver's task group)."""

    def close(self) -> None:
        """Disarm for good."""


class CallbackTimer(Timer):
    """asyncio with the loop's clock: one ``call_at`` (or ``call_soon``) handle, O(1) to re-arm."""

    __slots__ = ("_due", "_handle", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, due: Due) -> None:
        self._loop = loop
        self._due = due
        self._handle: asyncio.Handle | None = None

    def arm(self, deadline: int | None, now: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if deadline is None:
            return
        if deadline <= now:
            self._handle = self._loop.call_soon(self._fire, deadline)
        else:
            self._handle = self._loop.call_at(deadline / NS_PER_S, self._fire, deadline)

    def _fire(self, deadline: int) -> None:
        self._handle = None
        self._due(deadline)

    def close(self) -> None:
        self.arm(None, 0)


class TaskTimer(Timer):
    """A background task that sleeps on ``clock`` until the armed deadline (trio, any clock)."""

    def __init__(self, clock: Clock, due: Due) -> None:
        self._clock = clock
        self._due = due
        self._deadline: int | None = None
        self._scope: anyio.CancelScope | None = None

    def arm(self, deadline: int | None, now: int) -> None:
        old = self._deadline
        self._deadline = deadline
        # A later deadline needs no wake-up: the timer wakes at the old one and sleeps again.
        if deadline is not None and (old is None or deadline < old) and self._scope is not None:
            self._scope.cancel()

    async def run(self) -> None:
        clock = self._clock
        while True:
            deadline = self._deadline
            if deadline is None or deadline > clock.now_ns():
                with anyio.CancelScope() as scope:
                    self._scope = scope
                    if deadline is None:
                        await anyio.sleep_forever()
                    else:
                        await clock.sleep_until_ns(deadline)
                self._scope = None
                if scope.cancel_called:  # re-armed for an earlier deadline
                    deadline = self._deadline
                    if deadline is None or deadline > clock.now_ns():
                        continue
                    # Already due: being woken up was this turn's checkpoint; fire now.
            else:
                await anyio.lowlevel.checkpoint()  # already due: let ready tasks run first
            if self._deadline != deadline:
                continue  # re-armed meanwhile: go by the new deadline
            assert deadline is not None
            self._deadline = None
            self._due(deadline)

    def close(self) -> None:
        self._deadline = None
        if self._scope is not None:
            self._scope.cancel()
