"""Event-sequence assertions with a readable diff (docs/spec/api.md section 5's per-task tables).

Owns: ``event_kinds`` and ``assert_event_sequence``. Plain Python: no Hypothesis and no pytest,
so it works in any test runner and with the runtime's recorded events as well as the core's.
Must not import I/O, Hypothesis or pytest.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from types import EllipsisType

from taskvisor.fsm import Event, EventKind, TaskId

__all__ = ["assert_event_sequence", "event_kinds"]

Expected = EventKind | str | EllipsisType


def event_kinds(events: Iterable[Event], task: TaskId | str | None = None) -> list[EventKind]:
    """The kinds of ``events`` in order, restricted to one task when ``task`` is given.

    Args:
        events: events in publication order (``Publish.event`` values, or a subscriber's log).
        task: a ``TaskId`` keeps the events that carry that id (a slot's transitions name their
            owner, so they are kept too); a name keeps the events that carry a task id and
            whose ``task`` is that name; ``None`` keeps everything.
    """
    return [ev.kind for ev in events if _matches(ev, task)]


def _matches(ev: Event, task: TaskId | str | None) -> bool:
    if task is None:
        return True
    if isinstance(task, TaskId):
        return ev.task_id == task
    # By name: task lifecycle events only. Slot transitions reuse the slot's name (which is the
    # task's name by default) and diagnostics carry a subscriber's name; neither is the task's.
    return (
        ev.task == task
        and ev.task_id is not None
        and ev.kind is not EventKind.CONTROLLER_SLOT_TRANSITION
    )


def _kind(item: EventKind | str) -> EventKind:
    if isinstance(item, EventKind):
        return item
    try:
        return EventKind[item]
    except KeyError:
        raise ValueError(f"expected_kinds: {item!r} is not an EventKind name") from None


def _fits(actual: Sequence[EventKind], pattern: Sequence[EventKind | None]) -> bool:
    """Whether ``actual`` matches ``pattern``, where ``None`` stands for any run (maybe empty)."""
    # Classic wildcard matching by dynamic programming over (pattern prefix, actual prefix).
    reach = [True] + [False] * len(actual)
    for item in pattern:
        if item is None:
            for j in range(1, len(reach)):
                reach[j] = reach[j] or reach[j - 1]
        else:
            reach = [False] + [reach[j] and actual[j] is item for j in range(len(actual))]
    return reach[-1]


def assert_event_sequence(
    events: Iterable[Event],
    expected_kinds: Sequence[Expected],
    task: TaskId | str | None = None,
) -> None:
    """Assert that the events (of one task) have exactly the expected kinds, in order.

    ``expected_kinds`` holds ``EventKind`` members or their names; ``...`` stands for any run of
    events, possibly empty (``[TASK_STARTING, ..., TASK_REMOVED]``). Other tasks' events may
    interleave: pass ``task`` to look at one task (see ``event_kinds``).

    Raises:
        AssertionError: with a line-by-line diff of expected and actual kinds on mismatch.
        ValueError: an expected item is not an ``EventKind`` (or its name, or ``...``).

    Example:
        >>> assert_event_sequence(
        ...     events, ["TASK_ADD_REQUESTED", "TASK_ADDED", ..., "TASK_REMOVED"], task="flaky"
        ... )  # doctest: +SKIP
    """
    events = list(events)
    pattern: list[EventKind | None] = [
        None if item is Ellipsis else _kind(item) for item in expected_kinds
    ]
    actual = event_kinds(events, task)
    if _fits(actual, pattern):
        return
    raise AssertionError(_report(actual, pattern, events, task))


def _report(
    actual: Sequence[EventKind],
    pattern: Sequence[EventKind | None],
    events: Sequence[Event],
    task: TaskId | str | None,
) -> str:
    who = "all events" if task is None else f"events of task {task}"
    kept = [ev for ev in events if _matches(ev, task)]
    lines = [
        f"event sequence mismatch ({who}): expected {len(pattern)} kinds, got {len(actual)}",
        "  ('-' expected but missing, '+' there but not expected, '?' any run)",
    ]

    def got(j: int) -> str:
        ev = kept[j]
        detail = f"   ({ev.reason})" if ev.reason else ""
        return f"{ev.kind.name:<28} seq={ev.seq}{detail}"

    if None in pattern:
        # With wildcards there is no single alignment: show both sides position by position.
        for i, item in enumerate(pattern):
            lines.append(f"? {i:>3} expected {_name(item)}")
        for j in range(len(actual)):
            lines.append(f"  {j:>3} actual   {got(j)}")
        return "\n".join(lines)
    want = [_name(p) for p in pattern]
    have = [kind.name for kind in actual]
    matcher = difflib.SequenceMatcher(a=want, b=have, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(f"  {got(j)}" for j in range(j1, j2))
            continue
        lines.extend(f"- {want[i]}" for i in range(i1, i2))
        lines.extend(f"+ {got(j)}" for j in range(j1, j2))
    return "\n".join(lines)


def _name(item: EventKind | None) -> str:
    return "..." if item is None else item.name
