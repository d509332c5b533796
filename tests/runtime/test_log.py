"""LogSubscriber: level per event, readable message, structured extra, zero cost when disabled."""

from __future__ import annotations

import json
import logging
import threading

import anyio
import pytest

import taskvisor as tv
from taskvisor import (
    BackoffSource,
    ConfigError,
    Event,
    EventKind,
    OutcomeKind,
    RejectionKind,
    TaskId,
)
from taskvisor.runtime import _log
from taskvisor.runtime._bus import EventBus
from taskvisor.runtime._log import LogSubscriber, event_message

EK = EventKind
OK = OutcomeKind
DBG, INF, WRN, ERR = logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR


def ev(kind: EventKind, **fields: object) -> Event:
    fields.setdefault("task", "flaky")
    return Event(7, 1.5, kind, TaskId(3), **fields)  # type: ignore[arg-type]


LEVEL_CASES = [
    (ev(EK.TASK_ADD_REQUESTED), DBG),
    (ev(EK.TASK_ADDED), INF),
    (ev(EK.TASK_ADD_FAILED, rejection=RejectionKind.ALREADY_EXISTS, outcome=OK.REJECTED), WRN),
    (ev(EK.TASK_STARTING, attempt=1), DBG),
    (ev(EK.TASK_STOPPED, attempt=1, duration=0.25), DBG),
    (ev(EK.TASK_FAILED, attempt=2, reason="boom"), WRN),
    (ev(EK.TASK_CANCELED, attempt=1), DBG),
    (ev(EK.TIMEOUT_HIT, attempt=1, timeout=2.0), WRN),
    (ev(EK.BACKOFF_SCHEDULED, delay=0.2, backoff_source=BackoffSource.FAILURE), WRN),
    (ev(EK.BACKOFF_SCHEDULED, delay=5.0, backoff_source=BackoffSource.SUCCESS), DBG),
    (ev(EK.BACKOFF_SCHEDULED, delay=0.5, backoff_source=BackoffSource.START), DBG),
    (ev(EK.BACKOFF_SCHEDULED, delay=1.0, backoff_source=BackoffSource.BUDGET), WRN),
    (ev(EK.BACKOFF_SCHEDULED, delay=9.0, backoff_source=BackoffSource.RETRY_AFTER), WRN),
    (ev(EK.ACTOR_EXHAUSTED, outcome=OK.COMPLETED), INF),
    (ev(EK.ACTOR_EXHAUSTED, outcome=OK.FAILED, reason="retry limit"), WRN),
    (ev(EK.ACTOR_DEAD, outcome=OK.FATAL, reason="bad config"), ERR),
    (ev(EK.TASK_REMOVE_REQUESTED), DBG),
    (ev(EK.TASK_REMOVED, outcome=OK.COMPLETED), INF),
    (ev(EK.TASK_REMOVED, outcome=OK.CANCELED), INF),
    (ev(EK.TASK_REMOVED, outcome=OK.FAILED), WRN),
    (ev(EK.TASK_REMOVED, outcome=OK.FORCE_ABORTED), WRN),
    (ev(EK.TASK_REMOVED, outcome=OK.FATAL), ERR),
    (Event(7, 1.5, EK.SHUTDOWN_REQUESTED), INF),
    (Event(7, 1.5, EK.ALL_STOPPED_WITHIN_GRACE), INF),
    (Event(7, 1.5, EK.GRACE_EXCEEDED, reason="force-cancelled: a"), ERR),
    (Event(7, 1.5, EK.SUBSCRIBER_OVERFLOW, task="log", reason="queue full"), WRN),
    (Event(7, 1.5, EK.SUBSCRIBER_PANICKED, task="log", reason="ValueError: x"), ERR),
    (ev(EK.CONTROLLER_SUBMITTED), INF),
    (ev(EK.CONTROLLER_REJECTED, rejection=RejectionKind.SLOT_BUSY), WRN),
    (ev(EK.CONTROLLER_SLOT_TRANSITION, reason="idle -> running"), INF),
    (Event(7, 1.5, EK.RUNTIME_FAILURE, reason="RuntimeError: x"), ERR),
]


@pytest.mark.parametrize(("event", "level"), LEVEL_CASES, ids=lambda x: getattr(x, "kind", x))
def test_each_event_is_logged_at_its_documented_level(
    event: Event, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskvisor")
    LogSubscriber().on_event(event)
    [record] = caplog.records
    assert record.levelno == level
    assert record.name == "taskvisor"
    assert record.getMessage() == event_message(event)


def test_every_event_kind_has_a_level_case_and_a_message() -> None:
    assert {e.kind for e, _ in LEVEL_CASES} == set(EventKind)
    for event, _ in LEVEL_CASES:
        assert event_message(event)
        assert "None" not in event_message(event)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (ev(EK.TASK_FAILED, attempt=2, reason="boom"), "task flaky attempt 2 failed: boom"),
        (
            ev(EK.TASK_FAILED, attempt=1, reason="bad", exit_code=3),
            "task flaky attempt 1 failed: bad (exit code 3)",
        ),
        (ev(EK.TASK_STARTING, attempt=3), "task flaky attempt 3 starting"),
        (
            ev(EK.TASK_STOPPED, attempt=1, duration=0.25),
            "task flaky attempt 1 stopped after 0.250s",
        ),
        (ev(EK.TIMEOUT_HIT, attempt=1, timeout=2.0), "task flaky attempt 1 timed out after 2s"),
        (
            ev(EK.BACKOFF_SCHEDULED, delay=0.2, backoff_source=BackoffSource.FAILURE),
            "task flaky restarts in 0.200s after failure",
        ),
        (
            ev(EK.BACKOFF_SCHEDULED, delay=0.5, backoff_source=BackoffSource.START),
            "task flaky starts in 0.500s (start jitter)",
        ),
        (
            ev(EK.BACKOFF_SCHEDULED, delay=2.0, backoff_source=BackoffSource.RETRY_AFTER),
            "task flaky restarts in 2.000s after failure (retry-after)",
        ),
        (
            ev(
                EK.BACKOFF_SCHEDULED,
                delay=0.1,
                backoff_source=BackoffSource.BUDGET,
                reason="waiting for a token of retry budget 'db'",
            ),
            "task flaky restarts in 0.100s more: waiting for a token of retry budget 'db'",
        ),
        (
            ev(EK.ACTOR_EXHAUSTED, outcome=OK.FAILED, reason="retry limit 3 reached"),
            "task flaky finished: FAILED: retry limit 3 reached",
        ),
        (ev(EK.TASK_REMOVED, outcome=OK.CANCELED), "task flaky removed: CANCELED"),
        (
            ev(EK.TASK_ADD_FAILED, rejection=RejectionKind.ALREADY_EXISTS),
            "task flaky add failed (ALREADY_EXISTS)",
        ),
        (
            Event(1, 0.0, EK.SUBSCRIBER_PANICKED, task="metrics", reason="ValueError: x"),
            "subscriber metrics panicked: ValueError: x",
        ),
        (Event(1, 0.0, EK.SHUTDOWN_REQUESTED), "shutdown requested"),
    ],
)
def test_messages_read_as_one_plain_line(event: Event, message: str) -> None:
    assert event_message(event) == message


def test_extra_carries_every_field_as_a_plain_value(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="taskvisor")
    decision = tv.Decision(3, 1.6, tv.JitterPolicy.EQUAL, BackoffSource.FAILURE, 0.0, "retry limit")
    event = ev(
        EK.ACTOR_EXHAUSTED,
        attempt=4,
        reason="retry limit",
        exit_code=2,
        outcome=OK.FAILED,
        decision=decision,
    )
    LogSubscriber().on_event(event)
    [record] = caplog.records
    fields = {k: v for k, v in vars(record).items() if k.startswith("taskvisor")}
    assert fields == {
        "taskvisor_seq": 7,
        "taskvisor_at": 1.5,
        "taskvisor_kind": "ACTOR_EXHAUSTED",
        "taskvisor_task_id": 3,
        "taskvisor_task": "flaky",
        "taskvisor_attempt": 4,
        "taskvisor_reason": "retry limit",
        "taskvisor_delay": None,
        "taskvisor_timeout": None,
        "taskvisor_duration": None,
        "taskvisor_exit_code": 2,
        "taskvisor_backoff_source": None,
        "taskvisor_outcome": "FAILED",
        "taskvisor_rejection": None,
        "taskvisor_decision": {
            "retry": 3,
            "base": 1.6,
            "jitter": "EQUAL",
            "source": "FAILURE",
            "budget_wait": 0.0,
            "rule": "retry limit",
        },
    }
    assert json.loads(json.dumps(fields)) == fields  # plain values only
    # One key per Event field, nothing else.
    assert {k.removeprefix("taskvisor_") for k in fields} == set(Event._fields)


def test_a_given_logger_is_used_instead_of_taskvisor(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("myapp.tasks")
    caplog.set_level(logging.DEBUG, logger="myapp.tasks")
    LogSubscriber(logger).on_event(ev(EK.TASK_ADDED))
    assert [r.name for r in caplog.records] == ["myapp.tasks"]


def test_disabled_levels_cost_no_formatting(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="taskvisor")

    def explode(event: Event) -> str:
        raise AssertionError("formatted a disabled record")

    monkeypatch.setattr(_log, "event_message", explode)
    monkeypatch.setattr(_log, "event_fields", explode)
    sub = LogSubscriber()
    sub.on_event(ev(EK.TASK_STARTING, attempt=1))  # DEBUG: skipped before formatting
    sub.on_event(ev(EK.TASK_ADDED))  # INFO: skipped too
    assert caplog.records == []
    with pytest.raises(AssertionError, match="formatted"):
        sub.on_event(ev(EK.TASK_FAILED, attempt=1, reason="x"))  # WARNING is enabled


def test_name_and_capacity_are_what_the_bus_reads() -> None:
    sub = LogSubscriber(name="audit", queue_capacity=16)
    bus = EventBus([sub, LogSubscriber()], on_consumed=print, on_panic=print)
    assert [(i.name, i.capacity) for i in bus.infos] == [("audit", 16), ("log", 1024)]


@pytest.mark.parametrize("bad", [0, -3, 2.0, True])
def test_bad_queue_capacity_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"LogSubscriber\.queue_capacity"):
        LogSubscriber(queue_capacity=bad)  # type: ignore[arg-type]


def test_empty_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"LogSubscriber\.name"):
        LogSubscriber(name="")


@pytest.mark.anyio
async def test_through_the_bus_records_are_written_off_the_loop_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskvisor")
    loop_thread = threading.get_ident()
    consumed: list[int] = []
    bus = EventBus([LogSubscriber()], on_consumed=lambda i, n: consumed.append(n), on_panic=print)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run)
        for seq in range(20):
            bus.publish(Event(seq, 0.0, EK.TASK_STARTING, TaskId(1), "t", attempt=seq + 1), (0,))
        await bus.aclose(5.0)
    records = [r for r in caplog.records if r.name == "taskvisor"]
    assert [r.taskvisor_seq for r in records] == list(range(20))
    assert {r.thread for r in records} != {loop_thread}
    assert sum(consumed) == 20


@pytest.mark.anyio
async def test_a_supervisor_run_reads_as_a_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="taskvisor")
    attempts = 0

    async def flaky(ctx: tv.TaskContext) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise tv.Fail("boom")

    spec = tv.TaskSpec.restartable(tv.TaskFn("flaky", flaky), backoff=tv.BackoffPolicy.constant(0))
    await tv.Supervisor(tv.SupervisorConfig(seed=0), subscribers=[LogSubscriber()]).run([spec])
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "taskvisor"]
    assert lines == [
        ("DEBUG", "task flaky add requested"),
        ("INFO", "task flaky added"),
        ("DEBUG", "task flaky attempt 1 starting"),
        ("WARNING", "task flaky attempt 1 failed: boom"),
        ("WARNING", "task flaky restarts in 0.000s after failure"),
        ("DEBUG", "task flaky attempt 2 starting"),
        ("WARNING", "task flaky attempt 2 failed: boom"),
        ("WARNING", "task flaky restarts in 0.000s after failure"),
        ("DEBUG", "task flaky attempt 3 starting"),
        (lines[9][0], lines[9][1]),  # STOPPED: its duration varies
        ("INFO", "task flaky finished: COMPLETED"),
        ("INFO", "task flaky removed: COMPLETED"),
        ("INFO", "shutdown requested"),
        ("INFO", "all tasks stopped within grace"),
    ]
    assert lines[9][0] == "DEBUG"
    assert lines[9][1].startswith("task flaky attempt 3 stopped after ")


def test_a_slot_transition_names_the_slot() -> None:
    # For CONTROLLER_SLOT_TRANSITION the event's ``task`` is the slot's name (docs/spec/core.md).
    event = Event(
        7, 1.0, EventKind.CONTROLLER_SLOT_TRANSITION, task="tenant-a", reason="IDLE -> ADMITTING"
    )
    assert event_message(event) == "controller slot tenant-a: IDLE -> ADMITTING"


async def _fail_once(ctx: tv.TaskContext) -> None:
    if ctx.attempt == 1:
        raise tv.Fail("boom")


@pytest.mark.anyio
async def test_by_default_a_supervisor_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="taskvisor")
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("flaky", _fail_once), backoff=tv.BackoffPolicy.constant(0)
    )
    await tv.Supervisor().run([spec])
    assert "task flaky attempt 1 failed: boom" in [r.getMessage() for r in caplog.records]


@pytest.mark.anyio
async def test_an_explicit_empty_subscriber_list_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskvisor")
    spec = tv.TaskSpec.restartable(
        tv.TaskFn("flaky", _fail_once), backoff=tv.BackoffPolicy.constant(0)
    )
    out = await tv.Supervisor(subscribers=[]).run([spec])
    assert out["flaky"].attempts == 2
    assert [r for r in caplog.records if r.name == "taskvisor"] == []


# -- structured output, as docs/recipes.md shows it ------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record: level, message, and every ``taskvisor_*`` field."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"level": record.levelname, "message": record.getMessage()}
        doc.update((k, v) for k, v in vars(record).items() if k.startswith("taskvisor_"))
        return json.dumps(doc)


async def _flaky_run_logged_through(formatter: logging.Formatter) -> list[str]:
    """Run the seed's flaky task with a LogSubscriber on its own logger; the formatted lines."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger("test_log.structured")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        spec = tv.TaskSpec.restartable(
            tv.TaskFn("flaky", _fail_once), backoff=tv.BackoffPolicy.constant(0)
        )
        await tv.Supervisor(subscribers=[LogSubscriber(logger)]).run([spec])
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


@pytest.mark.anyio
async def test_a_json_formatter_reads_every_field_from_the_record() -> None:
    lines = [json.loads(line) for line in await _flaky_run_logged_through(JsonFormatter())]
    failed = next(doc for doc in lines if doc["taskvisor_kind"] == "TASK_FAILED")
    assert failed["level"] == "WARNING"
    assert failed["message"] == "task flaky attempt 1 failed: boom"
    assert failed["taskvisor_task"] == "flaky"
    assert failed["taskvisor_attempt"] == 1
    assert failed["taskvisor_reason"] == "boom"
    assert isinstance(failed["taskvisor_task_id"], int)
    assert [doc["taskvisor_kind"] for doc in lines] == [
        "TASK_ADDED",
        "TASK_FAILED",
        "BACKOFF_SCHEDULED",
        "ACTOR_EXHAUSTED",
        "TASK_REMOVED",
        "SHUTDOWN_REQUESTED",
        "ALL_STOPPED_WITHIN_GRACE",
    ]
    seqs = [doc["taskvisor_seq"] for doc in lines]
    assert seqs == sorted(seqs)


@pytest.mark.anyio
async def test_structlogs_processor_formatter_renders_the_fields_as_json() -> None:
    import structlog

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(sort_keys=True),
        ],
    )
    lines = [json.loads(line) for line in await _flaky_run_logged_through(formatter)]
    failed = next(doc for doc in lines if doc["taskvisor_kind"] == "TASK_FAILED")
    assert failed["event"] == "task flaky attempt 1 failed: boom"
    assert failed["level"] == "warning"
    assert (failed["taskvisor_task"], failed["taskvisor_attempt"]) == ("flaky", 1)
    removed = next(doc for doc in lines if doc["taskvisor_kind"] == "TASK_REMOVED")
    assert removed["taskvisor_outcome"] == "COMPLETED"
    assert removed["taskvisor_task_id"] == failed["taskvisor_task_id"]
