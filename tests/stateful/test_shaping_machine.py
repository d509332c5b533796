"""Retry shaping under random inputs: ``SupervisorMachine`` subclassed for budgets and streams.

Every task shares one of two tight retry budgets (1-2 tokens, refilled slowly), fails most of
its attempts, sometimes with a ``Retry-After``, starts after a start jitter and restarts with a
jittered ``always`` interval. So restarts queue for tokens in nearly every run, and the test
kit's shaping model (``taskvisor.testing._shaping_model``) checks after every step: each restart
after a failure takes its token when its deadline passes, in deadline order, at once only if a
whole token was there, else exactly when its token arrives (I9); Retry-After, start and interval
jitter delays; with a seed, every draw from the task's own stream (I8); and every decision.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from taskvisor.fsm import (
    BackoffPolicy,
    CoreConfig,
    EndKind,
    JitterPolicy,
    RestartPolicy,
    RetryBudget,
    TaskDefaults,
    TaskFn,
    TaskSpec,
)
from taskvisor.testing import SupervisorMachine, strategies


async def _body(ctx: object) -> None:
    """Never run by the core."""


_POLICIES = st.builds(
    BackoffPolicy,
    first=strategies.durations(0.5),
    max=st.just(1.0),
    jitter=st.sampled_from(tuple(JitterPolicy)),
    floor=st.one_of(st.just(0.0), strategies.durations(0.1)),
)


@st.composite
def shaped_specs(draw: st.DrawFn) -> TaskSpec:
    name = draw(st.sampled_from(("a", "b", "c", "d")))
    restart = draw(
        st.one_of(
            st.just(RestartPolicy.ON_FAILURE),
            st.builds(RestartPolicy.always, strategies.durations(1.0), st.floats(0.0, 1.0)),
        )
    )
    return TaskSpec(
        TaskFn(name, _body),
        restart=restart,
        backoff=draw(_POLICIES),
        max_retries=draw(st.one_of(st.none(), st.integers(2, 5))),
        retry_budget=draw(st.sampled_from(("b0", "b0", "b1"))),
        start_jitter=draw(st.one_of(st.just(0.0), strategies.durations(1.0))),
    )


class ShapingMachine(SupervisorMachine):
    def core_configs(self) -> st.SearchStrategy[CoreConfig]:
        tight = st.builds(RetryBudget, st.sampled_from((0.2, 0.5, 1.0)), st.integers(1, 2))
        return st.builds(
            lambda b0, b1, seed, limit: CoreConfig(
                1.0,
                force_wait=0.5,
                max_concurrent=limit,
                defaults=TaskDefaults(),
                retry_budgets={"b0": b0, "b1": b1},
                seed=seed,
            ),
            tight,
            tight,
            st.one_of(st.none(), st.integers(0, 2**32)),
            st.one_of(st.none(), st.just(2)),
        )

    def task_specs(self) -> st.SearchStrategy[TaskSpec]:
        return shaped_specs()

    def end_kinds(self) -> st.SearchStrategy[EndKind]:
        return st.sampled_from((EndKind.FAILED,) * 6 + (EndKind.RETURNED, EndKind.FATAL))


TestShapingMachine = ShapingMachine.TestCase
TestShapingMachine.settings = settings(settings.default, stateful_step_count=60)
