"""Subscriber queue accounting: which subscriber takes an event and what a full queue means.

Owns: ``BusState`` (depth, drops, high-water mark, overflow and panic episodes per subscriber)
and the one rule for a bounded subscriber queue (architecture rule 7, invariant I5): an event
that finds a subscriber's queue full is dropped for that subscriber alone and counted. The first
drop of an *overflow episode* (the queue was not already overflowing) is to be reported with one
``SUBSCRIBER_OVERFLOW``; later drops of the same episode are only counted, so a stalled
subscriber costs one report, not one per event. The episode ends when the subscriber takes
events off its queue. A dropped diagnostic event is counted and never reported. Panics follow
the same episode rule (docs/spec/api.md section 9): the first panic is reported, the next only
after the subscriber handled an event without raising.

The state is owned and mutated in place by the step that holds it (architecture rule 3);
``offer`` and ``consumed`` are the same rule as functions over a copy, for tests and tools.
Must not import anything that does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = ["BusState", "SubscriberInfo", "consumed", "offer"]


@attrs.frozen
class SubscriberInfo:
    """A subscriber as the core sees it: a name (for diagnostics) and a queue capacity."""

    name: str
    capacity: int = 1024


class BusState:
    """Per subscriber (by index): events queued, events dropped, largest depth seen, and the
    subscribers in an overflow episode (reported once, still dropping) or a panic episode."""

    __slots__ = ("_all", "depths", "dropped", "high_water", "overflowing", "panicking")

    def __init__(
        self,
        depths: Iterable[int],
        dropped: Iterable[int],
        high_water: Iterable[int],
        overflowing: Iterable[int] = (),
        panicking: Iterable[int] = (),
    ) -> None:
        self.depths = list(depths)
        self.dropped = list(dropped)
        self.high_water = list(high_water)
        self.overflowing = set(overflowing)
        self.panicking = set(panicking)
        self._all = tuple(range(len(self.depths)))

    @classmethod
    def empty(cls, n: int) -> BusState:
        zeros = (0,) * n
        return cls(zeros, zeros, zeros)

    def snapshot(
        self,
    ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], frozenset[int], frozenset[int]]:
        """A plain comparable value of this state (for checkers; production never calls it)."""
        return (
            tuple(self.depths),
            tuple(self.dropped),
            tuple(self.high_water),
            frozenset(self.overflowing),
            frozenset(self.panicking),
        )

    def copy(self) -> BusState:
        return BusState(
            self.depths, self.dropped, self.high_water, self.overflowing, self.panicking
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusState):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        d, dr, h, o, _ = self.snapshot()
        return f"BusState(depths={d}, dropped={dr}, high_water={h}, overflowing={set(o)})"

    def take(self, capacities: tuple[int, ...]) -> tuple[int, ...] | None:
        """Offer one event, in the cases that need no decision: the common path of every step.

        Every queue has room: the event is queued for all. One subscriber whose queue is full
        and already in an overflow episode: the drop is counted and not reported (I5).

        Returns:
            The recipients, or None (nothing written) when ``offer`` must decide: a full
            queue whose drop may start an episode, or several subscribers and one full.
        """
        depths = self.depths
        if len(depths) == 1:
            depth = depths[0]
            if depth < capacities[0]:
                depth += 1
                depths[0] = depth
                high = self.high_water
                if depth > high[0]:
                    high[0] = depth
                return self._all
            if self.overflowing:  # {0}: still dropping, already reported
                self.dropped[0] += 1
                return ()
            return None
        for i, depth in enumerate(depths):
            if depth >= capacities[i]:
                return None
        high = self.high_water
        for i, depth in enumerate(depths):
            depth += 1
            depths[i] = depth
            if depth > high[i]:
                high[i] = depth
        return self._all

    def offer(
        self, capacities: tuple[int, ...], diagnostic: bool
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Offer one event to every subscriber.

        Returns:
            The indices that accepted it, and the indices whose drop starts an overflow episode
            (to be reported; always empty for a diagnostic event).
        """
        depths, high = self.depths, self.high_water
        full: list[int] | None = None
        for i, depth in enumerate(depths):
            if depth < capacities[i]:
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
            self.dropped[i] += 1
            if not diagnostic and i not in self.overflowing:
                self.overflowing.add(i)
                report.append(i)
        accepted = tuple([i for i in self._all if i not in full])
        return accepted, tuple(report)

    def check_consumed(self, index: int, count: int) -> None:
        """Refuse a count that is negative or more than is queued (before anything is written)."""
        depth = self.depths[index]
        if not 0 <= count <= depth:
            raise ValueError(f"subscriber {index} consumed {count} of {depth} queued events")

    def consumed(self, index: int, count: int) -> None:
        """Subscriber ``index`` took ``count`` events off its queue; its episode ends if any."""
        self.check_consumed(index, count)
        if count:
            self.depths[index] -= count
            self.overflowing.discard(index)


def offer(
    bus: BusState, capacities: tuple[int, ...], *, diagnostic: bool = False
) -> tuple[BusState, tuple[int, ...], tuple[int, ...]]:
    """Offer one event to a copy: the new state, who accepted it, who starts an episode."""
    new = bus.copy()
    accepted, report = new.offer(capacities, diagnostic)
    return new, accepted, report


def consumed(bus: BusState, index: int, count: int) -> BusState:
    """A copy of ``bus`` after subscriber ``index`` took ``count`` events off its queue."""
    new = bus.copy()
    new.consumed(index, count)
    return new
