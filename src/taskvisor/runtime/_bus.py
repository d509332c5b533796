"""The runtime's event bus: delivers published events to subscribers, never slowing the loop.

Owns: ``EventBus`` (one bounded queue and one worker per subscriber), subscriber validation
(``on_event``, ``name``, ``queue_capacity``), ``DeliveryStats`` and the public
``SubscriberStats`` (``SupervisorHandle.subscriber_stats()``). The pure core decides *which*
subscribers take an event (``fsm._bus.offer``: only those with room, I5); this module only
carries that decision out and reports back how many events each worker took off its queue
(``on_consumed``), so the core's depth accounting stays exact. Must not import the driver
(``taskvisor.runtime`` modules other than this one), the simulator, or any backend directly
(``asyncio``/``trio``): everything goes through ``anyio``.

Delivery:

- A plain ``on_event`` runs in a worker thread (``anyio.to_thread.run_sync`` with a
  ``CapacityLimiter(1)`` of its own, so a blocked subscriber never starves another one nor
  anyio's default thread pool), in batches: the worker takes everything queued and delivers it
  in one thread hop. A blocking subscriber therefore never stalls the event loop (rule 7).
- An ``async def on_event`` runs on the loop, one event at a time, in ``seq`` order. So does a
  plain ``on_event`` that turns out to return an awaitable (detected at its first delivery).
- After each batch (or each async delivery) ``on_consumed(index, n)`` runs on the loop thread.
- An ``Exception`` from ``on_event`` becomes ``on_panic(index, "Type: message", event kind)``
  and delivery goes on; other ``BaseException``s propagate. Whether a panic is published is the
  core's decision (rule 5): it does not report a panic on a diagnostic event. The first time
  ``on_event`` returns normally after a panic, ``on_recovered(index)`` runs (after the panics
  that preceded it), so the core can close the subscriber's panic episode.
- Every ``publish`` counts as one event offered to every subscriber: a subscriber that is not
  among its recipients (the core found its queue full) has it counted as dropped.
"""

from __future__ import annotations

import inspect
import math
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import attrs

from taskvisor._errors import ConfigError
from taskvisor.fsm import Event, EventKind, SubscriberInfo

__all__ = ["DEFAULT_QUEUE_CAPACITY", "DeliveryStats", "EventBus", "SubscriberStats"]

DEFAULT_QUEUE_CAPACITY = 1024


@attrs.frozen
class DeliveryStats:
    """What the bus did for one subscriber (a snapshot).

    Attributes:
        name: the subscriber's unique name.
        delivered: events handed to its ``on_event``.
        panicked: how many of those raised an ``Exception``.
        dropped: events the bus discarded without handing them over: what was still queued
            when ``aclose`` gave up or the bus was cancelled, and what was published after
            ``aclose`` began.
        abandoned: its worker thread was still inside ``on_event`` when the bus stopped, and
            was left to finish on its own.
    """

    name: str
    delivered: int
    panicked: int
    dropped: int
    abandoned: bool


@attrs.frozen
class SubscriberStats:
    """One subscriber's delivery totals since the supervisor started, and its queue now.

    Attributes:
        name: the subscriber's unique name (as in its diagnostics' ``task``).
        delivered: events handed to its ``on_event`` (including those that raised).
        dropped: events it never got: published while its queue was full (each counted, while
            ``SUBSCRIBER_OVERFLOW`` reports only the first of an episode), or discarded at the
            end because the drain ran out of time.
        panicked: how many calls of its ``on_event`` raised an ``Exception``.
        queued: events waiting for it now, not yet handed to ``on_event``.
    """

    name: str
    delivered: int
    dropped: int
    panicked: int
    queued: int


_NOTHING_IN_FLIGHT: deque[Event] = deque()


class _Slot:
    """One subscriber's queue and worker state. Only the loop thread touches it, except the
    counters ``delivered``/``panicked`` and the flag ``abandoned`` (see ``_deliver_batch``)."""

    __slots__ = (
        "abandoned",
        "capacity",
        "delivered",
        "dropped",
        "failing",
        "in_flight",
        "index",
        "is_async",
        "limiter",
        "name",
        "on_event",
        "panicked",
        "queue",
        "received",
        "unreported",
        "wakeup",
    )

    def __init__(
        self,
        index: int,
        name: str,
        capacity: int,
        on_event: Callable[[Event], Any],
        is_async: bool,
    ) -> None:
        self.index = index
        self.name = name
        self.capacity = capacity
        self.on_event = on_event
        self.is_async = is_async
        self.queue: deque[Event] = deque()
        self.in_flight = _NOTHING_IN_FLIGHT  # the batch a worker thread is delivering
        self.received = 0  # publishes that listed it as a recipient
        self.failing = False  # its last on_event raised (reset, and reported, on success)
        self.limiter: anyio.CapacityLimiter | None = None
        self.wakeup: anyio.Event | None = None  # set while the worker waits for work
        self.delivered = 0
        self.panicked = 0
        self.dropped = 0
        # Events the core counts as queued that no worker will take (dropped by the bus):
        # reported through on_consumed by the worker or aclose, never from inside publish.
        self.unreported = 0
        self.abandoned = False

    def wake(self) -> None:
        if self.wakeup is not None:
            self.wakeup.set()
            self.wakeup = None


def _panic_reason(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not escape the bus
        message = "<unprintable>"
    return f"{type(exc).__name__}: {message}"


def _is_coroutine_function(fn: object) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)  # noqa: B004 - an object with async __call__
    return call is not None and inspect.iscoroutinefunction(call)


def _subscriber_name(sub: object, index: int) -> str:
    name = getattr(sub, "name", None)
    if name is None:
        return type(sub).__name__
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"subscribers[{index}].name", f"expected a non-empty str, got {name!r} ({sub!r})"
        )
    return name


def _unique_names(bases: Sequence[str]) -> list[str]:
    """First comer keeps its name; later duplicates get ``-2``, ``-3``, ... avoiding every
    name any subscriber asked for."""
    taken = set(bases)
    seen: set[str] = set()
    out: list[str] = []
    for base in bases:
        if base not in seen:
            seen.add(base)
            out.append(base)
            continue
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        name = f"{base}-{n}"
        taken.add(name)
        out.append(name)
    return out


def _capacity(sub: object, name: str) -> int:
    cap = getattr(sub, "queue_capacity", DEFAULT_QUEUE_CAPACITY)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ConfigError(
            f"subscriber {name!r}.queue_capacity", f"expected an int >= 1, got {cap!r}"
        )
    return cap


class EventBus:
    """Delivers each published event to its recipients, one bounded queue and worker each.

    Args:
        subscribers: objects with ``on_event(event)`` (plain or ``async``), and optionally
            ``name: str`` and ``queue_capacity: int`` (default 1024).
        on_consumed: called on the loop thread with ``(index, n)`` whenever ``n`` events left
            subscriber ``index``'s queue (delivered, or dropped by the bus), so the driver can
            feed ``fsm.EventsConsumed`` to the core.
        on_panic: called on the loop thread with ``(index, reason, kind)`` when ``on_event`` raised.
        on_recovered: called on the loop thread with ``index`` the first time ``on_event``
            returned normally after it raised.

    Raises:
        ConfigError: a subscriber without a callable ``on_event``, a bad ``name`` or a
            ``queue_capacity`` that is not an int >= 1.

    ``publish`` must be called from the event loop thread (the driver's). ``run`` is started
    once, in the supervisor's task group, and returns after ``aclose``.
    """

    def __init__(
        self,
        subscribers: Sequence[object],
        *,
        on_consumed: Callable[[int, int], None],
        on_panic: Callable[[int, str, EventKind], None],
        on_recovered: Callable[[int], None] | None = None,
    ) -> None:
        subs = list(subscribers)
        handlers: list[Callable[[Event], Any]] = []
        for i, sub in enumerate(subs):
            on_event = getattr(sub, "on_event", None)
            if not callable(on_event):
                raise ConfigError(
                    f"subscribers[{i}].on_event",
                    f"{type(sub).__name__} object {sub!r} has no callable on_event(event)",
                )
            handlers.append(on_event)
        names = _unique_names([_subscriber_name(sub, i) for i, sub in enumerate(subs)])
        caps = [_capacity(sub, name) for sub, name in zip(subs, names, strict=True)]
        self.infos: tuple[SubscriberInfo, ...] = tuple(
            SubscriberInfo(name, cap) for name, cap in zip(names, caps, strict=True)
        )
        self._slots = tuple(
            _Slot(i, names[i], caps[i], handlers[i], _is_coroutine_function(handlers[i]))
            for i in range(len(subs))
        )
        self._on_consumed = on_consumed
        self._on_panic = on_panic
        self._on_recovered = on_recovered
        self._offered = 0  # events published (each offered to every subscriber)
        self._closing = False  # aclose began: publish drops, workers exit once drained
        self._started = False  # workers were started (by run or by aclose)
        self._scope: anyio.CancelScope | None = None
        self._stopped = anyio.Event()  # the workers are gone
        self._closed = anyio.Event()  # aclose finished its accounting

    # -- the driver's side --------------------------------------------------------------------

    def publish(self, event: Event, recipients: tuple[int, ...]) -> None:
        """Queue ``event`` for each subscriber index in ``recipients``; never blocks or awaits.

        The core lists only recipients with room (I5); a recipient whose queue is full anyway,
        or any recipient once ``aclose`` began, has the event dropped and counted.
        """
        self._offered += 1
        slots = self._slots
        closing = self._closing
        for index in recipients:
            slot = slots[index]
            slot.received += 1
            queue = slot.queue
            if closing or slot.abandoned or len(queue) >= slot.capacity:
                # I5: the queue never exceeds capacity even if the accounting were wrong.
                slot.dropped += 1
                slot.unreported += 1
            else:
                queue.append(event)
            if slot.wakeup is not None:
                slot.wake()

    def stats(self) -> tuple[DeliveryStats, ...]:
        """Per subscriber, what was delivered, panicked, dropped (a snapshot)."""
        return tuple(
            DeliveryStats(s.name, s.delivered, s.panicked, s.dropped, s.abandoned)
            for s in self._slots
        )

    def subscriber_stats(self) -> tuple[SubscriberStats, ...]:
        """Per subscriber, its public totals (``SupervisorHandle.subscriber_stats``)."""
        offered = self._offered
        return tuple(
            SubscriberStats(
                s.name,
                s.delivered,
                offered - s.received + s.dropped,
                s.panicked,
                len(s.queue) + len(s.in_flight),
            )
            for s in self._slots
        )

    def queued(self) -> tuple[int, ...]:
        """Per subscriber, events waiting in its queue now (not counting a batch in flight)."""
        return tuple(len(s.queue) for s in self._slots)

    async def run(self) -> None:
        """Run one worker per subscriber until ``aclose`` (or cancellation) stops them."""
        if self._started:
            if self._closing:
                return  # aclose already drained (or is draining) without us
            raise RuntimeError("EventBus.run was already started")
        await self._serve()

    async def aclose(self, timeout: float) -> None:  # noqa: ASYNC109 - the drain budget
        """Stop accepting; let the workers drain within ``timeout`` seconds; then stop them.

        Whatever is still queued afterwards is dropped, counted in ``stats()`` and reported
        through ``on_consumed``. A worker thread stuck inside a plain ``on_event`` is abandoned:
        it finishes that one call on its own and delivers nothing more. (On asyncio, anyio's
        worker threads are not daemon threads, so a call that *never* returns still keeps the
        interpreter from exiting; trio's are daemon threads.) Returns within ``timeout`` plus
        scheduling latency, unless an ``async`` ``on_event`` shields itself from cancellation.
        If ``run`` was never started, ``aclose`` drains the queues itself, under the same
        timeout. Calling it again returns once the first call finished.

        Raises:
            ConfigError: ``timeout`` is negative or NaN (``math.inf`` waits for the drain).
        """
        if math.isnan(timeout) or timeout < 0:
            raise ConfigError("EventBus.aclose.timeout", f"expected seconds >= 0, got {timeout!r}")
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        for slot in self._slots:
            slot.wake()
        with anyio.move_on_after(timeout):
            if not self._started:
                await self._serve()
            else:
                await self._stopped.wait()
        if self._scope is not None:
            self._scope.cancel()
        # Cancelled workers leave at their next checkpoint (abandon_on_cancel: even mid-thread).
        # Bounded wait so an async on_event that swallows cancellation cannot hold us (I7 spirit).
        with anyio.move_on_after(0.05):
            await self._stopped.wait()
        for slot in self._slots:
            left = len(slot.queue)
            slot.queue.clear()
            slot.dropped += left
            slot.unreported += left
            self._report_unreported(slot)
        self._closed.set()

    # -- workers ------------------------------------------------------------------------------

    async def _serve(self) -> None:
        self._started = True
        try:
            async with anyio.create_task_group() as tg:
                self._scope = tg.cancel_scope
                for slot in self._slots:
                    if slot.limiter is None:
                        slot.limiter = anyio.CapacityLimiter(1)
                    tg.start_soon(self._work, slot, name=f"taskvisor subscriber {slot.name}")
        finally:
            self._scope = None
            self._stopped.set()

    def _report_unreported(self, slot: _Slot) -> None:
        if slot.unreported:
            n, slot.unreported = slot.unreported, 0
            self._on_consumed(slot.index, n)

    async def _work(self, slot: _Slot) -> None:
        while True:
            self._report_unreported(slot)
            if not slot.queue or slot.abandoned:
                if self._closing:
                    return
                event = slot.wakeup = anyio.Event()
                try:
                    await event.wait()
                finally:
                    slot.wakeup = None
                continue
            if slot.is_async:
                await self._deliver_one(slot)
            else:
                await self._deliver_batch(slot)

    async def _deliver_one(self, slot: _Slot) -> None:
        """Deliver the head of the queue on the loop (async subscribers, in seq order)."""
        event = slot.queue.popleft()
        reason: str | None = None
        try:
            slot.delivered += 1
            result = slot.on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            slot.panicked += 1
            slot.failing = True
            reason = _panic_reason(exc)
        finally:
            self._on_consumed(slot.index, 1)
        if reason is not None:
            self._on_panic(slot.index, reason, event.kind)
        elif slot.failing:
            slot.failing = False
            self._recovered(slot)

    def _recovered(self, slot: _Slot) -> None:
        if self._on_recovered is not None:
            self._on_recovered(slot.index)

    async def _deliver_batch(self, slot: _Slot) -> None:
        """Deliver everything queued in one thread hop (plain subscribers).

        The batch is a deque that the thread pops from and, if the worker is cancelled, the
        loop pops from too: each ``popleft`` is atomic, so every event is either handed to
        ``on_event`` by the thread or counted as dropped by the loop, never both.
        """
        batch, slot.queue = slot.queue, deque()
        slot.in_flight = batch
        taken = len(batch)
        outcome: _BatchOutcome | None = None
        try:
            outcome = await anyio.to_thread.run_sync(
                _deliver_in_thread, slot, batch, limiter=slot.limiter, abandon_on_cancel=True
            )
        finally:
            slot.in_flight = _NOTHING_IN_FLIGHT
            if outcome is None:  # cancelled (or a BaseException): deliver nothing more
                slot.abandoned = True
                slot.dropped += _drain(batch)
            pending = outcome[1] if outcome is not None else None
            if pending is not None:
                # on_event returned an awaitable: from now on deliver on the loop. The rest of
                # the batch goes back, in order, to the head of the queue (still counted).
                slot.is_async = True
                slot.queue.extendleft(reversed(batch))
                taken -= len(batch)
                batch.clear()
            self._on_consumed(slot.index, taken)
        assert outcome is not None  # the finally clause re-raised otherwise
        notes, pending, kind = outcome
        if pending is not None:
            try:
                await pending
            except Exception as exc:
                slot.panicked += 1
                slot.failing = True
                assert kind is not None
                notes.append((_panic_reason(exc), kind))
            else:
                if slot.failing:
                    slot.failing = False
                    notes.append(None)
        for note in notes:
            if note is None:
                self._recovered(slot)
            else:
                self._on_panic(slot.index, *note)


def _drain(batch: deque[Event]) -> int:
    """Empty ``batch`` from the loop while a thread may still pop from it; count what we took."""
    n = 0
    while True:
        try:
            batch.popleft()
        except IndexError:
            return n
        n += 1


# What a thread hop returns: in order, the panics (reason, kind of the event) and recoveries
# (None) to report, and the awaitable ``on_event`` returned (with the kind of the event it
# belongs to), if it did.
_Note = tuple[str, EventKind] | None
_BatchOutcome = tuple[list[_Note], Awaitable[object] | None, EventKind | None]


def _deliver_in_thread(slot: _Slot, batch: deque[Event]) -> _BatchOutcome:
    """Runs in the subscriber's worker thread: call ``on_event`` for each event of the batch.

    If ``on_event`` returns an awaitable, stop there and hand it back to the loop; the rest of
    the batch stays in ``batch``.
    """
    on_event = slot.on_event
    notes: list[_Note] = []
    while not slot.abandoned:
        try:
            event = batch.popleft()
        except IndexError:
            break
        slot.delivered += 1
        try:
            result = on_event(event)
        except Exception as exc:
            slot.panicked += 1
            slot.failing = True
            notes.append((_panic_reason(exc), event.kind))
            continue
        if result is not None and inspect.isawaitable(result):
            return notes, result, event.kind
        if slot.failing:
            slot.failing = False
            notes.append(None)
    return notes, None, None
