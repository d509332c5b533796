"""Run permits and restart lifecycles: ``SupervisorMachine`` as a user would subclass it.

This is how a user checks *their* policies against I1-I8: override ``core_configs`` and
``task_specs`` with their own strategies. Here: few permits (``max_concurrent`` 1-2), so tasks
queue for permits (FIFO, I3), and service-like specs — restartable and periodic tasks with
decorrelated or equal jitter, timeouts and small retry budgets — so backoff deadlines (I4),
timeouts and retry exhaustion come up in almost every run.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from taskvisor.fsm import (
    BackoffPolicy,
    CoreConfig,
    EndKind,
    JitterPolicy,
    SubscriberInfo,
    TaskDefaults,
    TaskFn,
    TaskSpec,
)
from taskvisor.testing import SupervisorMachine, strategies

NAMES = ("api", "cache", "mailer", "metrics", "poller", "worker")


async def _body(ctx: object) -> None:
    """The service's body (never run by the core)."""


_BACKOFFS = st.builds(
    BackoffPolicy,
    first=strategies.durations(0.5),
    max=st.just(2.0),
    factor=st.sampled_from((1.5, 2.0, 3.0)),
    jitter=st.sampled_from((JitterPolicy.DECORRELATED, JitterPolicy.EQUAL)),
    floor=st.one_of(st.just(0.0), strategies.durations(0.1)),
)
_TIMEOUTS = strategies.timeouts(1.0)
_RETRIES = st.one_of(st.none(), st.integers(1, 3))
_INTERVALS = strategies.durations(1.0, min_seconds=1e-9)  # periodic() refuses 0


@st.composite
def service_specs(draw: st.DrawFn) -> TaskSpec:
    """A user's service-like specs: restartable or periodic, with their own backoff."""
    name = draw(st.sampled_from(NAMES))
    task = TaskFn(name, _body)
    kw = {
        "backoff": draw(_BACKOFFS),
        "timeout": draw(_TIMEOUTS),
        "max_retries": draw(_RETRIES),
    }
    if draw(st.booleans()):
        return TaskSpec.restartable(task, **kw)
    return TaskSpec.periodic(task, draw(_INTERVALS), **kw)


class PermitsMachine(SupervisorMachine):
    """Few permits, many restarting services that mostly fail."""

    shutdown_after_steps = 35

    def end_kinds(self) -> st.SearchStrategy[EndKind]:
        return st.sampled_from((EndKind.FAILED,) * 8 + tuple(EndKind))

    def core_configs(self) -> st.SearchStrategy[CoreConfig]:
        return st.builds(
            lambda grace, force_wait, limit, subs: CoreConfig(
                grace,
                force_wait=force_wait,
                max_concurrent=limit,
                subscribers=subs,
                defaults=TaskDefaults(),
            ),
            st.one_of(st.just(0.0), strategies.durations(1.0)),
            strategies.durations(1.0),
            st.integers(1, 2),
            st.lists(st.builds(SubscriberInfo, st.just("log"), st.integers(1, 8)), max_size=1),
        )

    def task_specs(self) -> st.SearchStrategy[TaskSpec]:
        return service_specs()

    def task_names(self) -> st.SearchStrategy[str]:
        return st.sampled_from(NAMES)


TestPermitsMachine = PermitsMachine.TestCase
TestPermitsMachine.settings = settings(settings.default, stateful_step_count=50)
