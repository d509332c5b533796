"""Public values the core produces: ids, events, outcomes, kinds (docs/spec/api.md section 5).

Owns: ``TaskId``, ``EventKind``, ``OutcomeKind``, ``RejectionKind``, ``BackoffSource``,
``Event`` and ``TaskOutcome``. Pure values; must not import anything that does I/O.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast

import attrs

if TYPE_CHECKING:  # _decision imports this module; the annotation is only a name here
    from taskvisor.fsm._decision import Decision

__all__ = [
    "DIAGNOSTIC_KINDS",
    "BackoffSource",
    "Event",
    "EventKind",
    "OutcomeKind",
    "RejectionKind",
    "TaskId",
    "TaskOutcome",
    "member_view",
]


class TaskId(int):
    """Opaque, ordered, hashable task identity; the runtime never reuses one within a process.

    ``TaskId(5)`` prints as ``TaskId(5)`` (``str``: ``#5``); ``value`` is the plain int. Ids
    are equal only to ids: ``TaskId(5) != 5``.
    """

    # An int underneath: the registry's dicts hash ids on every step, and an int's hash is C
    # code (the attrs class it replaces called a Python-level cached ``__hash__`` per lookup).
    # The hot path looks ids up by the very object it stored, which a dict matches by identity
    # before it ever calls ``__eq__``. An id equals only an id, never the plain int (so an id
    # is not mistaken for a count), and is always true (``TaskId(0)`` too). It orders as its
    # int: code that takes any int may compare it with ints (Hypothesis does), so comparing
    # with an int does not raise. Sorting many ids: ``sorted(ids, key=int)`` skips the
    # Python-level comparison dispatch that a Python ``__eq__`` brings (7x faster at 10^4).

    __slots__ = ()

    __hash__ = int.__hash__

    @property
    def value(self) -> int:
        """The id as a plain int."""
        return int(self)

    def __eq__(self, other: object) -> bool:
        return type(other) is TaskId and int.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return type(other) is not TaskId or int.__ne__(self, other)

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"TaskId({int(self)})"

    def __str__(self) -> str:
        return f"#{int(self)}"


def typed_eq(self: tuple[object, ...], other: object) -> bool:
    """Equality for the core's named tuples: same type and same fields (not any tuple)."""
    return type(other) is type(self) and tuple.__eq__(self, other)


def _typed_ne(self: tuple[object, ...], other: object) -> bool:
    return not typed_eq(self, other)


_Cls = TypeVar("_Cls", bound=type)


def typed(cls: _Cls) -> _Cls:
    """Make a named tuple class compare by type and fields (``typed_eq``), hashed as a tuple.

    A bare NamedTuple equals any tuple with the same values, so a ``ForceCancel`` would equal a
    ``RequestCancel``; the core's events, effects and inputs must not.
    """
    setattr(cls, "__eq__", typed_eq)  # noqa: B010 - a class attribute set after creation
    setattr(cls, "__ne__", _typed_ne)  # noqa: B010
    setattr(cls, "__hash__", tuple.__hash__)  # noqa: B010
    return cls


E = TypeVar("E", bound=enum.Enum)


def member_view(cls: type[E]) -> type[E]:
    """A plain class whose attributes are ``cls``'s members (the very same objects).

    In CPython 3.11 reading ``Phase.RUNNING`` dispatches through ``EnumType.__getattr__``: with
    that hook on the metaclass, every read calls ``type.__getattribute__`` from Python (about
    0.1 µs; CPython 3.12 dropped the hook). Reading a member off the view is a plain class
    attribute read (0.02 µs). The view only holds members: it cannot be called, iterated or
    used with ``isinstance``; it is typed as ``cls`` so that code reading members type-checks.
    """
    view = type(f"{cls.__name__}Members", (), {"__slots__": (), **cls.__members__})
    return cast("type[E]", view)


class EventKind(enum.Enum):
    """Every lifecycle step the supervisor publishes."""

    TASK_ADD_REQUESTED = enum.auto()
    TASK_ADDED = enum.auto()
    TASK_ADD_FAILED = enum.auto()
    TASK_STARTING = enum.auto()
    TASK_STOPPED = enum.auto()
    TASK_FAILED = enum.auto()
    TASK_CANCELED = enum.auto()
    TIMEOUT_HIT = enum.auto()
    BACKOFF_SCHEDULED = enum.auto()
    ACTOR_EXHAUSTED = enum.auto()
    ACTOR_DEAD = enum.auto()
    TASK_REMOVE_REQUESTED = enum.auto()
    TASK_REMOVED = enum.auto()
    SHUTDOWN_REQUESTED = enum.auto()
    ALL_STOPPED_WITHIN_GRACE = enum.auto()
    GRACE_EXCEEDED = enum.auto()
    SUBSCRIBER_OVERFLOW = enum.auto()
    SUBSCRIBER_PANICKED = enum.auto()
    CONTROLLER_SUBMITTED = enum.auto()
    CONTROLLER_REJECTED = enum.auto()
    CONTROLLER_SLOT_TRANSITION = enum.auto()
    RUNTIME_FAILURE = enum.auto()


#: Events about the event bus itself: their loss never produces another overflow event.
DIAGNOSTIC_KINDS = frozenset({EventKind.SUBSCRIBER_OVERFLOW, EventKind.SUBSCRIBER_PANICKED})


class OutcomeKind(enum.Enum):
    """How a task ended, for good."""

    COMPLETED = enum.auto()
    FAILED = enum.auto()
    FATAL = enum.auto()
    CANCELED = enum.auto()
    FORCE_ABORTED = enum.auto()
    REJECTED = enum.auto()


class RejectionKind(enum.Enum):
    """Why a task (or a controller submission) was never started."""

    ALREADY_EXISTS = enum.auto()
    SHUTTING_DOWN = enum.auto()
    QUEUE_FULL = enum.auto()
    SLOT_BUSY = enum.auto()
    SUPERSEDED_BY_REPLACE = enum.auto()
    REMOVED_FROM_QUEUE = enum.auto()
    CONTROLLER_SHUTTING_DOWN = enum.auto()


class BackoffSource(enum.Enum):
    """What a scheduled pause follows (``BACKOFF_SCHEDULED.backoff_source``)."""

    FAILURE = enum.auto()  # a failure: the backoff policy's delay
    SUCCESS = enum.auto()  # a success under always(interval): the interval
    RETRY_AFTER = enum.auto()  # a failure that said when to come back: Fail(retry_after=...)
    BUDGET = enum.auto()  # no token in the task's retry budget: the wait for the next one
    START = enum.auto()  # the first attempt's start jitter: TaskSpec(start_jitter=...)


@typed
class Event(NamedTuple):
    """One published lifecycle step. ``at`` and durations are float seconds.

    An immutable tuple with named fields: the core builds one per lifecycle step, and a tuple
    costs a fifth of a frozen attrs instance (architecture rule 3). Equality also compares the
    type, so an ``Event`` never equals a bare tuple with the same values.
    """

    seq: int
    at: float
    kind: EventKind
    task_id: TaskId | None = None
    task: str | None = None
    attempt: int | None = None
    reason: str | None = None
    delay: float | None = None
    timeout: float | None = None
    duration: float | None = None
    exit_code: int | None = None
    backoff_source: BackoffSource | None = None
    outcome: OutcomeKind | None = None
    rejection: RejectionKind | None = None
    decision: Decision | None = None  # why: on BACKOFF_SCHEDULED and a task's final events


@attrs.frozen
class TaskOutcome:
    """The reliable, final result of one task (delivered after it left the registry).

    Attributes:
        kind: how it ended.
        reason: human-readable reason (empty for a plain completion).
        exit_code: the code a ``Fail``/``Fatal`` carried, if any.
        error: the exception that caused it, when there was one.
        rejection: why it never started, for ``REJECTED``.
        attempts: how many attempts were started.
    """

    kind: OutcomeKind
    reason: str = ""
    exit_code: int | None = None
    error: BaseException | None = attrs.field(default=None, eq=False)
    rejection: RejectionKind | None = None
    attempts: int = 0
