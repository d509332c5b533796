"""The effects of the supervisor machine: what a driver must carry out, in order.

Owns: the closed union of effect values (rule 3): named tuples, cheap to build on the hot
path, whose equality also compares the type (a ``ForceCancel`` never equals a
``RequestCancel``). Drivers execute them and never decide anything of their own (rule 5).
Must not import anything that does I/O.
"""

from __future__ import annotations

from typing import NamedTuple

from taskvisor.fsm._events import Event, RejectionKind, TaskId, TaskOutcome, typed_eq
from taskvisor.fsm._spec import TaskSpec

__all__ = [
    "Abandon",
    "AddReply",
    "Effect",
    "Escalate",
    "Finished",
    "ForceCancel",
    "Publish",
    "RemoveReply",
    "RequestCancel",
    "ShutdownDone",
    "StartAttempt",
    "SubmitReply",
]


class StartAttempt(NamedTuple):
    """Start attempt ``attempt`` (1-based) of the task; its body is ``spec.task``."""

    task_id: TaskId
    name: str
    attempt: int
    spec: TaskSpec

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class RequestCancel(NamedTuple):
    """Ask the attempt to stop cooperatively (its ``TaskContext`` reports cancellation)."""

    task_id: TaskId
    attempt: int

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class ForceCancel(NamedTuple):
    """Cancel the attempt through the backend (``grace`` ran out, or its timeout hit)."""

    task_id: TaskId
    attempt: int

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class Abandon(NamedTuple):
    """The attempt survived a forced cancellation: stop waiting for it (reported as stuck)."""

    task_id: TaskId
    attempt: int

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class Publish(NamedTuple):
    """Hand ``event`` to the subscribers listed in ``recipients`` (indices whose queue had room)."""

    event: Event
    recipients: tuple[int, ...]

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class AddReply(NamedTuple):
    """The reply to ``AddTasks``: ``rejection`` is None when the whole batch was accepted."""

    ticket: int
    rejection: RejectionKind | None = None
    name: str | None = None

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class RemoveReply(NamedTuple):
    """The reply to ``Remove``: ``claimed`` is True for the one request that claimed the task."""

    ticket: int
    claimed: bool
    task_id: TaskId | None

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class Finished(NamedTuple):
    """The task left the registry for good with ``outcome`` (reliable, rule 6)."""

    task_id: TaskId
    name: str
    outcome: TaskOutcome

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class ShutdownDone(NamedTuple):
    """Every task is gone. ``stuck`` names the tasks that had to be force-cancelled (sorted)."""

    stuck: tuple[str, ...]

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class Escalate(NamedTuple):
    """The core shut the supervisor down on its own: a critical task failed, or the
    supervisor's restart intensity was exceeded (docs/spec/api.md section 8, I10). Once every task
    is
    gone, ``run()``/``serve()`` raise the matching error.

    Attributes:
        rule: ``"critical task"`` or ``"restart intensity"``.
        name: the critical task's name.
        outcome: the critical task's outcome.
        max_restarts, within: the supervisor's intensity that was exceeded.
    """

    rule: str
    name: str | None
    outcome: TaskOutcome | None
    max_restarts: int | None
    within: float | None

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


class SubmitReply(NamedTuple):
    """The reply to ``Submit``: ``rejection`` is set when it was rejected at once."""

    ticket: int
    task_id: TaskId
    rejection: RejectionKind | None = None

    def __eq__(self, other: object) -> bool:
        return typed_eq(self, other)

    def __ne__(self, other: object) -> bool:
        return not typed_eq(self, other)

    def __hash__(self) -> int:
        return tuple.__hash__(self)


Effect = (
    StartAttempt
    | RequestCancel
    | ForceCancel
    | Abandon
    | Publish
    | AddReply
    | RemoveReply
    | Finished
    | ShutdownDone
    | SubmitReply
    | Escalate
)
