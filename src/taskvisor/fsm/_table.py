"""The task lifecycle as data: phases, triggers and the legal transitions (h11's rule).

Owns: ``Phase``, ``Trigger``, ``TRANSITIONS`` and ``CancelCause`` (what a STOPPING task stops
for). The supervisor machine moves a task only through ``check_move``, which consults this
table, and ``docs/spec/lifecycle.md`` is generated from the same table, so the docs cannot
drift from the code. Must not import I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = ["TRANSITIONS", "CancelCause", "IllegalTransition", "Phase", "Trigger", "check_move"]


class Phase(enum.Enum):
    """Where one supervised task stands."""

    # Identity hashing in C: ``Enum.__hash__`` is Python code in CPython 3.11 (it hashes the
    # name), and the table below is looked up by (phase, trigger) on every move. Members are
    # singletons compared by identity, so hashing by identity is the same equivalence.
    __hash__ = object.__hash__

    NEW = "new"  # being added; not yet in the registry
    WAITING = "waiting"  # ready to start, waiting for a run permit (max_concurrent)
    RUNNING = "running"  # an attempt runs
    BACKOFF = "backoff"  # between attempts (or before the first: start jitter), until its deadline
    STOPPING = "stopping"  # its attempt was asked (or forced) to stop; waiting for it to end
    GONE = "gone"  # left the registry with an outcome (terminal)


class Trigger(enum.Enum):
    """What moves a task."""

    __hash__ = object.__hash__  # as Phase's: keys the table without Python-level hashing

    ADMIT = "admit"  # accepted by AddTasks
    PERMIT = "permit"  # a run permit became free
    END_RESTART = "end, restart"  # attempt ended; the policy restarts it after a pause
    END_FINAL = "end, final"  # attempt ended; the task is done
    CANCEL = "cancel"  # remove/cancel/shutdown
    TIMEOUT = "timeout"  # the attempt's timeout deadline passed
    DEADLINE = "deadline"  # a backoff, grace or force-wait deadline passed
    BUDGET = "no token"  # a restart's deadline passed with no token in its retry budget


class CancelCause(enum.Enum):
    """Why a running attempt is being stopped (what a STOPPING task is stopping for)."""

    REMOVE = "remove"
    SHUTDOWN = "shutdown"
    TIMEOUT = "timeout"
    WATCHDOG = "watchdog"  # no heartbeat within ``watchdog`` (ended like a timeout)


P, T = Phase, Trigger

#: (from phase, trigger) -> phases it may move to.
TRANSITIONS: Mapping[tuple[Phase, Trigger], frozenset[Phase]] = {
    (P.NEW, T.ADMIT): frozenset({P.RUNNING, P.WAITING, P.BACKOFF}),  # BACKOFF: start jitter
    (P.WAITING, T.PERMIT): frozenset({P.RUNNING}),
    (P.WAITING, T.CANCEL): frozenset({P.GONE}),
    (P.RUNNING, T.END_RESTART): frozenset({P.BACKOFF}),
    (P.RUNNING, T.END_FINAL): frozenset({P.GONE}),
    (P.RUNNING, T.CANCEL): frozenset({P.STOPPING}),
    (P.RUNNING, T.TIMEOUT): frozenset({P.STOPPING}),
    (P.BACKOFF, T.DEADLINE): frozenset({P.RUNNING, P.WAITING}),
    (P.BACKOFF, T.CANCEL): frozenset({P.GONE}),
    (P.BACKOFF, T.BUDGET): frozenset({P.BACKOFF}),  # waits for its retry budget's token (I9)
    (P.STOPPING, T.END_RESTART): frozenset({P.BACKOFF}),  # a timed-out attempt ended
    (P.STOPPING, T.END_FINAL): frozenset({P.GONE}),
    (P.STOPPING, T.CANCEL): frozenset({P.STOPPING}),  # a removal takes over a timeout
    (P.STOPPING, T.DEADLINE): frozenset({P.STOPPING, P.GONE}),  # force, then abandon
}

del P, T


class IllegalTransition(AssertionError):
    """The machine tried a move the table does not allow: a bug in the core."""


#: Every allowed move as one (source, trigger, target) key: one lookup per move, and phases
#: and triggers hash in C (no Enum.__hash__ on the hot path).
_ALLOWED = frozenset(
    (source, trigger, target)
    for (source, trigger), targets in TRANSITIONS.items()
    for target in targets
)


def check_move(source: Phase, trigger: Trigger, target: Phase) -> None:
    """Raise ``IllegalTransition`` unless ``TRANSITIONS`` allows the move."""
    if (source, trigger, target) not in _ALLOWED:
        raise IllegalTransition(f"{source.name} --{trigger.name}--> {target.name}")
