"""Subscriber queue accounting: which subscriber takes an event and what a full queue means.

Owns: ``BusState`` (depth, drops and high-water mark per subscriber) and ``offer``, the one
rule for a bounded subscriber queue (architecture rule 7, invariant I5): an event that finds a
subscriber's queue full is dropped for that subscriber alone and counted; the caller then
reports the drop with a ``SUBSCRIBER_OVERFLOW`` event, except when the dropped event was itself
a diagnostic. Must not import anything that does I/O.
"""

from __future__ import annotations

import attrs

__all__ = ["BusState", "SubscriberInfo", "consumed", "offer"]


@attrs.frozen
class SubscriberInfo:
    """A subscriber as the core sees it: a name (for diagnostics) and a queue capacity."""

    name: str
    capacity: int = 1024


@attrs.frozen
class BusState:
    """Per subscriber (by index): events queued, events dropped, largest depth seen."""

    depths: tuple[int, ...]
    dropped: tuple[int, ...]
    high_water: tuple[int, ...]

    @classmethod
    def empty(cls, n: int) -> BusState:
        zeros = (0,) * n
        return cls(zeros, zeros, zeros)


def offer(
    bus: BusState, capacities: tuple[int, ...]
) -> tuple[BusState, tuple[int, ...], tuple[int, ...]]:
    """Offer one event to every subscriber.

    Returns:
        The new state, the indices that accepted it, and the indices whose queue was full.
    """
    accepted: list[int] = []
    full: list[int] = []
    depths = list(bus.depths)
    for i, depth in enumerate(depths):
        if depth < capacities[i]:
            depths[i] = depth + 1
            accepted.append(i)
        else:
            full.append(i)
    if not full:
        high = tuple(d if d > h else h for d, h in zip(depths, bus.high_water, strict=True))
        return BusState(tuple(depths), bus.dropped, high), tuple(accepted), ()
    dropped = list(bus.dropped)
    for i in full:
        dropped[i] += 1
    high = tuple(d if d > h else h for d, h in zip(depths, bus.high_water, strict=True))
    return BusState(tuple(depths), tuple(dropped), high), tuple(accepted), tuple(full)


def consumed(bus: BusState, index: int, count: int) -> BusState:
    """Subscriber ``index`` took ``count`` events off its queue."""
    depth = bus.depths[index]
    if not 0 <= count <= depth:
        raise ValueError(f"subscriber {index} consumed {count} of {depth} queued events")
    depths = (*bus.depths[:index], depth - count, *bus.depths[index + 1 :])
    return BusState(depths, bus.dropped, bus.high_water)
