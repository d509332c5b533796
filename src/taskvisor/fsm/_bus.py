"""Subscriber queue accounting: which subscriber takes an event and what a full queue means.

Owns: ``BusState`` (depth, drops, high-water mark and overflow episodes per subscriber) and the
one rule for a bounded subscriber queue (architecture rule 7, invariant I5), in ``BusWriter``:
an event that finds a subscriber's queue full is dropped for that subscriber alone and counted.
The first drop of an *overflow episode* (the queue was not already overflowing) is to be reported
with one ``SUBSCRIBER_OVERFLOW``; later drops of the same episode are only counted, so a stalled
subscriber costs one report, not one per event. The episode ends when the subscriber takes
events off its queue. A dropped diagnostic event is counted and never reported. ``BusWriter`` is
the mutable scratch a transition uses (one per ``step``, frozen at commit); ``offer`` and
``consumed`` are the same rule as pure functions. Must not import anything that does I/O.
"""

from __future__ import annotations

import attrs

__all__ = ["BusState", "BusWriter", "SubscriberInfo", "consumed", "offer"]


@attrs.frozen
class SubscriberInfo:
    """A subscriber as the core sees it: a name (for diagnostics) and a queue capacity."""

    name: str
    capacity: int = 1024


@attrs.frozen
class BusState:
    """Per subscriber (by index): events queued, events dropped, largest depth seen, and the
    subscribers in an overflow episode (reported once, still dropping)."""

    depths: tuple[int, ...]
    dropped: tuple[int, ...]
    high_water: tuple[int, ...]
    overflowing: frozenset[int] = frozenset()

    @classmethod
    def empty(cls, n: int) -> BusState:
        zeros = (0,) * n
        return cls(zeros, zeros, zeros)


class BusWriter:
    """A ``BusState`` being changed inside one transition (mutable; ``freeze`` to keep it)."""

    __slots__ = ("_all", "_caps", "_depths", "_dropped", "_high", "_overflowing", "_state")

    def __init__(self, bus: BusState, capacities: tuple[int, ...]) -> None:
        self._state: BusState | None = bus
        self._caps = capacities
        self._all = tuple(range(len(capacities)))
        self._depths = list(bus.depths)
        self._dropped = list(bus.dropped)
        self._high = list(bus.high_water)
        self._overflowing = set(bus.overflowing)

    def offer(self, diagnostic: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Offer one event to every subscriber.

        Returns:
            The indices that accepted it, and the indices whose drop starts an overflow episode
            (to be reported; always empty for a diagnostic event).
        """
        self._state = None
        depths, caps, high = self._depths, self._caps, self._high
        full: list[int] | None = None
        for i, depth in enumerate(depths):
            if depth < caps[i]:
                depth += 1
                depths[i] = depth
                if depth > high[i]:
                    high[i] = depth
            elif full is None:
                full = [i]
            else:
                full.append(i)
        if full is None:
            return self._all, ()
        report: list[int] = []
        for i in full:
            self._dropped[i] += 1
            if not diagnostic and i not in self._overflowing:
                self._overflowing.add(i)
                report.append(i)
        accepted = tuple(i for i in self._all if i not in full)
        return accepted, tuple(report)

    def consumed(self, index: int, count: int) -> None:
        """Subscriber ``index`` took ``count`` events off its queue; its episode ends if any."""
        depth = self._depths[index]
        if not 0 <= count <= depth:
            raise ValueError(f"subscriber {index} consumed {count} of {depth} queued events")
        if count:
            self._state = None
            self._depths[index] = depth - count
            self._overflowing.discard(index)

    def dropped(self, index: int) -> int:
        """Events dropped for subscriber ``index`` so far."""
        return self._dropped[index]

    def freeze(self) -> BusState:
        """The state as it stands now."""
        if self._state is None:
            self._state = BusState(
                tuple(self._depths),
                tuple(self._dropped),
                tuple(self._high),
                frozenset(self._overflowing),
            )
        return self._state


def offer(
    bus: BusState, capacities: tuple[int, ...], *, diagnostic: bool = False
) -> tuple[BusState, tuple[int, ...], tuple[int, ...]]:
    """Offer one event: the new state, who accepted it, and who starts an overflow episode."""
    writer = BusWriter(bus, capacities)
    accepted, report = writer.offer(diagnostic)
    return writer.freeze(), accepted, report


def consumed(bus: BusState, index: int, count: int) -> BusState:
    """Subscriber ``index`` took ``count`` events off its queue."""
    writer = BusWriter(bus, (0,) * len(bus.depths))
    writer.consumed(index, count)
    return writer.freeze()
