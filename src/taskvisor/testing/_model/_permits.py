"""The run-permit part of the contract model (I3; docs/spec/api.md section 2, ``max_concurrent``).

Owns: ``PermitModel``: the tasks waiting for a run permit, in the order they began to wait. It
checks that attempts in flight never exceed ``max_concurrent``, that permits go out in FIFO
order (a task starts only when nobody has waited longer), and that nobody waits while a permit
is free. Plain Python, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from taskvisor.fsm import Finished, Phase, StartAttempt, SupervisorState, TaskId
from taskvisor.testing._model._common import StepRecord, fail

if TYPE_CHECKING:
    from taskvisor.testing._model._contract import ContractModel

__all__ = ["PermitModel"]


class PermitModel:
    """Run permits: who waits, in which order.

    Attributes:
        waiting: tasks waiting for a permit, in the order they began to wait.
    """

    def __init__(self, model: ContractModel) -> None:
        self.m = model
        self.waiting: list[TaskId] = []

    def attempt_started(self, s: StepRecord, eff: StartAttempt) -> None:
        """I3: the task that waited longest starts first, within ``max_concurrent``."""
        tid = eff.task_id
        pending = [w for w in self.waiting if w not in s.handled]
        if pending and pending[0] != tid:
            fail("I3", f"{tid!r} started while {pending[0]!r} waits longer for a permit")
        s.handled.add(tid)
        limit = self.m.config.max_concurrent
        in_flight = self.m.restarts.in_flight
        if limit is not None and len(in_flight) > limit:
            fail("I3", f"{len(in_flight)} attempts in flight, max_concurrent={limit}")

    def finished(self, s: StepRecord, eff: Finished) -> None:
        tid = eff.task_id
        s.handled.add(tid)
        if tid in self.waiting:
            self.waiting.remove(tid)

    def check(self, after: SupervisorState) -> None:
        """I3: newly waiting tasks queue behind those already waiting; no permit sits idle."""
        tasks = after.tasks
        waiting = [
            tid
            for tid in self.waiting
            if (t := tasks.get(tid)) is not None and t.phase is Phase.WAITING
        ]
        new = sorted(
            (t for t in tasks.values() if t.phase is Phase.WAITING and t.id not in waiting),
            key=lambda t: t.wait_token or 0,
        )
        self.waiting = waiting + [t.id for t in new]
        limit = self.m.config.max_concurrent
        if self.waiting and (limit is None or after.running < limit):
            fail("I3", f"{self.waiting[0]!r} waits while {after.running}/{limit} permits held")
