"""Admission-control slots (docs/spec/api.md section 6, invariant I6), driven through the pure core.

Every test drives ``fsm.step`` through ``taskvisor.testing.CheckedCore``, so each step is also
checked against I1-I8 and the slot model (owners, FIFO queues, rejections) built from events.
Every move the core makes through ``check_slot_move`` is recorded; the last test fails listing
any entry of ``SLOT_TRANSITIONS`` that no test exercised.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from taskvisor import fsm
from taskvisor.fsm import (
    AddTasks,
    AdmissionPolicy,
    AttemptEnded,
    ControllerConfig,
    ControllerSpec,
    CoreConfig,
    Effect,
    EndKind,
    EventKind,
    Finished,
    OutcomeKind,
    Publish,
    RejectionKind,
    Remove,
    RemoveReply,
    RequestCancel,
    Shutdown,
    StartAttempt,
    Submit,
    SubmitReply,
    TaskFn,
    TaskId,
    TaskSpec,
    _supervisor,
)
from taskvisor.fsm._slots import SLOT_TRANSITIONS, SlotSnapshot, SlotStatus, SlotTrigger
from taskvisor.fsm._supervisor import controller_snapshot
from taskvisor.testing import CheckedCore, assert_event_sequence

QUEUE = AdmissionPolicy.QUEUE
REPLACE = AdmissionPolicy.REPLACE
DROP = AdmissionPolicy.DROP_IF_RUNNING
S = 1_000_000_000

# -- recording which slot moves the core made ---------------------------------------------

_MOVES: dict[str, set[tuple[SlotStatus, SlotTrigger, SlotStatus]]] = {}


@pytest.fixture(autouse=True)
def _record_slot_moves(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _MOVES.setdefault(request.node.name, set())
    real = _supervisor.check_slot_move

    def recording(source: SlotStatus, trigger: SlotTrigger, target: SlotStatus) -> None:
        real(source, trigger, target)
        seen.add((source, trigger, target))

    monkeypatch.setattr(_supervisor, "check_slot_move", recording)


# -- helpers ------------------------------------------------------------------------------


async def _body(ctx: object) -> None:
    """Never run: the core only carries it."""


def spec(name: str, **kw: object) -> TaskSpec:
    """A ``once`` task named ``name`` (ends for good at its first end)."""
    return TaskSpec.once(TaskFn(name, _body), **kw)


def core(max_slot_queue: int = 100, *, grace: float = 1.0, **kw: object) -> CheckedCore:
    config = CoreConfig(
        grace,
        force_wait=0.5,
        controller=ControllerConfig(max_slot_queue=max_slot_queue),
        subscribers=[fsm.SubscriberInfo("rec", 1_000_000)],
        **kw,  # type: ignore[arg-type]
    )
    return CheckedCore(config, random.Random(0))


def submit(
    c: CheckedCore, name: str, admission: AdmissionPolicy = QUEUE, slot: str | None = "s"
) -> tuple[TaskId, list[Effect]]:
    tid = c.new_id()
    effects = c.feed(Submit(c.ticket(), tid, ControllerSpec(spec(name), admission, slot)))
    return tid, effects


def reply(effects: Sequence[Effect]) -> SubmitReply:
    (found,) = [e for e in effects if isinstance(e, SubmitReply)]
    return found


def started(effects: Sequence[Effect]) -> list[TaskId]:
    return [e.task_id for e in effects if isinstance(e, StartAttempt)]


def index_of(effects: Sequence[Effect], kind: type, tid: TaskId) -> int:
    for i, e in enumerate(effects):
        if isinstance(e, kind) and getattr(e, "task_id", None) == tid:
            return i
    raise AssertionError(f"no {kind.__name__} for {tid!r} in {effects}")


def events(effects: Sequence[Effect]) -> list[fsm.Event]:
    return [e.event for e in effects if isinstance(e, Publish)]


def assert_rejected(c: CheckedCore, tid: TaskId, kind: RejectionKind) -> None:
    """Rejected ``kind``: a CONTROLLER_REJECTED event and a REJECTED ``Finished``; never run."""
    outcome = c.outcomes[tid]
    assert outcome.kind is OutcomeKind.REJECTED
    assert outcome.rejection is kind
    rejections = [
        e for e in c.events if e.task_id == tid and e.kind is EventKind.CONTROLLER_REJECTED
    ]
    assert [e.rejection for e in rejections] == [kind]
    assert rejections[0].outcome is OutcomeKind.REJECTED
    assert tid not in c.added
    assert tid not in c.started


def snapshot(c: CheckedCore) -> list[tuple[str, SlotStatus, TaskId | None, int]]:
    return [(s.slot, s.status, s.owner, s.queue_depth) for s in controller_snapshot(c.state)]


def finish(c: CheckedCore, tid: TaskId, end: EndKind = EndKind.RETURNED) -> list[Effect]:
    return c.feed(AttemptEnded(tid, c.in_flight[tid], end))


# -- admission on an idle slot ------------------------------------------------------------


@pytest.mark.parametrize("admission", list(AdmissionPolicy))
def test_every_policy_starts_on_an_idle_slot(admission: AdmissionPolicy) -> None:
    c = core()
    tid, effects = submit(c, "a", admission)
    assert reply(effects) == SubmitReply(1, tid, None)
    assert started(effects) == [tid]
    assert snapshot(c) == [("s", SlotStatus.RUNNING, tid, 0)]


def test_submission_events_say_what_happened_in_order() -> None:
    c = core()
    tid, effects = submit(c, "a", slot="s")
    evs = events(effects)
    assert [e.kind for e in evs] == [
        EventKind.CONTROLLER_SUBMITTED,
        EventKind.CONTROLLER_SLOT_TRANSITION,
        EventKind.TASK_ADD_REQUESTED,
        EventKind.CONTROLLER_SLOT_TRANSITION,
        EventKind.TASK_ADDED,
        EventKind.TASK_STARTING,
    ]
    submitted = evs[0]
    assert (submitted.task_id, submitted.task) == (tid, "a")
    assert submitted.reason is not None
    assert "'s'" in submitted.reason
    assert "QUEUE" in submitted.reason
    moves = [
        (e.task, e.task_id, e.reason) for e in evs if e.kind is EventKind.CONTROLLER_SLOT_TRANSITION
    ]
    assert moves == [("s", None, "IDLE -> ADMITTING"), ("s", tid, "ADMITTING -> RUNNING")]


def test_slot_defaults_to_the_task_name() -> None:
    c = core()
    tid, _ = submit(c, "poller", slot=None)
    assert snapshot(c) == [("poller", SlotStatus.RUNNING, tid, 0)]
    assert ControllerSpec(spec("poller")).slot == "poller"


def test_submit_without_a_controller_is_refused_by_the_core() -> None:
    s = fsm.SupervisorState.initial(CoreConfig())
    with pytest.raises(ValueError, match="controller"):
        fsm.step(s, Submit(1, TaskId(1), ControllerSpec(spec("a"))), 0, random.Random(0))


@pytest.mark.parametrize("field", ["queue_capacity", "max_slot_queue"])
@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_controller_config_rejects_bad_capacities(field: str, bad: object) -> None:
    with pytest.raises(fsm.ConfigError, match=f"ControllerConfig.{field}"):
        ControllerConfig(**{field: bad})  # type: ignore[arg-type]


def test_controller_spec_rejects_bad_values() -> None:
    with pytest.raises(fsm.ConfigError, match=r"ControllerSpec\.slot"):
        ControllerSpec(spec("a"), slot="")
    with pytest.raises(fsm.ConfigError, match=r"ControllerSpec\.admission"):
        ControllerSpec(spec("a"), "queue")  # type: ignore[arg-type]
    with pytest.raises(fsm.ConfigError, match=r"ControllerSpec\.task_spec"):
        ControllerSpec("a")  # type: ignore[arg-type]


# -- QUEUE --------------------------------------------------------------------------------


def test_queue_drains_three_submissions_in_fifo_order() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    queued = [submit(c, f"w{i}")[0] for i in (1, 2, 3)]
    assert snapshot(c) == [("s", SlotStatus.RUNNING, owner, 3)]
    order = []
    current = owner
    for _ in queued:
        effects = finish(c, current)
        (current,) = started(effects)
        # The next one starts in the very step its predecessor is fully gone, after its Finished.
        assert index_of(effects, Finished, order[-1] if order else owner) < index_of(
            effects, StartAttempt, current
        )
        order.append(current)
    assert order == queued
    finish(c, current)
    assert snapshot(c) == []
    c.drain()
    c.verify()


def test_queue_beyond_max_slot_queue_is_rejected_queue_full() -> None:
    c = core(max_slot_queue=2)
    owner, _ = submit(c, "w0")
    q1, _ = submit(c, "w1")
    q2, _ = submit(c, "w2")
    full, effects = submit(c, "w3")
    assert reply(effects).rejection is RejectionKind.QUEUE_FULL
    assert_rejected(c, full, RejectionKind.QUEUE_FULL)
    assert snapshot(c) == [("s", SlotStatus.RUNNING, owner, 2)]
    # The queue is not disturbed: the two queued ones still run in order.
    (nxt,) = started(finish(c, owner))
    assert nxt == q1
    assert started(finish(c, q1)) == [q2]


# -- DROP_IF_RUNNING ------------------------------------------------------------------------


def test_drop_if_running_on_a_busy_slot_is_rejected_slot_busy() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    dropped, effects = submit(c, "w1", DROP)
    assert reply(effects).rejection is RejectionKind.SLOT_BUSY
    assert_rejected(c, dropped, RejectionKind.SLOT_BUSY)
    assert started(effects) == []
    assert snapshot(c) == [("s", SlotStatus.RUNNING, owner, 0)]


def test_drop_if_running_is_rejected_while_the_owner_is_terminating() -> None:
    c = core()
    submit(c, "w0")
    newcomer, _ = submit(c, "w1", REPLACE)
    dropped, _ = submit(c, "w2", DROP)
    assert_rejected(c, dropped, RejectionKind.SLOT_BUSY)
    assert snapshot(c)[0][1] is SlotStatus.TERMINATING
    assert c.outcomes.get(newcomer) is None


def test_drop_if_running_starts_once_the_slot_is_free_again() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    finish(c, owner)
    assert snapshot(c) == []
    tid, effects = submit(c, "w1", DROP)
    assert started(effects) == [tid]


# -- REPLACE --------------------------------------------------------------------------------


def test_replace_takes_the_head_supersedes_the_old_head_and_keeps_the_rest() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    q1, _ = submit(c, "w1")
    q2, _ = submit(c, "w2")
    newcomer, effects = submit(c, "w3", REPLACE)
    assert reply(effects).rejection is None
    assert_rejected(c, q1, RejectionKind.SUPERSEDED_BY_REPLACE)
    assert [sub.task_id for sub in c.state.slots["s"].queue] == [newcomer, q2]
    # The owner is asked to stop: REMOVE_REQUESTED, then a cooperative cancel.
    kinds = [e.kind for e in events(effects) if e.task_id == owner]
    assert kinds == [EventKind.CONTROLLER_SLOT_TRANSITION, EventKind.TASK_REMOVE_REQUESTED]
    assert RequestCancel(owner, 1) in effects
    assert snapshot(c) == [("s", SlotStatus.TERMINATING, owner, 2)]
    assert started(effects) == []


def test_replace_starts_the_newcomer_only_once_the_owner_is_fully_gone() -> None:
    c = core(grace=1.0)
    owner, _ = submit(c, "w0")
    newcomer, effects = submit(c, "w1", REPLACE)
    assert started(effects) == []
    # Grace runs out: the owner is forced, but it is not gone yet; the slot waits.
    effects = c.fire_next()
    assert fsm.ForceCancel(owner, 1) in effects
    assert started(effects) == []
    # Its attempt ends: TASK_REMOVED and Finished, and only then the newcomer starts.
    effects = finish(c, owner, EndKind.INTERRUPTED)
    assert c.outcomes[owner].kind is OutcomeKind.FORCE_ABORTED
    assert index_of(effects, Finished, owner) < index_of(effects, StartAttempt, newcomer)
    assert snapshot(c) == [("s", SlotStatus.RUNNING, newcomer, 0)]


def test_a_removal_reply_does_not_free_the_slot() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    queued, _ = submit(c, "w1")
    effects = c.feed(Remove(c.ticket(), task_id=owner))
    assert RemoveReply(c._ticket, True, owner) in effects
    assert started(effects) == []
    assert queued not in c.added
    assert snapshot(c) == [("s", SlotStatus.RUNNING, owner, 1)]
    effects = finish(c, owner, EndKind.CANCELED)
    assert index_of(effects, Finished, owner) < index_of(effects, StartAttempt, queued)


def test_replace_of_an_owner_in_backoff_cancels_it_and_starts_at_once() -> None:
    c = core()
    tid = c.new_id()
    cspec = ControllerSpec(TaskSpec.restartable(TaskFn("w0", _body)), QUEUE, "s")
    c.feed(Submit(c.ticket(), tid, cspec))
    finish(c, tid, EndKind.FAILED)
    assert c.state.tasks[tid].phase is fsm.Phase.BACKOFF
    newcomer, effects = submit(c, "w1", REPLACE)
    assert c.outcomes[tid].kind is OutcomeKind.CANCELED
    assert index_of(effects, Finished, tid) < index_of(effects, StartAttempt, newcomer)


def test_replace_while_terminating_supersedes_the_previous_newcomer_only() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    first, _ = submit(c, "w1", REPLACE)
    second, effects = submit(c, "w2", REPLACE)
    assert_rejected(c, first, RejectionKind.SUPERSEDED_BY_REPLACE)
    # The owner was already asked to stop: no second request, no second cancel.
    assert not any(isinstance(e, RequestCancel) for e in effects)
    assert [e.task_id for e in events(effects) if e.kind is EventKind.TASK_REMOVE_REQUESTED] == []
    assert started(finish(c, owner, EndKind.CANCELED)) == [second]


def test_fifty_replaces_into_one_slot_settle_to_the_last() -> None:
    c = core(grace=0.5)
    tids = []
    for i in range(50):
        tid, _ = submit(c, f"r{i}", REPLACE)
        tids.append(tid)
        if i % 3 == 2:  # sometimes the owner ends before the next REPLACE arrives
            for running in list(c.in_flight):
                finish(c, running, EndKind.CANCELED)
        slot_tasks = [t for t in c.in_flight if t in tids]
        assert len(slot_tasks) <= 1, "exactly one runs at a time (I6)"
    for running in list(c.in_flight):
        if running != tids[-1]:
            finish(c, running, EndKind.CANCELED)
    assert list(c.in_flight) == [tids[-1]]
    assert snapshot(c) == [("s", SlotStatus.RUNNING, tids[-1], 0)]
    for tid in tids[:-1]:
        outcome = c.outcomes[tid]
        assert (outcome.kind, outcome.rejection) in {
            (OutcomeKind.REJECTED, RejectionKind.SUPERSEDED_BY_REPLACE),
            (OutcomeKind.CANCELED, None),
        }, (tid, outcome)
    assert {c.outcomes[t].kind for t in tids[:-1]} == {OutcomeKind.REJECTED, OutcomeKind.CANCELED}
    c.drain()
    c.verify()


# -- removal of queued work ---------------------------------------------------------------


@pytest.mark.parametrize("by", ["id", "name"])
def test_removing_a_queued_submission_rejects_it_before_it_ever_starts(by: str) -> None:
    c = core()
    owner, _ = submit(c, "w0")
    doomed, _ = submit(c, "w1")
    kept, _ = submit(c, "w2")
    remove = Remove(c.ticket(), task_id=doomed) if by == "id" else Remove(c.ticket(), name="w1")
    effects = c.feed(remove)
    assert RemoveReply(remove.ticket, True, doomed) in effects
    assert_rejected(c, doomed, RejectionKind.REMOVED_FROM_QUEUE)
    assert snapshot(c) == [("s", SlotStatus.RUNNING, owner, 1)]
    assert started(finish(c, owner)) == [kept]
    # A second removal finds nothing to claim.
    assert RemoveReply(c._ticket + 1, False, doomed) in c.feed(Remove(c.ticket(), task_id=doomed))


def test_removal_by_name_prefers_the_live_task_over_a_queued_namesake() -> None:
    c = core()
    live = c.new_id()
    c.feed(AddTasks(c.ticket(), ((live, spec("dup")),)))
    _owner, _ = submit(c, "w0")
    queued, _ = submit(c, "dup")
    effects = c.feed(Remove(c.ticket(), name="dup"))
    assert RemoveReply(c._ticket, True, live) in effects
    assert queued not in c.outcomes


# -- shutdown -----------------------------------------------------------------------------


def test_shutdown_rejects_every_queued_submission_and_starts_none() -> None:
    c = core()
    owner, _ = submit(c, "w0")
    queued = [submit(c, f"w{i}")[0] for i in (1, 2, 3)]
    other, _ = submit(c, "x0", slot="t")
    effects = c.feed(Shutdown())
    for tid in queued:
        assert_rejected(c, tid, RejectionKind.CONTROLLER_SHUTTING_DOWN)
    assert started(effects) == []
    assert snapshot(c) == [
        ("s", SlotStatus.TERMINATING, owner, 0),
        ("t", SlotStatus.TERMINATING, other, 0),
    ]
    effects = finish(c, owner, EndKind.CANCELED)
    assert started(effects) == []
    assert snapshot(c) == [("t", SlotStatus.TERMINATING, other, 0)]
    c.drain()
    c.verify()
    assert snapshot(c) == []


def test_an_owner_whose_failure_shuts_the_supervisor_down_hands_its_slot_to_nobody() -> None:
    # A critical owner ends FATAL: its slot is freed, but the shutdown that follows rejects the
    # queue, so no queued submission starts only to be cancelled at once.
    c = core()
    owner = c.new_id()
    c.feed(Submit(c.ticket(), owner, ControllerSpec(spec("w0", critical=True), QUEUE, "s")))
    queued = [submit(c, f"w{i}")[0] for i in (1, 2)]
    effects = finish(c, owner, EndKind.FATAL)
    assert c.state.escalation is not None
    assert started(effects) == []
    for tid in queued:
        assert_rejected(c, tid, RejectionKind.CONTROLLER_SHUTTING_DOWN)
    assert snapshot(c) == []
    c.verify()


def test_submit_after_shutdown_is_rejected_controller_shutting_down() -> None:
    c = core()
    c.feed(Shutdown())
    tid, effects = submit(c, "late")
    assert reply(effects).rejection is RejectionKind.CONTROLLER_SHUTTING_DOWN
    assert_rejected(c, tid, RejectionKind.CONTROLLER_SHUTTING_DOWN)


# -- names ------------------------------------------------------------------------------


def test_a_duplicate_name_in_another_slot_is_rejected_already_exists_at_admission() -> None:
    c = core()
    first, _ = submit(c, "x", slot="s0")
    dup, effects = submit(c, "x", slot="s1")
    assert reply(effects).rejection is None  # accepted by the slot; refused by the registry
    assert_rejected(c, dup, RejectionKind.ALREADY_EXISTS)
    moves = [e.reason for e in events(effects) if e.kind is EventKind.CONTROLLER_SLOT_TRANSITION]
    assert moves == ["IDLE -> ADMITTING", "ADMITTING -> IDLE"]
    assert snapshot(c) == [("s0", SlotStatus.RUNNING, first, 0)]


def test_after_a_name_clash_the_slot_moves_on_to_the_next_in_line() -> None:
    c = core()
    submit(c, "x", slot="s0")
    owner, _ = submit(c, "y", slot="s1")
    dup, _ = submit(c, "x", slot="s1")
    nxt, _ = submit(c, "z", slot="s1")
    effects = finish(c, owner)
    assert_rejected(c, dup, RejectionKind.ALREADY_EXISTS)
    assert started(effects) == [nxt]
    moves = [e.reason for e in events(effects) if e.kind is EventKind.CONTROLLER_SLOT_TRANSITION]
    assert moves == ["RUNNING -> ADMITTING", "ADMITTING -> ADMITTING", "ADMITTING -> RUNNING"]


def test_the_next_owner_may_reuse_the_previous_owners_name() -> None:
    c = core()
    first, _ = submit(c, "w")
    second, _ = submit(c, "w")
    effects = finish(c, first)
    assert started(effects) == [second]
    assert c.added[second] == "w"
    # By id: the submission's own events, the slot's transition naming it, then its lifecycle.
    lifecycle = ["TASK_ADDED", "TASK_STARTING", "TASK_STOPPED", "ACTOR_EXHAUSTED", "TASK_REMOVED"]
    assert_event_sequence(
        c.events,
        ["CONTROLLER_SUBMITTED", "TASK_ADD_REQUESTED", "CONTROLLER_SLOT_TRANSITION", *lifecycle],
        task=first,
    )
    # By name: both tasks' lifecycles, one after the other (the slot's own events are left out).
    assert_event_sequence(
        c.events,
        [
            "CONTROLLER_SUBMITTED",
            "TASK_ADD_REQUESTED",
            "TASK_ADDED",
            "TASK_STARTING",
            "CONTROLLER_SUBMITTED",
            "TASK_STOPPED",
            "ACTOR_EXHAUSTED",
            "TASK_REMOVED",
            "TASK_ADD_REQUESTED",
            "TASK_ADDED",
            "TASK_STARTING",
        ],
        task="w",
    )


# -- stale reports ------------------------------------------------------------------------


@pytest.mark.parametrize("end", list(EndKind))
def test_a_stale_or_duplicate_end_of_a_gone_owner_never_moves_a_slot(end: EndKind) -> None:
    c = core()
    first, _ = submit(c, "w0")
    second, _ = submit(c, "w1")
    finish(c, first)
    before = c.state
    assert c.feed(AttemptEnded(first, 1, end)) == []  # duplicate of the end the core took
    assert c.feed(AttemptEnded(first, 2, end)) == []  # an attempt that never started
    assert c.state == before
    assert snapshot(c) == [("s", SlotStatus.RUNNING, second, 0)]


def test_the_late_end_of_an_abandoned_owner_never_moves_a_slot() -> None:
    c = core(grace=0.0)
    owner, _ = submit(c, "w0")
    newcomer, _ = submit(c, "w1", REPLACE)  # grace 0: forced at once
    third, _ = submit(c, "w2")
    effects = c.fire_next()  # force-wait runs out: abandoned, gone; the newcomer starts
    assert fsm.Abandon(owner, 1) in effects
    assert started(effects) == [newcomer]
    assert c.feed(AttemptEnded(owner, 1, EndKind.CANCELED)) == []
    assert snapshot(c) == [("s", SlotStatus.RUNNING, newcomer, 1)]
    assert third not in c.added


# -- scale ------------------------------------------------------------------------------


def test_128_distinct_slots_all_run_at_once() -> None:
    c = core()
    tids = [submit(c, f"t{i}", slot=f"slot{i:03}")[0] for i in range(128)]
    assert sorted(c.in_flight) == tids
    snap = controller_snapshot(c.state)
    assert snap == [SlotSnapshot(f"slot{i:03}", SlotStatus.RUNNING, tids[i], 0) for i in range(128)]
    for tid in tids:
        finish(c, tid)
    assert controller_snapshot(c.state) == []
    assert len(c.state.slots) == 0  # idle slots are forgotten (bounded memory)


def test_controller_snapshot_reports_status_owner_and_depth_sorted_by_slot() -> None:
    c = core()
    assert controller_snapshot(c.state) == []
    b_owner, _ = submit(c, "b0", slot="b")
    a_owner, _ = submit(c, "a0", slot="a")
    submit(c, "a1", slot="a")
    submit(c, "a2", slot="a")
    submit(c, "b1", REPLACE, slot="b")
    assert controller_snapshot(c.state) == [
        SlotSnapshot("a", SlotStatus.RUNNING, a_owner, 2),
        SlotSnapshot("b", SlotStatus.TERMINATING, b_owner, 1),
    ]


# -- every transition of the table --------------------------------------------------------


def _all_moves() -> set[tuple[SlotStatus, SlotTrigger, SlotStatus]]:
    return {
        (source, trigger, target)
        for (source, trigger), targets in SLOT_TRANSITIONS.items()
        for target in targets
    }


def test_zz_every_slot_transition_was_exercised(request: pytest.FixtureRequest) -> None:
    module_tests = {name for name in vars(request.module) if name.startswith("test_")}
    ran = {name.split("[")[0] for name in _MOVES} | {request.node.name}
    if module_tests - ran:
        pytest.skip("run the whole module to measure transition coverage")
    seen = set().union(*_MOVES.values())
    missing = sorted(_all_moves() - seen, key=str)
    assert not missing, "slot transitions no test exercised:\n" + "\n".join(
        f"  {a.name} --{t.name}--> {b.name}" for a, t, b in missing
    )
    assert seen <= _all_moves()
