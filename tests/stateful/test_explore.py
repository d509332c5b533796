"""``taskvisor.testing.explore``: the small scopes hold every check; planted bugs are found.

Each scope of ``scopes.SCOPES`` is explored exhaustively to its depth under every check
(``CheckedCore``, deadlines, liveness). Each bug of ``planted`` is then planted and must be
found with its shortest counterexample, whose script replays the failure through the core
(and passes once the bug is gone). docs/model-checking.md shows the figures.
"""

from __future__ import annotations

import contextlib
import io
import math
import random

import pytest
from planted import (
    BACKOFF_1NS_EARLY,
    INTENSITY_ONE_TOO_MANY,
    ONE_RETRY_SHORT,
    PERMITS_NEWEST_FIRST,
    REMOVAL_IN_BACKOFF_IGNORED,
    RESET_NEEDS_TWICE,
    RETRY_AFTER_CAPPED,
    RETRY_AFTER_SKIPS_BUDGET,
    SHUTDOWN_OF_NOTHING_HANGS,
    SLOT_FREED_ON_REPLY,
    TOKEN_1NS_EARLY,
    PlantedBug,
    plant,
)
from scopes import (
    CALLER,
    HEALER,
    JITTERED_POLLER,
    ONCE_A,
    ONCE_B,
    ONCE_C,
    SCOPES,
    SERVICE,
    SHAPING,
    Scope,
    fn,
)

from taskvisor.fsm import (
    AddTasks,
    BackoffPolicy,
    ControllerConfig,
    CoreConfig,
    Intensity,
    InvariantViolation,
    JitterPolicy,
    TaskSpec,
)
from taskvisor.runtime import SupervisorConfig
from taskvisor.testing import Exploration, Violation, explore

GRACE = CoreConfig(1.0, force_wait=0.5)
#: At most one restart after failures within any 10 s.
FLAKY = TaskSpec.restartable(
    fn("flaky"), backoff=BackoffPolicy.constant(1.0), intensity=Intensity(1, 10.0)
)
#: Retry shaping: a shared budget, failures with a Retry-After of 0 or 3 s.
SHAPED = {"specs": (CALLER, JITTERED_POLLER), "config": SHAPING, "retry_afters": (0.0, 3.0)}
#: The scope each planted bug is explored in, the property it breaks, and the length of the
#: shortest input sequence that shows it (BFS: nothing shorter exists).
CASES = [
    (SLOT_FREED_ON_REPLY, {"specs": (ONCE_A, ONCE_B), "config": GRACE,
                           "controller": ControllerConfig(max_slot_queue=1), "slots": ("s",)},
     "I6", 2),
    (BACKOFF_1NS_EARLY, {"specs": (SERVICE,), "config": GRACE}, "I4", 2),
    (ONE_RETRY_SHORT, {"specs": (SERVICE,), "config": GRACE}, "I4", 2),
    (PERMITS_NEWEST_FIRST, {"specs": (ONCE_A, ONCE_B, ONCE_C),
                            "config": CoreConfig(1.0, force_wait=0.5, max_concurrent=1)}, "I3", 2),
    (INTENSITY_ONE_TOO_MANY, {"specs": (FLAKY,), "config": GRACE}, "I1", 4),
    (RESET_NEEDS_TWICE, {"specs": (HEALER,), "config": GRACE, "jumps": (5.0,)}, "I4", 5),
    (SHUTDOWN_OF_NOTHING_HANGS, {"specs": (SERVICE,), "config": GRACE}, "liveness:shutdown", 1),
    (REMOVAL_IN_BACKOFF_IGNORED, {"specs": (SERVICE,), "config": GRACE}, "liveness:task-end", 5),
    (TOKEN_1NS_EARLY, SHAPED, "I9", 5),
    (RETRY_AFTER_CAPPED, SHAPED, "I4", 3),
    (RETRY_AFTER_SKIPS_BUDGET, SHAPED, "I9", 3),
]  # fmt: skip


def replay(violation: Violation) -> None:
    """Run the violation's script (its output swallowed); raises where it fails."""
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(violation.script, "<counterexample>", "exec"), {"__name__": "__main__"})


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.name)
def test_every_input_sequence_of_the_scope_keeps_every_check(scope: Scope) -> None:
    result = explore(depth=scope.depth, **scope.kwargs())
    assert result.violations == (), result.violations[0].script
    assert result.depth == scope.depth
    assert result.states == sum(result.levels)
    assert all(n > 0 for n in result.levels)
    assert result.transitions > result.states  # states are reached by more than one path


@pytest.mark.parametrize(
    ("bug", "kwargs", "invariant", "length"), CASES, ids=[case[0].name for case in CASES]
)
def test_a_planted_bug_is_found_with_its_shortest_counterexample(
    bug: PlantedBug, kwargs: dict[str, object], invariant: str, length: int
) -> None:
    with plant(bug):
        found = explore(depth=6, **kwargs)  # type: ignore[arg-type]
        assert [v.invariant for v in found.violations] == [invariant]
        violation = found.violations[0]
        assert len(violation.steps) == length
        with pytest.raises((InvariantViolation, AssertionError)):
            replay(violation)
    replay(violation)  # the same inputs keep every check once the bug is gone


@pytest.mark.parametrize(
    ("bug", "kwargs", "invariant", "length"),
    [case for case in CASES if not case[2].startswith("liveness")],
    ids=[case[0].name for case in CASES if not case[2].startswith("liveness")],
)
def test_no_shorter_counterexample_exists(
    bug: PlantedBug, kwargs: dict[str, object], invariant: str, length: int
) -> None:
    with plant(bug):
        shorter = explore(depth=length - 1, **kwargs)  # type: ignore[arg-type]
    assert shorter.violations == ()
    assert shorter.depth == length - 1


def test_the_contract_model_finds_what_the_cores_own_checks_cannot() -> None:
    with plant(ONE_RETRY_SHORT):
        core_only = explore((SERVICE,), depth=4, config=GRACE, contract=False)
        checked = explore((SERVICE,), depth=4, config=GRACE)
    assert core_only.violations == ()
    assert [v.invariant for v in checked.violations] == ["I4"]


def test_a_deadline_left_in_the_past_is_an_i4_violation_even_without_the_contract_model() -> None:
    # Zero backoff: the 1 ns early deadline lies before the step's own time.
    spec = TaskSpec.restartable(fn("z"), backoff=BackoffPolicy.constant(0.0))
    with plant(BACKOFF_1NS_EARLY):
        found = explore((spec,), depth=3, config=GRACE, contract=False, liveness=False)
    (violation,) = found.violations
    assert violation.invariant == "I4"
    assert "deadline is due at -1" in violation.message
    assert len(violation.steps) == 2


@pytest.mark.parametrize("value", [math.nextafter(1.0, 0.0), 0.5, 0.0])
def test_each_boundary_draw_is_tried(value: float) -> None:
    # A bug that only one draw value reaches: that draw pushes the delay out of its range.
    bug = PlantedBug(
        f"jitter wrong at u={value}",
        "taskvisor.fsm._supervisor:_Txn.failure",
        "        delay, streak, decision = failure_pause(backoff, streak, u, retry_after)\n",
        "        delay, streak, decision = failure_pause(backoff, streak, u, retry_after)\n"
        f"        delay += 10**12 if u == {value!r} else 0\n",
    )
    spec = TaskSpec.restartable(fn("j"), backoff=BackoffPolicy(first=1.0, jitter=JitterPolicy.FULL))
    with plant(bug):
        found = explore((spec,), depth=3, config=GRACE)
    (violation,) = found.violations
    assert violation.invariant == "I4"
    assert violation.steps[-1][2] == (value,)  # the step drew exactly that value


def test_exploring_is_deterministic() -> None:
    scope = SCOPES[1]
    first = explore(depth=3, **scope.kwargs())
    second = explore(depth=3, **scope.kwargs())
    assert (first.states, first.transitions, first.levels) == (
        second.states,
        second.transitions,
        second.levels,
    )
    with plant(SLOT_FREED_ON_REPLY):
        scripts = [explore(depth=3, **scope.kwargs()).violations[0].script for _ in range(2)]
    assert scripts[0] == scripts[1]


def test_a_time_limit_stops_at_a_completed_depth() -> None:
    result = explore((SERVICE, ONCE_A), depth=40, config=GRACE, max_seconds=0.5)
    assert 1 <= result.depth < 40
    assert len(result.levels) >= result.depth + 1
    assert result.violations == ()


def test_max_violations_collects_distinct_properties() -> None:
    config = CoreConfig(1.0, force_wait=0.5, max_concurrent=1)
    with plant(PERMITS_NEWEST_FIRST), plant(ONE_RETRY_SHORT):
        found = explore((SERVICE, ONCE_B, ONCE_C), depth=3, config=config, max_violations=5)
    assert sorted((v.invariant, len(v.steps)) for v in found.violations) == [("I3", 2), ("I4", 2)]


def test_the_summary_and_the_violation_say_what_was_found() -> None:
    with plant(PERMITS_NEWEST_FIRST):
        found = explore((ONCE_A, ONCE_B, ONCE_C), depth=3, config=CASES[3][1]["config"])  # type: ignore[arg-type]
    assert isinstance(found, Exploration)
    assert "1 violation(s), first: I3 after 2 inputs" in found.summary()
    violation = found.violations[0]
    assert str(violation).startswith("I3 after 2 inputs: I3: ")
    assert isinstance(violation.steps[0][1], AddTasks)
    assert "CheckedCore(config, draws)" in violation.script


def test_a_supervisor_config_and_a_separate_controller_are_accepted() -> None:
    sup = explore((ONCE_A,), depth=2, config=SupervisorConfig(grace=1.0, max_concurrent=1))
    assert sup.violations == ()
    with_controller = explore(
        (ONCE_A,), depth=2, config=GRACE, controller=ControllerConfig(max_slot_queue=1)
    )
    assert with_controller.transitions > sup.transitions  # submissions were explored too


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"specs": (), "depth": 1}, TypeError, "non-empty sequence of TaskSpec"),
        ({"specs": ("job",), "depth": 1}, TypeError, "TaskSpec"),
        ({"specs": (ONCE_A,), "depth": -1}, ValueError, "explore.depth"),
        ({"specs": (ONCE_A,), "depth": True}, ValueError, "explore.depth"),
        ({"specs": (ONCE_A,), "depth": 1, "max_violations": 0}, ValueError, "max_violations"),
        ({"specs": (ONCE_A,), "depth": 1, "config": "fast"}, TypeError, "CoreConfig"),
        (
            {
                "specs": (ONCE_A,),
                "depth": 1,
                "config": CoreConfig(controller=ControllerConfig(max_slot_queue=2)),
                "controller": ControllerConfig(max_slot_queue=1),
            },
            ValueError,
            "explore.controller",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        explore(**kwargs)  # type: ignore[arg-type]


def test_states_alike_but_for_the_order_of_equal_deadlines_are_not_merged() -> None:
    # Two tasks fail at the same instant in either order: alike but for which fires first at
    # the shared deadline (and takes the one free run permit), which the snapshot keeps.
    from taskvisor.fsm import TICK, AttemptEnded, EndKind, SupervisorState, TaskId, step
    from taskvisor.testing._explore import _key

    retry = BackoffPolicy.constant(1.0)
    specs = [TaskSpec.restartable(fn(n), backoff=retry) for n in ("a", "b")] + [ONCE_C]
    config = CoreConfig(1.0, force_wait=0.5, max_concurrent=2)
    states = []
    for order in ((1, 2), (2, 1)):
        state = SupervisorState(config)
        items = tuple((TaskId(i + 1), spec) for i, spec in enumerate(specs))
        step(state, AddTasks(1, items), 0, random.Random(0))
        for tid in order:
            step(state, AttemptEnded(TaskId(tid), 1, EndKind.FAILED, "boom"), 0, random.Random(0))
        states.append(state)
    first, second = states
    assert first.snapshot().tasks == second.snapshot().tasks
    assert first.snapshot().ties != second.snapshot().ties
    assert _key(first) != _key(second)
    for state in states:
        step(state, TICK, 10**9, random.Random(0))
    assert first.snapshot() != second.snapshot()  # a started in one, b in the other


def test_a_controller_given_apart_keeps_the_rest_of_the_config() -> None:
    from taskvisor.testing._explore import _core_config

    config = CoreConfig(1.5, force_wait=0.25, max_concurrent=2, intensity=Intensity(3, 60.0))
    controller = ControllerConfig(max_slot_queue=1)
    built = _core_config(config, controller)
    assert built.controller == controller
    assert (built.grace_ns, built.force_wait_ns, built.max_concurrent, built.intensity) == (
        config.grace_ns,
        config.force_wait_ns,
        2,
        config.intensity,
    )


def test_branches_of_a_checked_core_share_no_history() -> None:
    # A branch's restart must not leak into its parent's intensity window (a list inside a dict
    # of the contract model), or the next branch to take the same step judges it refused.
    from scopes import GUARDED

    from taskvisor.fsm import TICK, AttemptEnded, EndKind, TaskId
    from taskvisor.testing import CheckedCore
    from taskvisor.testing._branch import fork_model
    from taskvisor.testing._liveness import Draws, fork_state

    config = CoreConfig(1.0, force_wait=0.5)
    parent = CheckedCore(config, Draws(()))
    parent.feed(AddTasks(1, ((TaskId(1), GUARDED),)))
    parent.feed(AttemptEnded(TaskId(1), 1, EndKind.FAILED, "boom"))  # a restart at 0 s
    parent.feed(TICK, 5 * 10**9)  # attempt 2 starts; its watchdog is due at 7 s
    for _ in range(2):  # the same two steps on two branches: a restart at 10 s is allowed
        branch = fork_model(parent, Draws(()), fork_state)
        branch.feed(TICK, 10 * 10**9)  # the watchdog stops attempt 2
        branch.feed(AttemptEnded(TaskId(1), 2, EndKind.FAILED, "boom"))
        assert branch.outcomes == {}
    assert parent.in_flight == {TaskId(1): 2}
    assert len(parent.log) == 3
