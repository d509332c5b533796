"""``Subscriber``: what the supervisor accepts as an event subscriber, as a type.

Owns the ``Subscriber`` protocol, for type checkers and for users' own annotations; delivery
(queues, workers, panics) is the bus's (``_bus``). Must not import the driver or a backend.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

from taskvisor.fsm import Event

__all__ = ["Subscriber"]


@runtime_checkable
class Subscriber(Protocol):
    """An object with ``on_event(event)``, a plain or an ``async`` method.

    Optionally it also has ``name: str`` (how diagnostics and stats name it; default: its
    class name) and ``queue_capacity: int`` (its own bounded queue, default 1024). A protocol
    cannot say "optional attribute", so those two are read with ``getattr`` and checked when the
    ``Supervisor`` is built (docs/spec/api.md section 5).

    A plain ``on_event`` runs in a worker thread; an ``async`` one on the event loop.
    """

    def on_event(self, event: Event, /) -> Awaitable[None] | None:
        """Handle one event; its return value, if awaitable, is awaited."""
        ...
