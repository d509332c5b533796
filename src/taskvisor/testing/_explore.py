"""``explore``: exhaustive breadth-first model checking of the pure core, up to a depth.

Owns: ``explore``, ``Exploration``, ``Violation`` and the search. From a supervisor holding
nothing, the search feeds every input a runtime can legally produce at each state
(``_alphabet.Alphabet``), with every random draw the step makes enumerated at the ends and the
middle of its range, deduplicates the states it reaches, and checks each transition with a copy
of the ``CheckedCore`` that reached the state (``_branch``: ``fsm.check_step`` plus the contract
model), each state's next deadline, and from each new state the liveness properties of
``_liveness``. Breadth-first order makes the first counterexample found a shortest one
(docs/model-checking.md).

The search reads the core only through ``fsm.step``, ``fsm.next_deadline``, the effects and
the events; what it needs to know about a state (attempts in flight, ids not yet finished,
subscriber queue depths, when shutdown began) it keeps itself, from the effects seen along the
path, in ``_alphabet.Book``. Two private functions touch the state's representation: ``_key``
(``snapshot()``) and ``_fork`` (``clone()``). Plain
Python: no Hypothesis, no pytest, no I/O.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from taskvisor import fsm
from taskvisor._errors import ConfigError
from taskvisor.fsm import (
    ControllerConfig,
    CoreConfig,
    Duration,
    Effect,
    Input,
    InvariantViolation,
    TaskSpec,
    Tick,
)
from taskvisor.testing._alphabet import Alphabet, Book, advance
from taskvisor.testing._branch import fork_model
from taskvisor.testing._checked import CheckedCore
from taskvisor.testing._liveness import DRAWS, Draws, check_liveness, fork_state
from taskvisor.testing._replay import render_script

if TYPE_CHECKING:
    from taskvisor.runtime import SupervisorConfig

__all__ = ["Exploration", "Violation", "explore"]

Step = tuple[int, Input, tuple[float, ...]]
"""One input of a counterexample: ``(now in ns, input, the random draws the step made)``."""


@attrs.frozen
class Violation:
    """A property broken, with the shortest input sequence that breaks it.

    Attributes:
        invariant: what broke: ``"I1"``..``"I8"`` (a state, step or contract check),
            ``"crash"`` (the step raised), or a liveness property: ``"liveness:shutdown"``
            (shutdown does not complete), ``"liveness:task-end"`` (a task cannot be ended).
        message: the check's own message.
        steps: the inputs from the initial state, in order: ``(now, input, draws)``.
        script: a runnable Python script that replays ``steps`` through ``fsm.step`` (via
            ``CheckedCore``) and ends with the failed check.
    """

    invariant: str
    message: str
    steps: tuple[Step, ...]
    script: str = attrs.field(repr=False)

    def __str__(self) -> str:
        return f"{self.invariant} after {len(self.steps)} inputs: {self.message}"


@attrs.frozen
class Exploration:
    """What ``explore`` covered and found.

    Attributes:
        states: distinct states reached (the initial one included).
        transitions: steps taken (one per input and per enumerated random draw).
        depth: every input sequence up to this length was explored.
        seconds: wall time of the search.
        violations: the properties broken, each with a shortest counterexample (empty: none).
        levels: new states found at each depth (``levels[0]`` is the initial state).
    """

    states: int
    transitions: int
    depth: int
    seconds: float
    violations: tuple[Violation, ...]
    levels: tuple[int, ...]

    @property
    def states_per_second(self) -> float:
        """Distinct states per second of wall time."""
        return self.states / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        """One line: the figures, and the first violation if any."""
        line = (
            f"{self.states} states, {self.transitions} transitions, depth {self.depth}, "
            f"{self.seconds:.1f} s ({self.states_per_second:.0f} states/s)"
        )
        if self.violations:
            line += f"; {len(self.violations)} violation(s), first: {self.violations[0]}"
        return line


class _Node:
    """A state to expand: the checked core holding it, the book, and the path to it."""

    __slots__ = ("book", "depth", "key", "model", "state", "trail")

    def __init__(
        self, state: Any, model: CheckedCore | None, book: Book, trail: Any, depth: int
    ) -> None:
        self.state = state
        self.model = model
        self.book = book
        self.trail = trail  # (parent trail, step) or None: a linked list back to the root
        self.depth = depth
        self.key: Any = None  # (_key(state), book), once the search has taken it


def _key(state: Any) -> Any:
    """A hashable value equal for states that behave alike: ``snapshot()``.

    The snapshot keeps the firing order of equal deadlines (``StateSnapshot.ties``): among
    deadlines at the same instant the timer token decides which fires first (I8), and with one
    free run permit that decides who runs, so states alike but for that order are not merged.
    (A state without ``snapshot()`` is its own key.)
    """
    snapshot = getattr(state, "snapshot", None)
    return state if snapshot is None else snapshot()


def _fork(state: Any) -> Any:
    """An independent copy of ``state`` to step: ``clone()`` where it exists (owned state)."""
    return fork_state(state)


def _invariant_of(exc: BaseException) -> tuple[str, str]:
    text = str(exc)
    if isinstance(exc, InvariantViolation):
        code = text.split(":", 1)[0]
        if code.startswith("I") and code[1:].isdigit():
            return code, text
    return "crash", f"{type(exc).__name__}: {text}"


class _Search:
    """One breadth-first exploration (see ``explore``)."""

    def __init__(
        self,
        specs: Sequence[TaskSpec],
        config: CoreConfig,
        slots: Sequence[str | None],
        jumps: Sequence[int],
        contract: bool,
        liveness: bool,
        retry_afters: Sequence[int] = (),
    ) -> None:
        self.config = config
        self.alphabet = Alphabet(specs, config, slots, jumps, retry_afters)
        self.contract = contract
        self.liveness = liveness
        self.violations: list[Violation] = []
        self.found: set[str] = set()
        self.transitions = 0

    def run(
        self, depth: int, deadline: float | None, max_violations: int
    ) -> tuple[int, int, list[int]]:
        """Breadth-first to ``depth``: (states seen, depth completed, new states per level)."""
        config = self.config
        model = CheckedCore(config, Draws(())) if self.contract else None
        state = model.state if model is not None else fsm.SupervisorState(config)
        book = Book(0, 1, (), (), (), (0,) * len(config.subscribers), None, 0, False)
        root = _Node(state, model, book, None, 0)
        root.key = (_key(state), book)
        seen = {root.key}
        levels = [1]
        frontier = [root] if self.check_live(root) else []
        reached = 0
        while reached < depth and frontier:
            last = reached == depth - 1  # the last level is checked, not kept for expansion
            found: list[_Node] = []
            new = 0
            for node in frontier:
                for succ in self.successors(node):
                    if succ is None:
                        continue
                    key = succ.key = (_key(succ.state), succ.book)
                    if key in seen:
                        continue
                    seen.add(key)
                    new += 1
                    if self.check_live(succ) and not last:
                        found.append(succ)
                if len(self.violations) >= max_violations or (
                    deadline is not None and time.perf_counter() > deadline
                ):
                    return len(seen), reached, levels
            reached += 1
            levels.append(new)
            frontier = found
        if not frontier and reached < depth and not self.violations:
            reached = depth  # no new state anywhere: longer sequences only revisit these
        return len(seen), reached, levels

    # -- one transition ----------------------------------------------------------------------

    def _run(
        self, node: _Node, inp: Input, now: int, draws: Draws
    ) -> tuple[Any, Any, list[Effect]]:
        """Step a copy of ``node``'s state; every check the configuration asks for."""
        if node.model is not None:
            model = fork_model(node.model, draws, _fork)
            effects = model.feed(inp, now)
            after = model.state
        else:
            model = None
            after, effects = fsm.step(_fork(node.state), inp, now, draws)
            fsm.check_step(_snapshot(node), after, effects, now)
        deadline = fsm.next_deadline(after)
        if deadline is not None and (deadline < now or (isinstance(inp, Tick) and deadline <= now)):
            # I4: once a step returns, no deadline is in the past (a tick fires all that are due).
            raise InvariantViolation(
                f"I4: after {type(inp).__name__} at {now} a deadline is due at {deadline}"
            )
        return after, model, effects

    def successors(self, node: _Node) -> Iterator[_Node | None]:
        """Every successor of ``node``; None for a transition that broke a property."""
        due = fsm.next_deadline(node.state)
        for inp, now in list(self.alphabet.inputs(node.book, node.state, node.depth + 1)):
            todo: list[tuple[float, ...]] = [()]
            while todo:
                prefix = todo.pop()
                draws = Draws(prefix)
                self.transitions += 1
                try:
                    after, model, effects = self._run(node, inp, now, draws)
                    failure = None
                except Exception as exc:  # a broken check, or the step itself raised
                    failure = exc
                used = draws.used()
                for j in range(len(prefix), len(used)):  # enumerate each draw at the others
                    todo.extend((*used[:j], value) for value in DRAWS[1:])
                step = (now, inp, used)
                if failure is not None:
                    invariant, message = _invariant_of(failure)
                    self._violation(invariant, message, node.trail, [step])
                    yield None
                    continue
                book = advance(node.book, inp, now, effects, due)
                yield _Node(after, model, book, (node.trail, step), node.depth + 1)

    # -- violations ----------------------------------------------------------------------------

    def _violation(
        self, invariant: str, message: str, trail: Any, tail: list[Step], final: str = ""
    ) -> None:
        if invariant in self.found:
            return  # the first (shortest) counterexample of each property is kept
        self.found.add(invariant)
        steps = _path(trail) + tail
        title = f"{invariant} after {len(steps)} inputs"
        script = render_script(self.config, steps, title=title, message=message, final_check=final)
        self.violations.append(Violation(invariant, message, tuple(steps), script))

    def check_live(self, node: _Node) -> bool:
        """The liveness properties from ``node``'s state; False when one is broken."""
        if not self.liveness:
            return True
        book = node.book
        failure = check_liveness(node.state, self.config, book, node.depth + 1)
        if failure is None:
            return True
        self._violation(
            failure.invariant, failure.message, node.trail, failure.steps, failure.final_check
        )
        return False


def _snapshot(node: _Node) -> Any:
    """The snapshot of ``node``'s state the search already took for its key."""
    key, _book = node.key
    return key


def _path(trail: Any) -> list[Step]:
    steps: list[Step] = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    steps.reverse()
    return steps


def _core_config(
    config: CoreConfig | SupervisorConfig | None, controller: ControllerConfig | None
) -> CoreConfig:
    if config is None:
        return CoreConfig(controller=controller)
    if not isinstance(config, CoreConfig):
        core_config = getattr(config, "core_config", None)
        if core_config is None:
            raise TypeError(
                f"explore: config must be a CoreConfig or SupervisorConfig, got {config!r}"
            )
        built = core_config((), fsm.TaskDefaults(), controller)
        assert isinstance(built, CoreConfig)
        return built
    if controller is None or controller == config.controller:
        return config
    if config.controller is not None:
        raise ConfigError("explore.controller", "the config already has a different controller")
    return CoreConfig.checked(
        grace_ns=config.grace_ns,
        force_wait_ns=config.force_wait_ns,
        max_concurrent=config.max_concurrent,
        subscribers=config.subscribers,
        defaults=config.defaults,
        controller=controller,
        intensity=config.intensity,
        retry_budgets=dict(config.retry_budgets),
        seed=config.seed,
    )


def explore(
    specs: Sequence[TaskSpec],
    *,
    depth: int,
    config: CoreConfig | SupervisorConfig | None = None,
    controller: ControllerConfig | None = None,
    slots: Sequence[str | None] = (None,),
    jumps: Sequence[Duration] = (),
    contract: bool = True,
    liveness: bool = True,
    max_seconds: float | None = None,
    max_violations: int = 1,
    retry_afters: Sequence[Duration] = (),
) -> Exploration:
    """Check the core exhaustively: every legal input sequence up to ``depth`` inputs.

    Breadth-first from a supervisor holding nothing, over every input a runtime can feed
    (adds of ``specs`` and duplicates, removals by id and name, every way an attempt ends,
    submissions under each admission policy when there is a controller, subscribers
    consuming and panicking, shutdown, and time moving to the next deadline or just before
    it), each random draw tried at 0, just below 1 and 0.5 (with a seeded config each task
    draws from its own stream instead, so those draws are not enumerated). Equal states are
    explored once.
    Every step is checked with ``CheckedCore`` (I1-I8 and the contract model) and every new
    state for liveness (shutdown completes; every task can be ended; no deadline in the past).

    Args:
        specs: the task specs to add and submit (a name twice means duplicates are tried).
        depth: the longest input sequence to explore.
        config: the core's settings (a ``CoreConfig``, or a ``SupervisorConfig`` for its grace,
            force-wait and concurrency); default ``CoreConfig()``.
        controller: admission control to explore submissions under.
        slots: the slots submissions go to (None: the task's own name).
        jumps: extra time advances (seconds): from every state, a tick that much later, due
            deadlines or not (a timer that fires late), so an attempt can run that long
            (``reset_after``) or failures go on that long (``give_up_after``).
        contract: check each step against ``CheckedCore``'s contract model too (else only
            ``fsm.check_step``: about twice as fast).
        liveness: check the liveness properties from every new state.
        max_seconds: stop after this long (``depth`` then says how far it got).
        max_violations: stop after this many distinct properties were found broken.
        retry_afters: Retry-Afters (seconds) a failure may carry, each tried as one more way
            an attempt ends (``Fail(retry_after=...)``, docs/spec/api.md section 8).

    Returns:
        The figures and the violations (empty when every check held).
    """
    specs = tuple(specs)
    if not specs or not all(isinstance(s, TaskSpec) for s in specs):
        raise TypeError(f"explore: specs must be a non-empty sequence of TaskSpec, got {specs!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ConfigError("explore.depth", f"expected an int >= 0, got {depth!r}")
    if max_violations < 1:
        raise ConfigError("explore.max_violations", f"must be >= 1, got {max_violations!r}")
    core_config = _core_config(config, controller)
    steps = tuple(fsm.to_ns(jump, "explore.jumps") for jump in jumps)
    if 0 in steps:
        raise ConfigError("explore.jumps", "must be positive")
    delays = tuple(fsm.to_ns(delay, "explore.retry_afters") for delay in retry_afters)
    search = _Search(specs, core_config, slots, steps, contract, liveness, delays)
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    collecting = gc.isenabled()
    gc.disable()  # the search builds millions of acyclic objects: no cycle to collect
    try:
        states, reached, levels = search.run(depth, deadline, max_violations)
    finally:
        if collecting:
            gc.enable()
    return Exploration(
        states=states,
        transitions=search.transitions,
        depth=reached,
        seconds=time.perf_counter() - started,
        violations=tuple(search.violations),
        levels=tuple(levels),
    )
