"""Invariants I1-I8 over random input scripts, and ``check_state``/``check_step``/``check_trace``
each catching deliberately corrupted states, steps and traces."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskvisor import BackoffPolicy, TaskSpec
from taskvisor.fsm import (
    AdmissionPolicy,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    EndKind,
    Event,
    EventKind,
    Finished,
    InvariantViolation,
    OutcomeKind,
    Phase,
    Publish,
    Remove,
    StartAttempt,
    Submit,
    SubscriberInfo,
    SupervisorState,
    TaskId,
    check_state,
    check_step,
    check_trace,
    step,
)
from taskvisor.fsm._bus import BusState
from taskvisor.fsm._slots import SlotStatus
from taskvisor.fsm._supervisor import ShutdownState

from .driver import Driver, fn, s
from .scripts import Config, Script, configs, play, scripts

EK = EventKind
FIXED = BackoffPolicy.constant(1.0)


# -- random scripts -------------------------------------------------------------------------------


@given(configs, scripts, st.integers(0, 2**32 - 1))
def test_random_scripts_keep_every_invariant(config: Config, script: Script, seed: int) -> None:
    d = play(config, script, seed)  # check_step after every step; I7 bound at the end
    d.verify()  # I1, I3, I4 over the whole trace (delays within each task's ceiling)
    added = {e.task_id for e in d.events if e.kind is EK.TASK_ADDED}
    requested = {e.task_id for e in d.events if e.kind is EK.TASK_ADD_REQUESTED}
    finished: dict[TaskId | None, list[Finished]] = {}
    for eff in d.effects:
        if isinstance(eff, Finished):
            finished.setdefault(eff.task_id, []).append(eff)
    # I1: every request gets exactly one outcome; every added task exactly one TASK_REMOVED,
    # its last event; a rejected one never starts.
    assert set(finished) == requested
    assert all(len(f) == 1 for f in finished.values())
    for tid in requested:
        kinds = d.kinds(tid)
        if tid in added:
            assert kinds.count(EK.TASK_REMOVED) == 1
            assert kinds[-1] is EK.TASK_REMOVED
            assert d.events_of(tid)[-1].outcome is finished[tid][0].outcome.kind
        else:
            assert finished[tid][0].outcome.kind is OutcomeKind.REJECTED
            assert EK.TASK_STARTING not in kinds
    assert d.state.accepted == d.state.finished == len(added)
    # I4: no attempt starts before the pause that preceded it is over.
    for tid in added:
        evs = d.events_of(tid)
        for i, ev in enumerate(evs):
            if ev.kind is EK.BACKOFF_SCHEDULED:
                assert ev.delay is not None
                later = [e for e in evs[i + 1 :] if e.kind is EK.TASK_STARTING]
                if later:
                    assert later[0].at >= ev.at + ev.delay - 1e-9
    # I5: every drop counted; no queue ever beyond its capacity (check_state on every step).
    delivered = [0] * len(config["capacities"])
    published = 0
    for eff in d.effects:
        if isinstance(eff, Publish):
            published += 1
            for i in eff.recipients:
                delivered[i] += 1
    for i in range(len(delivered)):
        assert delivered[i] + d.state.bus.dropped[i] == published


_ATTEMPT_OVER = (EK.TASK_FAILED, EK.TASK_STOPPED, EK.TASK_CANCELED, EK.TASK_REMOVED)


@given(configs, scripts)
def test_i3_at_most_max_concurrent_attempts_and_never_two_of_one_task(
    config: Config, script: Script
) -> None:
    d = play(config, script, 0)
    running: set[TaskId] = set()
    limit = config["max_concurrent"]
    for _, _, effects in d.log:
        for eff in effects:
            if isinstance(eff, StartAttempt):
                assert eff.task_id not in running
                running.add(eff.task_id)
                assert limit is None or len(running) <= limit
            elif isinstance(eff, Publish) and eff.event.kind in _ATTEMPT_OVER:
                # An attempt stops holding its permit when its end (or abandonment) is handled.
                running.discard(eff.event.task_id)


# -- a realistic state to corrupt -----------------------------------------------------------------


def busy() -> Driver:
    """Tasks in RUNNING, STOPPING, BACKOFF and WAITING, during a shutdown-free run."""
    d = Driver.make(max_concurrent=2, grace=5.0, subscribers=[SubscriberInfo("s", 50)])
    stopping = d.add(TaskSpec.restartable(fn("stopping")))
    backoff = d.add(TaskSpec.restartable(fn("backoff"), backoff=FIXED))
    d.add(TaskSpec.restartable(fn("waiting")))
    d.end(backoff, EndKind.FAILED)  # "waiting" takes its permit
    d.add(TaskSpec.restartable(fn("queued")))  # no permit left
    d.remove(stopping)
    return d


def mutated(state: SupervisorState, **changes: object) -> SupervisorState:
    """A clone of ``state`` with some fields replaced (the original is left alone)."""
    new = state.clone()
    for field, value in changes.items():
        setattr(new, field, value)
    return new


def with_task(state: SupervisorState, name: str, **changes: object) -> SupervisorState:
    new = state.clone()
    t = new.tasks[new.names[name]]
    for field, value in changes.items():
        setattr(t, field, value)
    return new


def test_the_busy_state_is_valid_and_has_every_phase() -> None:
    state = busy().state
    check_state(state)
    assert {t.phase for t in state.tasks.values()} == {
        Phase.RUNNING,
        Phase.STOPPING,
        Phase.BACKOFF,
        Phase.WAITING,
    }


CORRUPTIONS: dict[str, tuple[str, Callable[[SupervisorState], SupervisorState]]] = {
    "a name with no task": (
        "I2",
        lambda s_: mutated(s_, names={**s_.names, "ghost": TaskId(99)}),
    ),
    "names swapped": (
        "I2",
        lambda s_: mutated(
            s_,
            names={**s_.names, "backoff": s_.names["queued"], "queued": s_.names["backoff"]},
        ),
    ),
    "permit count off": ("I3", lambda s_: mutated(s_, running=s_.running - 1)),
    "beyond max_concurrent": (
        "I3",
        lambda s_: mutated(
            s_,
            config=CoreConfig(5.0, max_concurrent=1, subscribers=s_.config.subscribers),
        ),
    ),
    "a waiter not queued": ("I3", lambda s_: with_task(s_, "queued", wait_token=12345)),
    "an admitted task lost": ("I1", lambda s_: mutated(s_, accepted=s_.accepted + 1)),
    "backoff without deadline": ("I4", lambda s_: with_task(s_, "backoff", deadline=None)),
    "stopping without deadline": ("I4", lambda s_: with_task(s_, "stopping", deadline=None)),
    "queue beyond capacity": (
        "I5",
        lambda s_: mutated(s_, bus=BusState((51,), (0,), (51,))),
    ),
    "negative queue depth": ("I5", lambda s_: mutated(s_, bus=BusState((-1,), (0,), (0,)))),
    "shutdown done with tasks left": (
        "I7",
        lambda s_: mutated(s_, shutdown=ShutdownState(0, done=True)),
    ),
    "grace beyond the shutdown bound": (
        "I7",
        lambda s_: mutated(with_task(s_, "stopping", deadline=s(100.0)), shutdown=ShutdownState(0)),
    ),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_check_state_catches_a_corrupted_state(name: str) -> None:
    code, corrupt = CORRUPTIONS[name]
    broken = corrupt(busy().state)
    with pytest.raises(InvariantViolation, match=rf"^{code}: "):
        check_state(broken)


def with_slots() -> Driver:
    """Slot "s" owned by "x" (RUNNING) with "y" queued behind it."""
    config = CoreConfig(5.0, controller=ControllerConfig(max_slot_queue=2))
    d = Driver(config)
    for name in ("x", "y"):
        spec = ControllerSpec(TaskSpec.restartable(fn(name)), AdmissionPolicy.QUEUE, slot="s")
        d.feed(Submit(d.ticket(), d.new_id(), spec))
    slot = d.state.slots["s"]
    assert slot.status is SlotStatus.RUNNING
    assert len(slot.queue) == 1
    return d


def with_slot(state: SupervisorState, **changes: object) -> SupervisorState:
    return mutated(state, slots={**state.slots, "s": attrs.evolve(state.slots["s"], **changes)})


SLOT_CORRUPTIONS: dict[str, tuple[str, Callable[[SupervisorState], SupervisorState]]] = {
    "slot stored under another name": (
        "I6",
        lambda s_: mutated(s_, slots={**s_.slots, "t": s_.slots["s"]}),
    ),
    "slot queue beyond max_slot_queue": (
        "I5",
        lambda s_: with_slot(s_, queue=s_.slots["s"].queue * 3),
    ),
    "idle slot with an owner": ("I6", lambda s_: with_slot(s_, status=SlotStatus.IDLE)),
    "idle empty slot kept": (
        "I6",
        lambda s_: with_slot(s_, status=SlotStatus.IDLE, owner=None, queue=()),
    ),
    "running slot without a live owner": ("I6", lambda s_: with_slot(s_, owner=TaskId(999))),
    "slot left admitting": ("I6", lambda s_: with_slot(s_, status=SlotStatus.ADMITTING)),
    "queued task already running": (
        "I6",
        lambda s_: with_slot(
            s_,
            queue=(attrs.evolve(s_.slots["s"].queue[0], task_id=s_.slots["s"].owner),),
        ),
    ),
    "slot bookkeeping disagrees": (
        "I6",
        lambda s_: mutated(s_, slot_of={k: v for k, v in s_.slot_of.items() if k != TaskId(2)}),
    ),
}


@pytest.mark.parametrize("name", SLOT_CORRUPTIONS)
def test_check_state_catches_a_corrupted_slot(name: str) -> None:
    code, corrupt = SLOT_CORRUPTIONS[name]
    d = with_slots()
    check_state(d.state)
    with pytest.raises(InvariantViolation, match=rf"^{code}: "):
        check_state(corrupt(d.state))


# -- check_step -----------------------------------------------------------------------------------


def test_check_step_catches_a_start_before_the_backoff_deadline() -> None:
    d = busy()
    tid = d.state.names["backoff"]
    deadline = d.state.tasks[tid].deadline
    assert deadline is not None
    start = StartAttempt(tid, "backoff", 2, d.state.tasks[tid].spec)
    with pytest.raises(InvariantViolation, match=r"^I4: "):
        check_step(d.state.snapshot(), d.state, [start], deadline - 1)
    check_step(d.state.snapshot(), d.state, [start], deadline)  # on time: fine


def test_check_step_catches_a_second_attempt_of_a_running_task() -> None:
    d = busy()
    tid = d.state.names["waiting"]
    start = StartAttempt(tid, "waiting", 2, d.state.tasks[tid].spec)
    with pytest.raises(InvariantViolation, match=r"^I3: "):
        check_step(d.state.snapshot(), d.state, [start], d.now)


def test_check_step_catches_events_out_of_sequence() -> None:
    d = busy()
    before = d.state.snapshot()
    tid = d.state.names["backoff"]
    after, effects = step(d.state, Remove(99, tid), d.now, d.rng)
    check_step(before, after, effects, d.now)
    publishes = [i for i, e in enumerate(effects) if isinstance(e, Publish)]
    assert len(publishes) >= 2
    gap = list(effects)
    first = gap[publishes[0]]
    assert isinstance(first, Publish)
    gap[publishes[0]] = first._replace(event=first.event._replace(seq=first.event.seq - 1))
    with pytest.raises(InvariantViolation, match=r"^I8: "):
        check_step(before, after, gap, d.now)
    with pytest.raises(InvariantViolation, match=r"^I8: "):
        check_step(before, mutated(after, seq=after.seq + 1), effects, d.now)
    with pytest.raises(InvariantViolation, match=r"^I1: "):  # and it checks the state after
        check_step(before, mutated(after, accepted=0), effects, d.now)


# -- check_trace ----------------------------------------------------------------------------------


def trace() -> tuple[list[Event], dict[TaskId, float]]:
    d = Driver.make()
    tid = d.add(TaskSpec.restartable(fn("x"), backoff=FIXED))
    d.end(tid, EndKind.FAILED)
    d.fire_next()
    d.end(tid, EndKind.RETURNED)
    check_trace(d.events, d.ceilings)
    return d.events, d.ceilings


def renumber(events: list[Event]) -> list[Event]:
    return [e._replace(seq=i) for i, e in enumerate(events)]


def index_of(events: list[Event], kind: EventKind) -> int:
    return next(i for i, e in enumerate(events) if e.kind is kind)


TRACE_CORRUPTIONS: dict[str, tuple[str, Callable[[list[Event]], list[Event]]]] = {
    "seq goes back": ("I8", lambda ev: [ev[1], ev[0], *ev[2:]]),
    "seq repeats": ("I8", lambda ev: [ev[0], ev[0], *ev[1:]]),
    "an event after TASK_REMOVED": (
        "I1",
        lambda ev: renumber([*ev, ev[index_of(ev, EK.TASK_STARTING)]]),
    ),
    "added twice": ("I1", lambda ev: renumber([*ev[:2], ev[1], *ev[2:]])),
    "an event before TASK_ADDED": (
        "I1",
        lambda ev: renumber([e for e in ev if e.kind is not EK.TASK_ADDED]),
    ),
    "a start while running": (
        "I3",
        lambda ev: renumber(
            [e for e in ev if e.kind is not EK.TASK_FAILED]  # the first attempt never ended
        ),
    ),
    "a delay beyond the ceiling": (
        "I4",
        lambda ev: [e._replace(delay=1.5) if e.kind is EK.BACKOFF_SCHEDULED else e for e in ev],
    ),
    "a negative delay": (
        "I4",
        lambda ev: [e._replace(delay=-0.5) if e.kind is EK.BACKOFF_SCHEDULED else e for e in ev],
    ),
    "a missing delay": (
        "I4",
        lambda ev: [e._replace(delay=None) if e.kind is EK.BACKOFF_SCHEDULED else e for e in ev],
    ),
}


@pytest.mark.parametrize("name", TRACE_CORRUPTIONS)
def test_check_trace_catches_a_corrupted_trace(name: str) -> None:
    code, corrupt = TRACE_CORRUPTIONS[name]
    events, ceilings = trace()
    with pytest.raises(InvariantViolation, match=rf"^{code}: "):
        check_trace(corrupt(events), ceilings)


def test_check_trace_checks_delays_only_when_given_ceilings() -> None:
    events, _ = trace()
    wild = [e._replace(delay=99.0) if e.kind is EK.BACKOFF_SCHEDULED else e for e in events]
    check_trace(wild)
