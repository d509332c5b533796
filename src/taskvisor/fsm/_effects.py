"""The effects of the supervisor machine: what a driver must carry out, in order.

Owns: the closed union of effect values (rule 3): named tuples, cheap to build on the hot
path, whose equality also compares the type (a ``ForceCancel`` never equals a
``RequestCancel``). Drivers execute them and never decide anything of their own (rule 5).
Must not import anything that does I/O.
"""

from __future__ import annotations

from typing import NamedTuple

from taskvisor.fsm._events import Event, RejectionKind, TaskId, TaskOutcome, typed
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


@typed
class StartAttempt(NamedTuple):
    """Start attempt ``attempt`` (1-based) of the task; its body is ``spec.task``."""

    task_id: TaskId
    name: str
    attempt: int
    spec: TaskSpec


@typed
class RequestCancel(NamedTuple):
    """Ask the attempt to stop cooperatively (its ``TaskContext`` reports cancellation)."""

    task_id: TaskId
    attempt: int


@typed
class ForceCancel(NamedTuple):
    """Cancel the attempt through the backend (``grace`` ran out, or its timeout hit)."""

    task_id: TaskId
    attempt: int


@typed
class Abandon(NamedTuple):
    """The attempt survived a forced cancellation: stop waiting for it (reported as stuck)."""

    task_id: TaskId
    attempt: int


@typed
class Publish(NamedTuple):
    """Hand ``event`` to the subscribers listed in ``recipients`` (indices whose queue had room)."""

    event: Event
    recipients: tuple[int, ...]


@typed
class AddReply(NamedTuple):
    """The reply to ``AddTasks``: ``rejection`` is None when the whole batch was accepted."""

    ticket: int
    rejection: RejectionKind | None = None
    name: str | None = None


@typed
class RemoveReply(NamedTuple):
    """The reply to ``Remove``: ``claimed`` is True for the one request that claimed the task."""

    ticket: int
    claimed: bool
    task_id: TaskId | None


@typed
class Finished(NamedTuple):
    """The task left the registry for good with ``outcome`` (reliable, rule 6)."""

    task_id: TaskId
    name: str
    outcome: TaskOutcome


@typed
class ShutdownDone(NamedTuple):
    """Every task is gone. ``stuck`` names the tasks that had to be force-cancelled (sorted)."""

    stuck: tuple[str, ...]


@typed
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


@typed
class SubmitReply(NamedTuple):
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
    | Escalate
)
