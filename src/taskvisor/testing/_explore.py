"""``explore``: exhaustive breadth-first model checking of the pure core, up to a depth.

Owns: ``explore``, ``Exploration``, ``Violation`` and the search. From a supervisor holding
nothing, the search feeds every input a runtime can legally produce at each state (the
alphabet of ``_Alphabet``), with every random draw the step makes enumerated at the ends and
the middle of its range, deduplicates the states it reaches, and checks each transition with
``CheckedCore`` (``fsm.check_step`` plus the contract model), each state's next deadline, and
from each new state the liveness properties of ``_liveness``. Breadth-first order makes the
first counterexample found a shortest one (docs/model-checking.md).

The search reads the core only through ``fsm.step``, ``fsm.next_deadline``, the effects and
the events; what it needs to know about a state (attempts in flight, ids not yet finished,
subscriber queue depths, when shutdown began) it keeps itself, from the effects seen along the
path, in ``_Book``. Two private functions touch the state's representation: ``_key`` (a
hashable value, equal for equal states) and ``_fork`` (an independent copy to step). Plain
Python: no Hypothesis, no pytest, no I/O.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from taskvisor import fsm
from taskvisor._errors import ConfigError
from taskvisor.fsm import (
    TICK,
    Abandon,
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Duration,
    Effect,
    EndKind,
    EventKind,
    EventsConsumed,
    Finished,
    Heartbeat,
    Input,
    InvariantViolation,
    Publish,
    Remove,
    Shutdown,
    StartAttempt,
    Submit,
    SubscriberPanicked,
    SubscriberRecovered,
    TaskId,
    TaskSpec,
    Tick,
)
from taskvisor.testing._checked import CheckedCore
from taskvisor.testing._liveness import DRAWS, Draws, check_liveness, fork_state
from taskvisor.testing._replay import render_script

if TYPE_CHECKING:
    from taskvisor.runtime import SupervisorConfig

__all__ = ["Exploration", "Violation", "explore"]

#: How each way of ending an attempt is reported (the reason a runtime would give).
_REASONS = {
    EndKind.RETURNED: "",
    EndKind.FAILED: "Fail: boom",
    EndKind.FATAL: "Fatal: boom",
    EndKind.CANCELED: "canceled",
    EndKind.INTERRUPTED: "interrupted",
}
#: A panic while handling a task event is reported; one on a diagnostic event is not (I5).
_PANICS = (EventKind.TASK_STARTING, EventKind.SUBSCRIBER_OVERFLOW)

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


class _Book(NamedTuple):
    """What the search knows about a state from the effects seen on the way to it."""

    now: int
    next_id: int
    pending: tuple[TaskId, ...]  # ids fed (added or submitted) without a Finished yet
    in_flight: tuple[tuple[TaskId, int], ...]  # attempts started, not ended nor abandoned
    abandoned: tuple[tuple[TaskId, int], ...]  # abandoned attempts whose late end may come
    depths: tuple[int, ...]  # subscriber queue depths
    shutdown_at: int | None


class _Node:
    """A state to expand: the checked core holding it, the book, and the path to it."""

    __slots__ = ("book", "depth", "key", "model", "state", "trail")

    def __init__(
        self, state: Any, model: CheckedCore | None, book: _Book, trail: Any, depth: int
    ) -> None:
        self.state = state
        self.model = model
        self.book = book
        self.trail = trail  # (parent trail, step) or None: a linked list back to the root
        self.depth = depth
        self.key: Any = None  # (_key(state), book), once the search has taken it


def _key(state: Any) -> Any:
    """A hashable value equal for states that behave alike: ``snapshot()``, and tie order.

    The snapshot leaves the timer tokens out, but among deadlines at the same instant the
    token decides which fires first (FIFO, I8), and with one free run permit that decides who
    runs: two states that differ only there must not be merged. So the key also holds the
    order in which the live deadlines fire. (A state without ``snapshot()`` is its own key.)
    """
    snapshot = getattr(state, "snapshot", None)
    if snapshot is None:
        return state
    return snapshot(), _firing_order(state)


def _firing_order(state: Any) -> tuple[TaskId, ...]:
    """The ids of the live deadlines of ``state``, in the order a tick fires them."""
    timers = getattr(state, "timers", None)
    tasks = getattr(state, "tasks", None)
    if timers is None or tasks is None:
        return ()
    return tuple(
        tid
        for _, token, tid in sorted(timers)
        if (t := tasks.get(tid)) is not None and t.timer == token
    )


def _fork(state: Any) -> Any:
    """An independent copy of ``state`` to step: ``clone()`` where it exists (owned state)."""
    return fork_state(state)


def _fork_model(model: CheckedCore, draws: Draws) -> CheckedCore:
    """An independent copy of a checked core that steps with ``draws``.

    Objects of the test kit's own classes, the stepping loop and the builtin containers are
    copied; everything else (the core's immutable values: events, specs, ids) is shared. The
    state is forked with ``_fork`` and the random source replaced by ``draws`` wherever the
    model refers to them.
    """
    state = model.state
    _COPY_KIND[type(state)] = _STATE
    copied = _copy(model, {id(state): _fork(state), id(model.rng): draws})
    assert isinstance(copied, CheckedCore)
    return copied


_COPY_KIND: dict[type, int] = {}
_SHARE, _DICT, _SEQ, _SET, _OBJECT, _STATE = range(6)
#: The core's mutable helpers a checked core may hold (its stepping loop and checkers).
_STEPPING = (fsm.Stepper, fsm.InvariantChecker, fsm.CheckerChain)


def _kind(t: type) -> int:
    kind = _COPY_KIND.get(t)
    if kind is None:
        if issubclass(t, dict):
            kind = _DICT
        elif issubclass(t, list):
            kind = _SEQ
        elif issubclass(t, set):
            kind = _SET
        elif t.__module__.startswith("taskvisor.testing") or issubclass(t, _STEPPING):
            kind = _OBJECT
        else:
            kind = _SHARE
        _COPY_KIND[t] = kind
    return kind


def _shared(types: set[type]) -> bool:
    """Whether values of all these types are shared, not copied (one lookup per type)."""
    for t in types:
        kind = _COPY_KIND.get(t)
        if (kind if kind is not None else _kind(t)) != _SHARE:
            return False
    return True


def _flat(t: type, item: Any) -> bool:
    """Whether ``item`` (of type ``t``) is a set, or a dict or list of shared values only."""
    if t is set:
        return True
    if t is dict:
        return not item or _shared(set(map(type, item.values())))
    return t is list and (not item or _shared(set(map(type, item))))


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    kind = _COPY_KIND.get(type(value))
    if kind is None:
        kind = _kind(type(value))
    if kind == _SHARE:
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    if kind == _SET:
        new: Any = value.copy()
    elif kind == _SEQ:
        new = value.copy()
        if not _shared(set(map(type, value))):
            for i, item in enumerate(value):
                new[i] = _copy(item, memo)
    elif kind == _DICT:
        new = value.copy()
        if not _shared(set(map(type, value.values()))):
            for k, item in value.items():
                new[k] = _copy(item, memo)
    elif kind == _STATE:  # a state the memo does not know: not the model's own; fork it
        new = _fork(value)
    else:
        cls: Any = type(value)
        new = cls.__new__(cls)
        memo[id(value)] = new
        if hasattr(value, "__dict__"):
            fields = vars(value).copy()
            for name, item in fields.items():
                t = type(item)
                if t in _PLAIN:
                    continue
                # The common cases inline (a checked core has ~40 containers): a dict or list
                # of immutable values is copied shallowly, a set always is.
                if id(item) in memo:
                    fields[name] = memo[id(item)]
                elif _flat(t, item):
                    fields[name] = memo[id(item)] = item.copy()
                else:
                    fields[name] = _copy(item, memo)
            vars(new).update(fields)
        for klass in cls.__mro__:
            for name in getattr(klass, "__slots__", ()):
                if name != "__dict__" and hasattr(value, name):
                    object.__setattr__(new, name, _copy(getattr(value, name), memo))
        return new
    memo[id(value)] = new
    return new


#: Attribute values copied by reference without a lookup (the common immutable scalars).
_PLAIN = frozenset({int, str, bool, float, type(None)})


class _Alphabet:
    """Every input a runtime can feed at a state (the preconditions of the stateful machines).

    Adds of each spec and of all specs at once (duplicates included: a name that is live is
    rejected, I2); removals (the core sees ``cancel`` as the same input) of every id not yet
    finished, of one finished id (all are answered alike), and by every name; every way each
    attempt in flight can end (a failure also with an exception outside ``retry_on`` when a
    spec narrows it), and its heartbeat when a spec has a watchdog; the late end of an
    abandoned attempt; submissions of each spec under each admission policy to each slot
    (with a controller); a subscriber taking one or all of its queued events, panicking on a
    task event and on a diagnostic event, and recovering; shutdown (again, too); and time: a
    tick at the next deadline, one at the instant before it (nothing may fire there, I4), and
    one ``jump`` later for each of ``jumps`` (a run that long, or a timer that late).
    """

    def __init__(
        self,
        specs: Sequence[TaskSpec],
        config: CoreConfig,
        slots: Sequence[str | None],
        jumps: Sequence[int],
    ) -> None:
        self.specs = tuple(specs)
        self.names = tuple(dict.fromkeys(spec.name for spec in specs))
        self.subscribers = len(config.subscribers)
        self.jumps = tuple(jumps)
        self.submits: tuple[ControllerSpec, ...] = ()
        if config.controller is not None:
            self.submits = tuple(
                ControllerSpec(spec, admission, slot)
                for spec in self.specs
                for admission in AdmissionPolicy
                for slot in slots
            )
        policies = [spec.resolve(config.defaults) for spec in self.specs]
        self.heartbeats = any(p.watchdog_ns is not None for p in policies)
        # A builtin exception some spec does not retry (api.md section 8), if any.
        self.unretried = next(
            (
                exc
                for exc in (LookupError, ValueError, OSError, RuntimeError)
                if any(not issubclass(exc, p.retry_on) for p in policies)
            ),
            None,
        )

    def inputs(self, book: _Book, state: Any, ticket: int) -> Iterator[tuple[Input, int]]:
        now, nid = book.now, book.next_id
        fresh = TaskId(nid)
        for spec in self.specs:
            yield AddTasks(ticket, ((fresh, spec),)), now
        if len(self.specs) > 1:
            batch = tuple((TaskId(nid + i), spec) for i, spec in enumerate(self.specs))
            yield AddTasks(ticket, batch), now
        for cspec in self.submits:
            yield Submit(ticket, fresh, cspec), now
        yield from self._removals(book, ticket)
        yield from ((inp, now) for inp in self._attempts(book))
        for index, depth in enumerate(book.depths):
            if depth:
                yield EventsConsumed(index, 1), now
            if depth > 1:
                yield EventsConsumed(index, depth), now
        for index in range(self.subscribers):
            for kind in _PANICS:
                yield SubscriberPanicked(index, "on_event raised", kind), now
            yield SubscriberRecovered(index), now
        yield Shutdown(), now
        deadline = fsm.next_deadline(state)
        if deadline is not None:
            yield TICK, max(deadline, now)
            if deadline - 1 > now:
                yield TICK, deadline - 1
        for jump in self.jumps:
            yield TICK, now + jump

    def _removals(self, book: _Book, ticket: int) -> Iterator[tuple[Input, int]]:
        now = book.now
        for tid in book.pending:
            yield Remove(ticket, task_id=tid), now
        gone = [v for v in range(book.next_id - 1, 0, -1) if TaskId(v) not in book.pending]
        if gone:  # every finished id is answered alike (not claimed): the newest stands for all
            yield Remove(ticket, task_id=TaskId(gone[0])), now
        for name in self.names:
            yield Remove(ticket, name=name), now

    def _attempts(self, book: _Book) -> Iterator[Input]:
        for tid, attempt in book.in_flight:
            for end, reason in _REASONS.items():
                yield AttemptEnded(tid, attempt, end, reason)
            if self.unretried is not None:
                error = self.unretried("boom")
                reason = f"{type(error).__name__}: boom"
                yield AttemptEnded(tid, attempt, EndKind.FAILED, reason, error=error)
            if self.heartbeats:
                yield Heartbeat(tid, attempt, book.now)
        for tid, attempt in book.abandoned:
            yield AttemptEnded(tid, attempt, EndKind.RETURNED, "late end")


def _advance(book: _Book, inp: Input, now: int, effects: Sequence[Effect]) -> _Book:
    """The book after ``inp`` at ``now`` had ``effects``."""
    pending = set(book.pending)
    in_flight = dict(book.in_flight)
    abandoned = set(book.abandoned)
    depths = list(book.depths)
    next_id, shutdown_at = book.next_id, book.shutdown_at
    if isinstance(inp, AddTasks):
        next_id += len(inp.items)
        pending.update(tid for tid, _ in inp.items)
    elif isinstance(inp, Submit):
        next_id += 1
        pending.add(inp.task_id)
    elif isinstance(inp, AttemptEnded):
        if in_flight.get(inp.task_id) == inp.attempt:
            del in_flight[inp.task_id]
        else:
            abandoned.discard((inp.task_id, inp.attempt))
    elif isinstance(inp, EventsConsumed):
        depths[inp.subscriber] -= inp.count
    for eff in effects:
        if isinstance(eff, Publish):
            for index in eff.recipients:
                depths[index] += 1
            if eff.event.kind is EventKind.SHUTDOWN_REQUESTED:
                shutdown_at = now
        elif isinstance(eff, StartAttempt):
            in_flight[eff.task_id] = eff.attempt
        elif isinstance(eff, Abandon):
            in_flight.pop(eff.task_id, None)
            abandoned.add((eff.task_id, eff.attempt))
        elif isinstance(eff, Finished):
            pending.discard(eff.task_id)
    return _Book(
        now,
        next_id,
        tuple(sorted(pending)),
        tuple(sorted(in_flight.items())),
        tuple(sorted(abandoned)),
        tuple(depths),
        shutdown_at,
    )


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
    ) -> None:
        self.config = config
        self.alphabet = _Alphabet(specs, config, slots, jumps)
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
        book = _Book(0, 1, (), (), (), (0,) * len(config.subscribers), None)
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
            model = _fork_model(node.model, draws)
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
                book = _advance(node.book, inp, now, effects)
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
        failure = check_liveness(
            node.state,
            self.config,
            book.now,
            book.pending,
            book.in_flight,
            book.shutdown_at,
            node.depth + 1,
        )
        if failure is None:
            return True
        self._violation(
            failure.invariant, failure.message, node.trail, failure.steps, failure.final_check
        )
        return False


def _snapshot(node: _Node) -> Any:
    """The snapshot of ``node``'s state the search already took for its key."""
    key, _book = node.key
    return key[0] if isinstance(key, tuple) else key


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
    rebuilt = CoreConfig(
        fsm.ns_to_s(config.grace_ns),
        force_wait=fsm.ns_to_s(config.force_wait_ns),
        max_concurrent=config.max_concurrent,
        subscribers=config.subscribers,
        defaults=config.defaults,
        controller=controller,
    )
    if (rebuilt.grace_ns, rebuilt.force_wait_ns) != (config.grace_ns, config.force_wait_ns):
        raise ConfigError("explore.config", "give the controller in the CoreConfig itself")
    return rebuilt


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
) -> Exploration:
    """Check the core exhaustively: every legal input sequence up to ``depth`` inputs.

    Breadth-first from a supervisor holding nothing, over every input a runtime can feed
    (adds of ``specs`` and duplicates, removals by id and name, every way an attempt ends,
    submissions under each admission policy when there is a controller, subscribers
    consuming and panicking, shutdown, and time moving to the next deadline or just before
    it), each random draw tried at 0, just below 1 and 0.5. Equal states are explored once.
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
    search = _Search(specs, core_config, slots, steps, contract, liveness)
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
