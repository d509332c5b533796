"""``LogSubscriber``: the supervisor's events, written to the standard ``logging`` module.

Owns: the level each event is logged at, its one-line message, and the structured ``extra``
it carries. It is an ordinary plain subscriber, so the event bus calls it from a worker thread
and a blocking logging handler never stalls the event loop (rule 7). Must not import the driver,
the event bus, or any async backend.
"""

from __future__ import annotations

import logging

from taskvisor._errors import ConfigError
from taskvisor.fsm import BackoffSource, Event, EventKind, OutcomeKind

__all__ = [
    "EXTRA_PREFIX",
    "LogSubscriber",
    "event_extra",
    "event_fields",
    "event_level",
    "event_message",
]

EK = EventKind
_DEBUG, _INFO, _WARNING, _ERROR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR

# The level of each kind whose level does not depend on its fields (see the class docstring).
_LEVELS: dict[EventKind, int] = {
    EK.TASK_ADD_REQUESTED: _DEBUG,
    EK.TASK_ADDED: _INFO,
    EK.TASK_ADD_FAILED: _WARNING,
    EK.TASK_STARTING: _DEBUG,
    EK.TASK_STOPPED: _DEBUG,
    EK.TASK_FAILED: _WARNING,
    EK.TASK_CANCELED: _DEBUG,
    EK.TIMEOUT_HIT: _WARNING,
    EK.ACTOR_DEAD: _ERROR,
    EK.TASK_REMOVE_REQUESTED: _DEBUG,
    EK.SHUTDOWN_REQUESTED: _INFO,
    EK.ALL_STOPPED_WITHIN_GRACE: _INFO,
    EK.GRACE_EXCEEDED: _ERROR,
    EK.SUBSCRIBER_OVERFLOW: _WARNING,
    EK.SUBSCRIBER_PANICKED: _ERROR,
    EK.CONTROLLER_SUBMITTED: _INFO,
    EK.CONTROLLER_REJECTED: _WARNING,
    EK.CONTROLLER_SLOT_TRANSITION: _INFO,
    EK.RUNTIME_FAILURE: _ERROR,
}

# TASK_REMOVED and ACTOR_EXHAUSTED: by outcome (None counts as normal).
_OUTCOME_LEVELS: dict[OutcomeKind, int] = {
    OutcomeKind.COMPLETED: _INFO,
    OutcomeKind.CANCELED: _INFO,
    OutcomeKind.FAILED: _WARNING,
    OutcomeKind.FORCE_ABORTED: _WARNING,
    OutcomeKind.REJECTED: _WARNING,
    OutcomeKind.FATAL: _ERROR,
}


def event_level(event: Event) -> int:
    """The ``logging`` level ``LogSubscriber`` writes ``event`` at."""
    kind = event.kind
    if kind is EK.BACKOFF_SCHEDULED:
        # A pause after a success (``always(interval)``) or before a first start is routine;
        # after a failure (or waiting for a retry budget's token) it is not.
        source = event.backoff_source
        routine = source is BackoffSource.SUCCESS or source is BackoffSource.START
        return _DEBUG if routine else _WARNING
    if kind is EK.TASK_REMOVED or kind is EK.ACTOR_EXHAUSTED:
        return _INFO if event.outcome is None else _OUTCOME_LEVELS[event.outcome]
    return _LEVELS.get(kind, _INFO)


def _subject(event: Event) -> str:
    task = event.task if event.task is not None else str(event.task_id)
    if event.attempt is not None:
        return f"task {task} attempt {event.attempt}"
    return f"task {task}"


def _because(event: Event) -> str:
    return f": {event.reason}" if event.reason else ""


def _exit(event: Event) -> str:
    return f" (exit code {event.exit_code})" if event.exit_code is not None else ""


def _outcome(event: Event) -> str:
    return event.outcome.name if event.outcome is not None else "ended"


def event_message(event: Event) -> str:
    """One readable line about ``event``, e.g. ``task flaky attempt 2 failed: boom``."""
    kind = event.kind
    who = _subject(event)
    if kind is EK.TASK_ADD_REQUESTED:
        return f"task {event.task} add requested"
    if kind is EK.TASK_ADDED:
        return f"task {event.task} added"
    if kind is EK.TASK_ADD_FAILED:
        why = event.rejection.name if event.rejection is not None else "rejected"
        return f"task {event.task} add failed ({why}){_because(event)}"
    if kind is EK.TASK_STARTING:
        return f"{who} starting"
    if kind is EK.TASK_STOPPED:
        took = f" after {event.duration:.3f}s" if event.duration is not None else ""
        return f"{who} stopped{took}"
    if kind is EK.TASK_FAILED:
        return f"{who} failed{_because(event)}{_exit(event)}"
    if kind is EK.TASK_CANCELED:
        return f"{who} canceled{_because(event)}"
    if kind is EK.TIMEOUT_HIT:
        limit = f" after {event.timeout:g}s" if event.timeout is not None else ""
        return f"{who} timed out{limit}"
    if kind is EK.BACKOFF_SCHEDULED:
        delay = f"{event.delay or 0.0:.3f}s"
        source = event.backoff_source
        if source is BackoffSource.START:
            return f"task {event.task} starts in {delay} (start jitter)"
        if source is BackoffSource.BUDGET:
            return f"task {event.task} restarts in {delay} more{_because(event)}"
        after = "success" if source is BackoffSource.SUCCESS else "failure"
        extra = " (retry-after)" if source is BackoffSource.RETRY_AFTER else ""
        return f"task {event.task} restarts in {delay} after {after}{extra}"
    if kind is EK.ACTOR_EXHAUSTED:
        return f"task {event.task} finished: {_outcome(event)}{_because(event)}{_exit(event)}"
    if kind is EK.ACTOR_DEAD:
        return f"task {event.task} dead: {_outcome(event)}{_because(event)}{_exit(event)}"
    if kind is EK.TASK_REMOVE_REQUESTED:
        return f"task {event.task} remove requested"
    if kind is EK.TASK_REMOVED:
        return f"task {event.task} removed: {_outcome(event)}"
    if kind is EK.SHUTDOWN_REQUESTED:
        return "shutdown requested"
    if kind is EK.ALL_STOPPED_WITHIN_GRACE:
        return "all tasks stopped within grace"
    if kind is EK.GRACE_EXCEEDED:
        return f"grace exceeded{_because(event)}"
    if kind is EK.SUBSCRIBER_OVERFLOW:
        return f"subscriber {event.task} overflow{_because(event)}"
    if kind is EK.SUBSCRIBER_PANICKED:
        return f"subscriber {event.task} panicked{_because(event)}"
    if kind is EK.CONTROLLER_REJECTED:
        why = event.rejection.name if event.rejection is not None else "rejected"
        return f"controller rejected task {event.task} ({why}){_because(event)}"
    if kind is EK.CONTROLLER_SUBMITTED:
        return f"controller accepted task {event.task}{_because(event)}"
    if kind is EK.CONTROLLER_SLOT_TRANSITION:
        # For slot transitions ``task`` is the slot's name (docs/spec/core.md).
        return f"controller slot {event.task}{_because(event) or ': changed'}"
    # RUNTIME_FAILURE, and any kind added later: the kind and whatever fields it has.
    return f"{kind.name.lower().replace('_', ' ')}{_because(event)}"


#: The prefix of every ``Event`` field in a log record's ``extra`` (``record.taskvisor_task``).
EXTRA_PREFIX = "taskvisor_"


def event_extra(event: Event) -> dict[str, object]:
    """``event_fields(event)`` under ``taskvisor_*`` keys: the ``extra`` of a log record.

    Flat keys, so a JSON formatter reading ``record.__dict__`` or structlog's ``ExtraAdder``
    finds each field as it is, with no parsing (docs/spec/api.md section 9).
    """
    return {EXTRA_PREFIX + key: value for key, value in event_fields(event).items()}


def event_fields(event: Event) -> dict[str, object]:
    """Every field of ``event`` as a plain value (enums by name, ``TaskId`` as its int)."""
    return {
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind.name,
        "task_id": event.task_id.value if event.task_id is not None else None,
        "task": event.task,
        "attempt": event.attempt,
        "reason": event.reason,
        "delay": event.delay,
        "timeout": event.timeout,
        "duration": event.duration,
        "exit_code": event.exit_code,
        "backoff_source": event.backoff_source.name if event.backoff_source else None,
        "outcome": event.outcome.name if event.outcome is not None else None,
        "rejection": event.rejection.name if event.rejection is not None else None,
        "decision": _decision(event),
    }


def _decision(event: Event) -> dict[str, object] | None:
    """``Event.decision`` as plain values (docs/spec/api.md section 8), or None."""
    d = event.decision
    if d is None:
        return None
    return {
        "retry": d.retry,
        "base": d.base,
        "jitter": d.jitter.name if d.jitter is not None else None,
        "source": d.source.name if d.source is not None else None,
        "budget_wait": d.budget_wait,
        "rule": d.rule,
    }


class LogSubscriber:
    """Writes each event to ``logging``, under the logger ``taskvisor`` unless given another.

    Each record's message is one readable line (``task flaky attempt 2 failed: boom``) and its
    ``extra`` holds every event field as a plain value under a ``taskvisor_`` key
    (``taskvisor_seq``, ``taskvisor_at``, ``taskvisor_kind`` (the kind's name),
    ``taskvisor_task_id`` (an int), ``taskvisor_task``, ``taskvisor_attempt``,
    ``taskvisor_reason``, ``taskvisor_delay``, ``taskvisor_timeout``, ``taskvisor_duration``,
    ``taskvisor_exit_code``, ``taskvisor_backoff_source``, ``taskvisor_outcome``,
    ``taskvisor_rejection``, ``taskvisor_decision`` (a dict of the decision's fields); enums by
    name, None when absent), so JSON and structlog formatters
    need no parsing (docs/recipes.md). Nothing is formatted when the event's level is disabled.
    It is a plain subscriber: the event bus calls it from a worker thread, so a slow or
    blocking handler never stalls the supervisor.

    Levels:

    ===========  ==================================================================
    level        events
    ===========  ==================================================================
    DEBUG        TASK_ADD_REQUESTED, TASK_STARTING, TASK_STOPPED, TASK_CANCELED,
                 TASK_REMOVE_REQUESTED, BACKOFF_SCHEDULED after a success or before a
                 first start (start jitter)
    INFO         TASK_ADDED, SHUTDOWN_REQUESTED, ALL_STOPPED_WITHIN_GRACE,
                 CONTROLLER_SUBMITTED, CONTROLLER_SLOT_TRANSITION; TASK_REMOVED and
                 ACTOR_EXHAUSTED with outcome COMPLETED or CANCELED (or none)
    WARNING      TASK_FAILED, TIMEOUT_HIT, BACKOFF_SCHEDULED after a failure,
                 TASK_ADD_FAILED, SUBSCRIBER_OVERFLOW, CONTROLLER_REJECTED;
                 TASK_REMOVED and ACTOR_EXHAUSTED with outcome FAILED, FORCE_ABORTED
                 or REJECTED
    ERROR        ACTOR_DEAD, GRACE_EXCEEDED, SUBSCRIBER_PANICKED, RUNTIME_FAILURE;
                 TASK_REMOVED and ACTOR_EXHAUSTED with outcome FATAL
    ===========  ==================================================================

    Args:
        logger: where to write (default: ``logging.getLogger("taskvisor")``).
        name: the subscriber's name in diagnostics.
        queue_capacity: its event queue's capacity (>= 1).

    Raises:
        ConfigError: ``name`` empty or ``queue_capacity`` not an int >= 1.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        name: str = "log",
        queue_capacity: int = 1024,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError("LogSubscriber.name", f"expected a non-empty str, got {name!r}")
        if (
            isinstance(queue_capacity, bool)
            or not isinstance(queue_capacity, int)
            or queue_capacity < 1
        ):
            raise ConfigError(
                "LogSubscriber.queue_capacity", f"expected an int >= 1, got {queue_capacity!r}"
            )
        self.logger = logger if logger is not None else logging.getLogger("taskvisor")
        self.name = name
        self.queue_capacity = queue_capacity

    def on_event(self, event: Event) -> None:
        """Log ``event`` at its level (a no-op when that level is disabled)."""
        level = event_level(event)
        if not self.logger.isEnabledFor(level):
            return
        self.logger.log(level, event_message(event), extra=event_extra(event))

    def __repr__(self) -> str:
        return f"LogSubscriber(logger={self.logger.name!r}, name={self.name!r})"
