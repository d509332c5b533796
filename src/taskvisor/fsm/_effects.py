"""The effects of the supervisor machine: what a driver must carry out, in order.

Owns: the closed union of effect values (rule 3). Drivers execute them and never decide
anything of their own (rule 5). Must not import anything that does I/O.
"""

from __future__ import annotations

import attrs

from taskvisor.fsm._events import Event, RejectionKind, TaskId, TaskOutcome
from taskvisor.fsm._spec import TaskSpec

__all__ = [
    "Abandon",
    "AddReply",
    "Effect",
    "Finished",
    "ForceCancel",
    "Publish",
    "RemoveReply",
    "RequestCancel",
    "ShutdownDone",
    "StartAttempt",
    "SubmitReply",
]


@attrs.frozen
class StartAttempt:
    """Start attempt ``attempt`` (1-based) of the task; its body is ``spec.task``."""

    task_id: TaskId
    name: str
    attempt: int
    spec: TaskSpec


@attrs.frozen
class RequestCancel:
    """Ask the attempt to stop cooperatively (its ``TaskContext`` reports cancellation)."""

    task_id: TaskId
    attempt: int


@attrs.frozen
class ForceCancel:
    """Cancel the attempt through the backend (``grace`` ran out, or its timeout hit)."""

    task_id: TaskId
    attempt: int


@attrs.frozen
class Abandon:
    """The attempt survived a forced cancellation: stop waiting for it (reported as stuck)."""

    task_id: TaskId
    attempt: int


@attrs.frozen
class Publish:
    """Hand ``event`` to the subscribers listed in ``recipients`` (indices whose queue had room)."""

    event: Event
    recipients: tuple[int, ...]


@attrs.frozen
class AddReply:
    """The reply to ``AddTasks``: ``rejection`` is None when the whole batch was accepted."""

    ticket: int
    rejection: RejectionKind | None = None
    name: str | None = None


@attrs.frozen
class RemoveReply:
    """The reply to ``Remove``: ``claimed`` is True for the one request that claimed the task."""

    ticket: int
    claimed: bool
    task_id: TaskId | None


@attrs.frozen
class Finished:
    """The task left the registry for good with ``outcome`` (reliable, rule 6)."""

    task_id: TaskId
    name: str
    outcome: TaskOutcome


@attrs.frozen
class ShutdownDone:
    """Every task is gone. ``stuck`` names the tasks that had to be force-cancelled (sorted)."""

    stuck: tuple[str, ...]


@attrs.frozen
class SubmitReply:
    """The reply to ``Submit``: ``rejection`` is set when it was rejected at once."""

    ticket: int
    task_id: TaskId
    rejection: RejectionKind | None = None


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
)
