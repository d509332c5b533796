"""Admission control under random inputs: ``SupervisorMachine`` with a controller, always.

Bursts of submissions into few slots fill the slot queues (``QUEUE_FULL``), REPLACE lands on
queued and terminating slots, queued submissions are removed by id and by name, and owners end
quickly (``once`` and ``restartable`` specs), so queues drain and names are reused. Every step
is checked by ``CheckedCore``'s slot model (I6: one owner, FIFO, start only after the owner is
gone) on top of the core's own checks.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import multiple, precondition, rule

from taskvisor.fsm import (
    ControllerSpec,
    CoreConfig,
    Remove,
    RestartPolicy,
    Submit,
    TaskId,
    TaskSpec,
)
from taskvisor.testing import SupervisorMachine, strategies

SLOTS = ("s0", "s1")


def _queued(machine: SlotsMachine) -> list[TaskId]:
    core = machine._core
    if core is None:
        return []
    return sorted(tid for slot in core.state.slots.values() for tid in _ids(slot.queue))


def _ids(queue: tuple[object, ...]) -> list[TaskId]:
    return [sub.task_id for sub in queue]  # type: ignore[attr-defined]


class SlotsMachine(SupervisorMachine):
    """Slots, slots, slots: a controller in every run and a few extra rules for its queues."""

    shutdown_after_steps = 30

    def core_configs(self) -> st.SearchStrategy[CoreConfig]:
        return strategies.core_configs(controller=True, max_subscribers=1)

    def task_specs(self) -> st.SearchStrategy[TaskSpec]:
        restarts = st.sampled_from((RestartPolicy.NEVER, RestartPolicy.ON_FAILURE))
        return strategies.task_specs(self.task_names(), restarts=restarts, inherit=False)

    @precondition(lambda self: self._core is not None)
    @rule(
        target=SupervisorMachine.task_ids,
        data=st.data(),
        slot=st.sampled_from(SLOTS),
        size=st.integers(2, 4),
    )
    def submit_burst(self, data: st.DataObject, slot: str, size: int) -> object:
        """Several submissions into one slot in a row (fills its queue; REPLACE meets a queue)."""
        core = self.core
        tids = []
        for _ in range(size):
            spec = data.draw(self._strategy("task_specs"), label="spec")
            admission = data.draw(self._strategy("admission_policies"), label="admission")
            tid = core.new_id()
            core.feed(Submit(core.ticket(), tid, ControllerSpec(spec, admission, slot)))
            tids.append(tid)
        return multiple(*tids)

    @precondition(lambda self: bool(_queued(self)))
    @rule(data=st.data(), by_name=st.booleans())
    def remove_queued(self, data: st.DataObject, by_name: bool) -> None:
        """Remove a submission that waits in a slot's queue, by id or by name."""
        core = self.core
        queued = _queued(self)
        tid = queued[data.draw(st.integers(0, len(queued) - 1), label="queued")]
        if by_name:
            core.feed(Remove(core.ticket(), name=core.specs[tid].name))
        else:
            core.feed(Remove(core.ticket(), task_id=tid))


TestSlotsMachine = SlotsMachine.TestCase
TestSlotsMachine.settings = settings(settings.default, stateful_step_count=50)
