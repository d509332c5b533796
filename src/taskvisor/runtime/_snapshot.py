"""What ``h.snapshot()`` reports: every live task's status, read from the core's state.

Owns: ``TaskStatus``, ``TaskSnapshot`` and ``task_snapshots``, which copies out of the core's
live state at the boundary (architecture rule 3: nothing outside the core keeps a reference
into it). No round trip through the command queue: a health endpoint can call it every second
(``benchmarks/bench_snapshot.py`` measures it at 10^2, 10^4 and 10^5 tasks). Decides nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, NamedTuple

from taskvisor.fsm import NS_PER_S, Phase, SupervisorState, TaskId

__all__ = ["TaskSnapshot", "TaskStatus", "task_snapshots"]


class TaskStatus(enum.Enum):
    """Where a live task stands (docs/spec/api.md section 9)."""

    WAITING = "waiting"  # for a run permit (max_concurrent)
    STARTING = "starting"  # its attempt was started; the body has not begun yet
    RUNNING = "running"  # its attempt's body runs
    BACKOFF = "backoff"  # between attempts, until next_start
    STOPPING = "stopping"  # asked (or forced) to stop; waiting for the attempt to end


class TaskSnapshot(NamedTuple):
    """One live task, as ``h.snapshot()`` reports it.

    Attributes:
        task_id: its id.
        name: its name.
        status: where it stands.
        attempt: attempts started so far (1-based; 0 before the first).
        streak: failures in a row so far (0 when healthy).
        last_failure: the latest failure's reason, until a success (None when healthy).
        next_start: when a task in BACKOFF restarts, in the supervisor's clock (seconds).
        restarts_in_window: restarts after failures within its intensity window (None
            without a ``TaskSpec(intensity=...)``).
    """

    task_id: TaskId
    name: str
    status: TaskStatus
    attempt: int
    streak: int
    last_failure: str | None
    next_start: float | None
    restarts_in_window: int | None = None


_STATUS = {
    id(Phase.WAITING): TaskStatus.WAITING,
    id(Phase.RUNNING): TaskStatus.RUNNING,
    id(Phase.BACKOFF): TaskStatus.BACKOFF,
    id(Phase.STOPPING): TaskStatus.STOPPING,
}


def task_snapshots(
    state: SupervisorState, now: int, attempts: Mapping[TaskId, Any]
) -> tuple[TaskSnapshot, ...]:
    """Every live task, sorted by id, copied out of ``state`` at time ``now`` (ns).

    ``attempts`` are the driver's attempt records by task: a RUNNING task whose record has
    not ``started`` is still STARTING.
    """
    out = []
    new = tuple.__new__
    for t in sorted(state.tasks.values(), key=_by_id):
        status = _STATUS[id(t.phase)]
        if status is TaskStatus.RUNNING:
            rec = attempts.get(t.id)
            if rec is not None and not rec.started:
                status = TaskStatus.STARTING
        next_start = None
        if status is TaskStatus.BACKOFF and t.deadline is not None:
            next_start = t.deadline / NS_PER_S
        window = None
        intensity = t.policy.intensity
        if intensity is not None:
            within = intensity.within_ns
            window = sum(1 for r in t.restarts or () if now - r < within)
        out.append(
            new(
                TaskSnapshot,
                (
                    t.id,
                    t.name,
                    status,
                    t.attempt,
                    t.streak.failures,
                    t.last_failure,
                    next_start,
                    window,
                ),
            )
        )
    return tuple(out)


def _by_id(t: Any) -> int:
    return int(t.id.value)
