"""The event bus part of the contract model (I5, rule 7; docs/spec/api.md section 9).

Owns: ``BusModel``: each subscriber's queue depth (events delivered minus events consumed), its
drops, and its overflow and panic episodes. It checks that an event reaches every subscriber
with room and only those, that every drop is counted, that the first drop of each overflow
episode is reported by a ``SUBSCRIBER_OVERFLOW`` right after it (never for a diagnostic event),
that a panic is reported once per episode (never for a panic on a diagnostic event) naming its
subscriber, and that the core's bus agrees after every step. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor.fsm import (
    Event,
    EventKind,
    EventsConsumed,
    Input,
    Publish,
    SubscriberPanicked,
    SubscriberRecovered,
    SupervisorState,
)
from taskvisor.fsm._events import DIAGNOSTIC_KINDS
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["BusModel"]

EK = EventKind


class BusModel:
    """Subscriber queues as deliveries and consumption describe them.

    Attributes:
        depths: events queued per subscriber; ``dropped``: events each one missed.
        overflowing: subscribers in an overflow episode (reported once, still dropping).
        panicking: subscribers in a panic episode (reported once).
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.capacities = model.config.capacities
        self.names = [sub.name for sub in model.config.subscribers]
        n = len(self.capacities)
        self.depths = [0] * n
        self.dropped = [0] * n
        self.overflowing: set[int] = set()
        self.panicking: set[int] = set()

    def consumed(self, inp: EventsConsumed) -> None:
        self.depths[inp.subscriber] -= inp.count
        if inp.count:  # taking events off the queue ends its overflow episode
            self.overflowing.discard(inp.subscriber)

    def delivered(self, s: StepRecord, eff: Publish) -> None:
        """Subscriber queues: a drop only when full, every drop counted, and the first drop of
        each overflow episode reported (I5, rule 7)."""
        ev = eff.event
        if s.overflows:
            index = s.overflows.pop(0)
            if ev.kind is not EK.SUBSCRIBER_OVERFLOW:
                fail("I5", f"a drop for subscriber {index} was not reported")
            if ev.task != self.names[index]:
                fail("I5", f"SUBSCRIBER_OVERFLOW names {ev.task!r}, not subscriber {index}")
        recipients = set(eff.recipients)
        for i, cap in enumerate(self.capacities):
            if i in recipients:
                if self.depths[i] >= cap:
                    fail("I5", f"subscriber {i} took an event beyond its capacity {cap}")
                self.depths[i] += 1
            else:
                if self.depths[i] < cap:
                    fail("I5", f"subscriber {i} missed {ev.kind.name} with room in its queue")
                self.dropped[i] += 1
                # One report per overflow episode; later drops of the episode are counted only.
                if ev.kind not in DIAGNOSTIC_KINDS and i not in self.overflowing:
                    self.overflowing.add(i)
                    s.overflows.append(i)
        if not recipients <= set(range(len(self.capacities))):
            fail("I5", f"Publish to unknown subscribers {eff.recipients}")

    def panic_reported(self, s: StepRecord, inp: Input, ev: Event) -> None:
        s.panic_reports += 1
        if not isinstance(inp, SubscriberPanicked) or ev.task != self.names[inp.subscriber]:
            fail("I5", "SUBSCRIBER_PANICKED without its input, or naming another subscriber")

    def check(self, s: StepRecord, after: SupervisorState) -> None:
        """Every drop reported, panics once per episode, and the core's bus agrees (I5)."""
        if s.overflows:
            fail("I5", f"drops for subscribers {s.overflows} were not reported")
        inp = s.inp
        if isinstance(inp, SubscriberPanicked):
            # Reported once per episode (docs/spec/api.md section 9), and never for a panic while
            # handling
            # a diagnostic event (rule 7); the episode ends when the subscriber recovers.
            due = 0
            if inp.event_kind not in DIAGNOSTIC_KINDS and inp.subscriber not in self.panicking:
                due = 1
                self.panicking.add(inp.subscriber)
            if s.panic_reports != due:
                fail("I5", f"{s.panic_reports} SUBSCRIBER_PANICKED for a panic on {inp.event_kind}")
        elif isinstance(inp, SubscriberRecovered):
            self.panicking.discard(inp.subscriber)
        bus = after.bus
        if bus.panicking != self.panicking:
            fail("I5", f"panic episodes {bus.panicking} != {self.panicking}")
        if list(bus.depths) != self.depths or list(bus.dropped) != self.dropped:
            fail("I5", f"bus {bus} disagrees with deliveries {self.depths}/{self.dropped}")
        if set(bus.overflowing) != self.overflowing:
            fail("I5", f"overflow episodes {bus.overflowing} != {self.overflowing}")
