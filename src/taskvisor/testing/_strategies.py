"""Hypothesis strategies for taskvisor's policies, specs, configurations and input scripts.

Owns: strategies that build valid public values (``BackoffPolicy``, ``RestartPolicy``,
``TaskSpec``, ``TaskDefaults``, ``ControllerSpec``, ``fsm.CoreConfig``) and ``input_scripts``,
sequences of core inputs for whole-run properties such as determinism (I8). Durations are drawn
as integer nanoseconds and shown as float seconds, so they shrink towards 0 and round-trip
exactly. Requires Hypothesis (an optional dependency of ``taskvisor.testing``); must not import
pytest or anything that does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import strategies as st

from taskvisor.fsm import (
    INHERIT,
    NS_PER_S,
    TICK,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    BackoffPolicy,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    EndKind,
    EventsConsumed,
    Input,
    Intensity,
    JitterPolicy,
    Remove,
    RestartPolicy,
    RetryBudget,
    Shutdown,
    Submit,
    SubscriberInfo,
    SubscriberPanicked,
    TaskDefaults,
    TaskFn,
    TaskId,
    TaskSpec,
)

__all__ = [
    "BUDGETS",
    "NAMES",
    "ScriptStep",
    "admission_policies",
    "backoff_policies",
    "controller_configs",
    "controller_specs",
    "core_configs",
    "durations",
    "end_kinds",
    "input_scripts",
    "jitter_policies",
    "max_retries",
    "restart_policies",
    "retry_afters",
    "retry_budgets",
    "subscriber_infos",
    "task_defaults",
    "task_names",
    "task_specs",
    "timeouts",
]

#: The default pool of task names: small, so that duplicates (I2) are drawn often.
NAMES = ("a", "b", "c", "d", "e")
#: The retry budgets ``core_configs`` configures and ``SupervisorMachine``'s specs may name.
BUDGETS = ("b0", "b1")

#: One step of an input script: advance virtual time by ``advance_ns``, then feed ``input``.
ScriptStep = tuple[int, Input]


async def _body(ctx: Any) -> None:
    """The body of every generated task; the core never runs it (it only carries it)."""


def durations(max_seconds: float = 2.0, *, min_seconds: float = 0.0) -> st.SearchStrategy[float]:
    """Float seconds in ``[min_seconds, max_seconds]``, drawn as whole nanoseconds."""
    low = round(min_seconds * NS_PER_S)
    high = round(max_seconds * NS_PER_S)
    return st.integers(low, high).map(lambda ns: ns / NS_PER_S)


def jitter_policies() -> st.SearchStrategy[JitterPolicy]:
    """Every ``JitterPolicy``."""
    return st.sampled_from(JitterPolicy)


@st.composite
def _backoff(
    draw: st.DrawFn,
    bounds: st.SearchStrategy[int],
    factors: st.SearchStrategy[float],
    floors: st.SearchStrategy[float],
) -> BackoffPolicy:
    a, b = sorted((draw(bounds), draw(bounds)))
    return BackoffPolicy(
        first=a / NS_PER_S,
        max=b / NS_PER_S,
        factor=draw(factors),
        jitter=draw(jitter_policies()),
        floor=draw(floors),
    )


def backoff_policies(max_delay: float = 2.0) -> st.SearchStrategy[BackoffPolicy]:
    """Valid ``BackoffPolicy`` values with every delay at most ``max_delay`` seconds.

    Mixes the named constructors (``constant``, including ``constant(0)``, and
    ``exponential``) with fully general policies (any jitter, a floor, any factor in [1, 4]).
    """
    return st.one_of(
        st.just(BackoffPolicy.constant(0)),
        durations(max_delay).map(BackoffPolicy.constant),
        st.builds(
            lambda first, factor: BackoffPolicy.exponential(first, factor, max=max_delay),
            durations(max_delay),
            st.floats(1.0, 3.0),
        ),
        _backoff(
            st.integers(0, round(max_delay * NS_PER_S)),
            st.one_of(st.just(2.0), st.floats(1.0, 4.0)),
            st.one_of(st.just(0.0), durations(max_delay / 2)),
        ),
    )


def restart_policies(max_interval: float = 2.0) -> st.SearchStrategy[RestartPolicy]:
    """``NEVER``, ``ON_FAILURE`` and ``always(interval, jitter)`` (interval None or up to the
    bound; jitter 0, 1 or between)."""
    return st.one_of(
        st.just(RestartPolicy.NEVER),
        st.just(RestartPolicy.ON_FAILURE),
        st.just(RestartPolicy.always()),
        durations(max_interval).map(RestartPolicy.always),
        st.builds(
            RestartPolicy.always,
            durations(max_interval),
            st.one_of(st.sampled_from((0.0, 0.5, 1.0)), st.floats(0.0, 1.0)),
        ),
    )


def retry_budgets() -> st.SearchStrategy[RetryBudget]:
    """Small shared retry budgets: 1-3 tokens, refilled 0.05 to 10 per second, so that
    restarts a second or two apart often find none and wait."""
    rates = st.one_of(st.sampled_from((0.25, 0.5, 1, 3)), st.floats(0.05, 10.0))
    return st.builds(RetryBudget, rates, st.integers(1, 3))


def retry_afters(max_seconds: float = 3.0) -> st.SearchStrategy[int | None]:
    """A failure's ``Retry-After`` in integer ns (``AttemptEnded.retry_after_ns``), or None
    (three times in four: a plain failure)."""
    after = st.one_of(st.just(0), st.integers(0, round(max_seconds * NS_PER_S)))
    return st.tuples(st.integers(0, 3), after).map(lambda p: p[1] if p[0] == 3 else None)


def timeouts(max_seconds: float = 2.0) -> st.SearchStrategy[float | None]:
    """An attempt timeout: ``None`` or a positive duration (at least 1 ns)."""
    return st.one_of(st.none(), durations(max_seconds, min_seconds=1 / NS_PER_S))


def max_retries(limit: int = 4) -> st.SearchStrategy[int | None]:
    """``None`` (unlimited) or a retry budget in ``[1, limit]``."""
    return st.one_of(st.none(), st.integers(1, limit))


def task_names(names: Sequence[str] = NAMES) -> st.SearchStrategy[str]:
    """Names from a small pool, so that clashes are common."""
    return st.sampled_from(tuple(names))


def _inherit_or(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(INHERIT), strategy)


@st.composite
def _task_spec(
    draw: st.DrawFn,
    names: st.SearchStrategy[str],
    fields: tuple[st.SearchStrategy[Any], ...],
) -> TaskSpec:
    name = draw(names)
    restart, backoff, timeout, retries, budget, start_jitter = (draw(field) for field in fields)
    return TaskSpec(
        TaskFn(name, _body),
        restart=restart,
        backoff=backoff,
        timeout=timeout,
        max_retries=retries,
        **draw(crash_loop_controls()),
        retry_budget=budget,
        start_jitter=start_jitter,
    )


def intensities(max_restarts: int = 3, max_within: float = 5.0) -> st.SearchStrategy[Intensity]:
    """``Intensity`` values with small windows, so a short run can fill one."""
    return st.builds(
        Intensity, st.integers(0, max_restarts), durations(max_within, min_seconds=0.001)
    )


@st.composite
def crash_loop_controls(draw: st.DrawFn) -> dict[str, Any]:
    """Keywords of ``TaskSpec`` for the controls of docs/spec/api.md section 8 (often left out).

    Small durations so the stateful machines reach every rule within a few seconds of
    virtual time: a healthy-run reset, a full intensity window, a give-up age, a watchdog.
    """
    kw: dict[str, Any] = {}
    if draw(st.booleans()):
        kw["reset_after"] = draw(st.one_of(st.none(), durations(3.0, min_seconds=0.001)))
    if draw(st.booleans()):
        kw["intensity"] = draw(st.one_of(st.none(), intensities()))
    if draw(st.booleans()):
        kw["give_up_after"] = draw(st.one_of(st.none(), durations(5.0, min_seconds=0.001)))
    if draw(st.booleans()):
        kw["watchdog"] = draw(st.one_of(st.none(), durations(2.0, min_seconds=0.001)))
    if draw(st.booleans()):
        kw["retry_on"] = draw(st.sampled_from([(Exception,), (ConnectionError,)]))
    kw["critical"] = draw(st.integers(0, 9)) == 0
    return kw


def task_specs(
    names: st.SearchStrategy[str] | None = None,
    *,
    backoffs: st.SearchStrategy[BackoffPolicy] | None = None,
    restarts: st.SearchStrategy[RestartPolicy] | None = None,
    inherit: bool = True,
    budgets: Sequence[str] = (),
    start_jitters: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[TaskSpec]:
    """``TaskSpec`` values whose fields are drawn (or left to ``INHERIT`` when ``inherit``).

    The task is a ``TaskFn`` with a no-op body: the core never runs it. Pass your own
    ``backoffs``/``restarts`` to check your policies against the invariants. ``budgets``: the
    retry budgets a spec may name (they must be in the configuration: ``core_configs`` has
    ``BUDGETS``); ``start_jitters``: default 0 or up to 1 s.
    """
    fields: tuple[st.SearchStrategy[Any], ...] = (
        restart_policies() if restarts is None else restarts,
        backoff_policies() if backoffs is None else backoffs,
        timeouts(),
        max_retries(),
    )
    if inherit:
        fields = tuple(_inherit_or(field) for field in fields)
    shaping = (
        st.sampled_from((None, *budgets)),
        st.one_of(st.just(0.0), durations(1.0)) if start_jitters is None else start_jitters,
    )
    return _task_spec(task_names() if names is None else names, fields + shaping)


def task_defaults() -> st.SearchStrategy[TaskDefaults]:
    """Supervisor-wide ``TaskDefaults`` (what ``INHERIT`` fields take)."""
    return st.builds(
        TaskDefaults,
        restart=restart_policies(),
        backoff=backoff_policies(),
        timeout=timeouts(),
        max_retries=max_retries(),
    )


def admission_policies() -> st.SearchStrategy[AdmissionPolicy]:
    """Every ``AdmissionPolicy``."""
    return st.sampled_from(AdmissionPolicy)


def controller_configs(max_slot_queue: int = 3) -> st.SearchStrategy[ControllerConfig]:
    """Controllers with small slot queues, so that ``QUEUE_FULL`` is reachable."""
    return st.builds(ControllerConfig, max_slot_queue=st.integers(1, max_slot_queue))


def controller_specs(
    specs: st.SearchStrategy[TaskSpec] | None = None,
    slots: st.SearchStrategy[str | None] | None = None,
) -> st.SearchStrategy[ControllerSpec]:
    """``ControllerSpec`` values: a spec, an admission policy, and a slot (None: the name)."""
    return st.builds(
        ControllerSpec,
        task_spec=task_specs() if specs is None else specs,
        admission=admission_policies(),
        slot=st.one_of(st.none(), st.sampled_from(("s0", "s1"))) if slots is None else slots,
    )


def subscriber_infos(max_capacity: int = 4) -> st.SearchStrategy[SubscriberInfo]:
    """A subscriber as the core sees it: a name and a small queue capacity."""
    return st.builds(
        SubscriberInfo, name=st.sampled_from(("p", "q", "r")), capacity=st.integers(1, max_capacity)
    )


@st.composite
def _core_config(
    draw: st.DrawFn,
    max_subscribers: int,
    controller: bool | None,
    max_grace: float,
    defaults: st.SearchStrategy[TaskDefaults],
    budgets: Sequence[str],
    seeded: bool | None,
) -> CoreConfig:
    with_controller = draw(st.booleans()) if controller is None else controller
    with_seed = draw(st.booleans()) if seeded is None else seeded
    return CoreConfig(
        draw(st.one_of(st.just(0.0), durations(max_grace))),
        force_wait=draw(durations(max_grace)),
        max_concurrent=draw(st.one_of(st.none(), st.integers(1, 3))),
        subscribers=draw(st.lists(subscriber_infos(), max_size=max_subscribers)),
        defaults=draw(defaults),
        controller=draw(controller_configs()) if with_controller else None,
        intensity=draw(st.one_of(st.none(), intensities())),
        retry_budgets={name: draw(retry_budgets()) for name in budgets},
        seed=draw(st.integers(0, 2**64)) if with_seed else None,
    )


def core_configs(
    *,
    max_subscribers: int = 3,
    controller: bool | None = None,
    max_grace: float = 2.0,
    defaults: st.SearchStrategy[TaskDefaults] | None = None,
    budgets: Sequence[str] = BUDGETS,
    seeded: bool | None = None,
) -> st.SearchStrategy[CoreConfig]:
    """``fsm.CoreConfig`` values: grace (including 0), force-wait, ``max_concurrent`` (including
    None), 0 to ``max_subscribers`` small subscriber queues, defaults, a controller (always,
    never, or drawn when ``controller`` is None), a small retry budget for each name in
    ``budgets``, and a seed for per-task random streams (always, never, or drawn when
    ``seeded`` is None)."""
    return _core_config(
        max_subscribers,
        controller,
        max_grace,
        task_defaults() if defaults is None else defaults,
        budgets,
        seeded,
    )


def end_kinds() -> st.SearchStrategy[EndKind]:
    """Every way an attempt can end."""
    return st.sampled_from(EndKind)


@st.composite
def _script(
    draw: st.DrawFn,
    config: CoreConfig,
    max_steps: int,
    specs: st.SearchStrategy[TaskSpec],
) -> list[ScriptStep]:
    next_id = 1
    ticket = 0
    ids: list[TaskId] = []
    script: list[ScriptStep] = []

    def fresh() -> TaskId:
        nonlocal next_id
        next_id += 1
        ids.append(TaskId(next_id - 1))
        return ids[-1]

    def new_ticket() -> int:
        nonlocal ticket
        ticket += 1
        return ticket

    def known() -> TaskId:
        return draw(st.sampled_from(ids)) if ids else TaskId(0)

    builders: list[Callable[[], Input]] = [
        lambda: AddTasks(
            new_ticket(),
            tuple((fresh(), spec) for spec in draw(st.lists(specs, min_size=1, max_size=3))),
        ),
        lambda: AttemptEnded(
            known(),
            draw(st.integers(1, 3)),
            draw(end_kinds()),
            "x",
            retry_after_ns=draw(retry_afters()),
        ),
        lambda: Remove(new_ticket(), task_id=known()),
        lambda: Remove(new_ticket(), name=draw(task_names())),
        lambda: Shutdown(),
    ]
    if config.subscribers:
        n = len(config.subscribers)
        builders.append(
            lambda: EventsConsumed(draw(st.integers(0, n - 1)), draw(st.integers(0, 4)))
        )
        builders.append(lambda: SubscriberPanicked(draw(st.integers(0, n - 1)), "boom"))
    if config.controller is not None:
        builders.append(lambda: Submit(new_ticket(), fresh(), draw(controller_specs(specs=specs))))
    for _ in range(draw(st.integers(0, max_steps))):
        advance = draw(st.one_of(st.just(0), st.integers(0, 3 * NS_PER_S)))
        index = draw(st.integers(0, len(builders)))  # len(builders): a bare Tick
        script.append((advance, TICK if index == len(builders) else builders[index]()))
    return script


def input_scripts(
    config: CoreConfig,
    *,
    max_steps: int = 30,
    specs: st.SearchStrategy[TaskSpec] | None = None,
) -> st.SearchStrategy[list[ScriptStep]]:
    """Scripts of ``(advance_ns, input)`` steps for ``config``, with fresh ``TaskId``s.

    ``AttemptEnded`` names known ids with small attempt numbers: the core takes the ones that
    match a running attempt and ignores the rest as stale, as the runtime contract allows.
    ``EventsConsumed`` counts may exceed a queue's depth: ``CheckedCore.play`` clamps them, as a
    runtime only reports events a subscriber really took. Play them with ``CheckedCore.play``.
    """
    return _script(config, max_steps, task_specs() if specs is None else specs)
