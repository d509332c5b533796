"""The inputs of the supervisor machine: a closed union of small frozen values (rule 3).

Owns: every fact a driver may feed ``step``. Drivers turn what really happened (a command, an
attempt ending, a timer firing, a subscriber finishing work) into one of these. Must not import
anything that does I/O.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import attrs

from taskvisor.fsm._events import EventKind, TaskId, typed
from taskvisor.fsm._slots import ControllerSpec
from taskvisor.fsm._spec import TaskSpec

__all__ = [
    "TICK",
    "AddTasks",
    "AttemptEnded",
    "EndKind",
    "EventsConsumed",
    "Heartbeat",
    "Input",
    "Remove",
    "Shutdown",
    "Submit",
    "SubscriberPanicked",
    "SubscriberRecovered",
    "Tick",
]


class EndKind(enum.Enum):
    """How an attempt's body ended, as the driver saw it (docs/spec/api.md section 2)."""

    RETURNED = "returned"  # returned normally
    FAILED = "failed"  # raised Fail, or any other Exception (reason names it)
    FATAL = "fatal"  # raised Fatal
    CANCELED = "canceled"  # raised taskvisor.Canceled
    INTERRUPTED = "interrupted"  # the backend's cancellation exception escaped the body


@attrs.frozen
class AddTasks:
    """Register a batch, all-or-nothing; ``ticket`` identifies the reply."""

    ticket: int
    items: tuple[tuple[TaskId, TaskSpec], ...]


@typed
class AttemptEnded(NamedTuple):
    """Attempt number ``attempt`` of ``task_id`` is over and its body no longer runs.

    A named tuple: the runtime builds one per attempt, and a tuple costs half an attrs
    instance (architecture rule 3). Equality and hash compare the type and every field but
    ``error`` (the exception object is not part of the fact).

    ``retry_after_ns``: a failure's own delay before the retry (``Fail(retry_after=...)``).
    """

    task_id: TaskId
    attempt: int
    end: EndKind
    reason: str = ""
    exit_code: int | None = None
    error: BaseException | None = None
    retry_after_ns: int | None = None

    def __eq__(self, other: object) -> bool:
        return type(other) is AttemptEnded and self[:5] == other[:5] and self[6:] == other[6:]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self[:5], self[6:]))


@attrs.frozen
class Heartbeat:
    """The running attempt ``attempt`` of ``task_id`` called ``ctx.heartbeat()`` at ``at`` ns.

    The runtime coalesces heartbeats: it reports only the latest one, just before the core
    could need it (docs/spec/api.md section 8, watchdog).
    """

    task_id: TaskId
    attempt: int
    at: int


@attrs.frozen
class Tick:
    """Time has moved: fire every deadline that is due at ``now``."""


TICK = Tick()


@attrs.frozen
class Remove:
    """Remove a task by id or by name (a ``cancel`` is a removal the runtime then waits on)."""

    ticket: int
    task_id: TaskId | None = None
    name: str | None = None


@attrs.frozen
class Shutdown:
    """Close admission, cancel everything, force after grace, report what would not stop.

    ``reason`` says what asked for it when that is worth reporting (``"SIGTERM"``); it is
    carried into SHUTDOWN_REQUESTED and the cancelled tasks' outcome reasons.
    """

    reason: str | None = None


@attrs.frozen
class EventsConsumed:
    """Subscriber ``subscriber`` took ``count`` events off its queue."""

    subscriber: int
    count: int


@attrs.frozen
class SubscriberPanicked:
    """Subscriber ``subscriber``'s ``on_event`` raised on an event of kind ``event_kind``.

    The core decides whether to report it: a panic on a diagnostic event is not (I5).
    """

    subscriber: int
    reason: str
    event_kind: EventKind | None = None


@attrs.frozen
class SubscriberRecovered:
    """A subscriber handled an event without raising after a panic: its episode is over.

    Its next panic is reported again (docs/spec/api.md section 9).
    """

    subscriber: int


@attrs.frozen
class Submit:
    """Submit ``spec`` to its slot under its admission policy; it will run as ``task_id``."""

    ticket: int
    task_id: TaskId
    spec: ControllerSpec


Input = (
    AddTasks
    | AttemptEnded
    | Tick
    | Remove
    | Shutdown
    | EventsConsumed
    | SubscriberPanicked
    | SubscriberRecovered
    | Submit
    | Heartbeat
)
