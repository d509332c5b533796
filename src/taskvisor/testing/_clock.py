"""Virtual time on asyncio: ``VirtualClock`` (trio users have ``trio.testing.MockClock``).

Owns: ``VirtualClock``, a clock in integer nanoseconds that drives an asyncio event loop of its
own (``new_event_loop``), and ``seeded``, which builds a ``SupervisorConfig`` with a fixed seed.
On the clock's loop, ``loop.time()`` is virtual: whenever the loop has nothing ready to run and
would block waiting for its next timer, the clock jumps straight to that timer instead ("autojump",
what trio's ``MockClock(autojump_threshold=0)`` does). Every ``asyncio.sleep``/``anyio.sleep``,
every ``call_later``, the supervisor's backoffs, timeouts and grace periods then take no real time,
and since the runtime's default clock reads the loop's time, a whole supervisor run is virtual
and, with a seed, deterministic (I8). ``VirtualClock`` also implements the runtime's ``Clock``
protocol (``now_ns``, ``sleep_until_ns``), so it can be passed as ``SupervisorConfig(clock=...)``.

Must not import pytest or Hypothesis. Reaches into two private attributes of CPython's
``asyncio.BaseEventLoop`` (``_selector``, ``_scheduled``), stable since Python 3.4; uvloop is
not supported (its loop cannot be subclassed this way).
"""

from __future__ import annotations

import asyncio
import math
import selectors
import weakref
from collections.abc import Coroutine
from typing import Any, TypeVar

from taskvisor.fsm import NS_PER_S
from taskvisor.runtime import SupervisorConfig
from taskvisor.runtime._clock import Clock

__all__ = ["VirtualClock", "seeded"]

T = TypeVar("T")


def _ceil_ns(when: float) -> int:
    """The smallest integer ``n`` with ``n / NS_PER_S >= when``: the loop sees ``when`` as due."""
    n = math.ceil(when * NS_PER_S)
    while n / NS_PER_S < when:
        n += 1
    while (n - 1) / NS_PER_S >= when:
        n -= 1
    return n


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _JumpingSelector(selectors.BaseSelector):
    """Wraps the loop's selector: a wait that would block on a timer jumps the clock instead."""

    def __init__(self, inner: selectors.BaseSelector, clock: VirtualClock) -> None:
        self._inner = inner
        self._clock = clock
        self.loop: _VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self.loop
        if timeout is None or timeout <= 0 or loop is None or not self._clock.autojump:
            # Nothing scheduled (wait for I/O or another thread for real), or work is ready.
            return self._inner.select(timeout)
        # Idle until the next timer: take I/O that is ready (or arrives within the real-time
        # threshold) first; only a loop with truly nothing to do moves virtual time.
        events = self._inner.select(min(timeout, self._clock.autojump_threshold))
        if events:
            return events
        scheduled = loop._scheduled  # type: ignore[attr-defined]  # CPython's timer heap
        when = scheduled[0]._when if scheduled else loop.time() + timeout
        self._clock._jump_to(_ceil_ns(when))
        return []

    # The rest is plain delegation.
    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Any:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class _VirtualLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose ``time()`` is its ``VirtualClock``'s."""

    def __init__(self, clock: VirtualClock) -> None:
        selector = _JumpingSelector(selectors.DefaultSelector(), clock)
        super().__init__(selector)
        selector.loop = self
        self.virtual_clock = clock

    def time(self) -> float:
        return self.virtual_clock._now_ns / NS_PER_S


class VirtualClock:
    """Virtual time for asyncio, in integer nanoseconds; jumps ahead whenever the loop is idle.

    Run code on it with ``clock.run(main())`` (like ``asyncio.run``), or hand
    ``clock.new_event_loop`` to anything that takes a loop factory: anyio
    (``backend_options={"loop_factory": clock.new_event_loop}``), ``asyncio.Runner``. On that
    loop, time only moves when every task is waiting (for a sleep, a timer, the supervisor's
    backoff...), and then it moves straight to the earliest timer: a 30 s backoff takes
    microseconds of real time, and ``Event.at`` values are exact.

    Args:
        start: the virtual time to start at, in seconds.
        autojump: jump when idle (default). With ``False`` time moves only by ``advance``, and
            an idle loop waits for real until its next timer (as a normal loop would).
        autojump_threshold: real seconds an idle loop first waits for I/O or other threads
            before jumping (trio's ``MockClock`` has the same knob). 0, the default, jumps at
            once, which suits code that only waits on timers.

    Limits, stated honestly: virtual time jumps whenever nothing is *ready on the loop*. Work
    that finishes outside the loop (a thread from ``run_in_executor``/``to_thread``, a real
    socket, a subprocess) is not waited for: time may race ahead past your timeouts while it
    runs. Give such tests an ``autojump_threshold`` larger than that work takes, or keep them
    on real time. Time is asyncio's ``SelectorEventLoop`` time (uvloop is not supported).
    Under trio, use ``trio.testing.MockClock(autojump_threshold=0)`` instead.

    Example:
        >>> clock = VirtualClock()
        >>> async def main():
        ...     await asyncio.sleep(3600)
        ...     return clock.now()
        >>> clock.run(main())
        3600.0
    """

    def __init__(
        self, start: float = 0.0, *, autojump: bool = True, autojump_threshold: float = 0.0
    ) -> None:
        if not math.isfinite(start) or start < 0:
            raise ValueError(f"VirtualClock.start must be finite and >= 0, got {start!r}")
        if not math.isfinite(autojump_threshold) or autojump_threshold < 0:
            raise ValueError(
                "VirtualClock.autojump_threshold must be finite and >= 0, "
                f"got {autojump_threshold!r}"
            )
        self._now_ns = round(start * NS_PER_S)
        self.autojump = autojump
        self.autojump_threshold = autojump_threshold
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    # -- time --------------------------------------------------------------------------------

    def now_ns(self) -> int:
        """The virtual time, integer nanoseconds (the runtime's ``Clock`` protocol)."""
        return self._now_ns

    def now(self) -> float:
        """The virtual time in float seconds (what ``loop.time()`` reports on this clock)."""
        return self._now_ns / NS_PER_S

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` (>= 0); due timers run at the next turn.

        Call it from the loop's thread (a test's own code), like everything on the loop.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(
                f"VirtualClock.advance: seconds must be finite and >= 0, got {seconds}"
            )
        self._jump_to(self._now_ns + round(seconds * NS_PER_S))

    def _jump_to(self, ns: int) -> None:
        if ns > self._now_ns:  # time never goes backwards
            self._now_ns = ns

    async def sleep_until_ns(self, deadline_ns: int) -> None:
        """Sleep until virtual time ``deadline_ns`` (the runtime's ``Clock`` protocol).

        Must run on a loop of this clock (``run`` or ``new_event_loop``).

        Raises:
            RuntimeError: the running loop is not driven by this clock.
        """
        loop = asyncio.get_running_loop()
        if loop not in self._loops:
            raise RuntimeError(
                "VirtualClock.sleep_until_ns: the running loop is not this clock's; "
                "run with clock.run(...) or loop_factory=clock.new_event_loop"
            )
        if deadline_ns <= self._now_ns:
            await asyncio.sleep(0)  # a checkpoint, like any sleep
            return
        wake: asyncio.Future[None] = loop.create_future()
        handle = loop.call_at(deadline_ns / NS_PER_S, _wake, wake)
        try:
            await wake
        finally:
            handle.cancel()
        # The loop fired the float timer, so to it the deadline has come; float seconds may
        # sit a nanosecond short of the integer one: the caller gets the instant it asked for.
        self._jump_to(deadline_ns)

    # -- loops -------------------------------------------------------------------------------

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        """A new asyncio event loop running on this clock (a loop factory)."""
        loop = _VirtualLoop(self)
        self._loops.add(loop)
        return loop

    def run(self, main: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
        """Run ``main`` to completion on a new loop of this clock, like ``asyncio.run``."""
        with asyncio.Runner(debug=debug, loop_factory=self.new_event_loop) as runner:
            return runner.run(main)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self.now()!r}, autojump={self.autojump})"


def seeded(seed: int, *, clock: Clock | None = None, **config: Any) -> SupervisorConfig:
    """A ``SupervisorConfig`` whose jitter draws come from ``random.Random(seed)`` (I8).

    ``clock`` is passed on (default: the event loop's clock, which is virtual on a
    ``VirtualClock`` loop and under trio's ``MockClock``); every other keyword is a
    ``SupervisorConfig`` field (``grace=``, ``max_concurrent=``...).

    Example:
        >>> clock = VirtualClock()
        >>> config = seeded(7, grace=5.0)
        >>> # clock.run(tv.Supervisor(config).run([spec]))  -- same seed, same trace
    """
    return SupervisorConfig(seed=seed, clock=clock, **config)
