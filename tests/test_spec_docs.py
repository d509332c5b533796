"""The generated pages of docs/spec match the code (architecture rule 4: tables are data)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from taskvisor import _specgen
from taskvisor.fsm import EventKind, OutcomeKind, TaskId
from taskvisor.testing import CheckedCore

SPEC = Path(__file__).resolve().parents[1] / "docs" / "spec"


@pytest.mark.parametrize("name", sorted(_specgen.PAGES))
def test_generated_page_matches_the_code(name: str) -> None:
    on_disk = (SPEC / name).read_text(encoding="utf-8")
    assert on_disk == _specgen.PAGES[name](), f"docs/spec/{name} is stale: run `make docs`"


def test_sequences_page_has_the_seed_examples_twelve_events() -> None:
    seed_row = _specgen._seed().split(", ")
    assert seed_row == [
        "TASK_ADD_REQUESTED",
        "TASK_ADDED",
        "TASK_STARTING",
        "TASK_FAILED",
        "BACKOFF_SCHEDULED(source FAILURE)",
        "TASK_STARTING",
        "TASK_FAILED",
        "BACKOFF_SCHEDULED(source FAILURE)",
        "TASK_STARTING",
        "TASK_STOPPED",
        "ACTOR_EXHAUSTED(COMPLETED)",
        "TASK_REMOVED(COMPLETED)",
    ]


def test_every_transition_of_the_table_is_drawn() -> None:
    page = _specgen.render_lifecycle()
    from taskvisor.fsm._table import TRANSITIONS

    for (source, trigger), targets in TRANSITIONS.items():
        for target in targets:
            assert f"{source.name} --> {target.name}: {trigger.value}" in page


def _pauses(run: _specgen._Script) -> list[float]:
    return [e.delay or 0.0 for e in run.events if e.kind is EventKind.BACKOFF_SCHEDULED]


def test_every_crash_loop_control_has_its_generated_row() -> None:
    page = _specgen.render_sequences()
    for title, script, _ in _specgen.CONTROLS:
        assert f"| {title} | {script} |" in page


def test_a_healthy_run_ends_the_streak_and_the_seeds_rule_does_not() -> None:
    # Two one-hour runs that fail: with the reset each pause is retry 0's (0.15 s at the
    # middle of EQUAL jitter) and only the quick third failure reaches max_retries=1.
    reset, seed = _specgen._healthy_reset(), _specgen._seed_rule()
    assert _pauses(reset) == [0.15, 0.15]
    assert reset.finished[TaskId(1)].reason == "retry limit (1) reached; last failure: refused"
    assert _pauses(seed) == [0.15]
    assert seed.finished[TaskId(1)].attempts == 2


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (_specgen._supervisor_intensity, "restart intensity"),
        (_specgen._critical, "critical task"),
        (_specgen._task_intensity, None),
        (_specgen._retry_on, None),
        (_specgen._give_up, None),
        (_specgen._watchdog, None),
    ],
)
def test_only_the_supervisor_wide_controls_escalate_and_only_once(
    make: Callable[[], _specgen._Script], rule: str | None
) -> None:
    run = make()
    assert [e.rule for e in run.escalations] == ([rule] if rule else [])
    requested = [e for e in run.events if e.kind is EventKind.SHUTDOWN_REQUESTED]
    assert len(requested) == (1 if rule else 0)
    if rule:  # every other task was stopped, not left running
        assert run.finished[TaskId(2)].kind is OutcomeKind.CANCELED


def test_each_task_level_control_ends_the_task_by_its_own_rule() -> None:
    ends = {
        "restart intensity": _specgen._task_intensity(),
        "gave up after 10s": _specgen._give_up(),
        "not retried (ValueError is not in retry_on)": _specgen._retry_on(),
    }
    for words, run in ends.items():
        assert words in run.finished[TaskId(1)].reason
    assert (
        ends["not retried (ValueError is not in retry_on)"].finished[TaskId(1)].kind
        is OutcomeKind.FATAL
    )
    # Intensity(2, 60): the third failure within 60 s is not restarted (two restarts made).
    assert ends["restart intensity"].finished[TaskId(1)].attempts == 3


def test_the_watchdog_fires_one_period_after_the_last_heartbeat() -> None:
    run = _specgen._watchdog()
    (hit,) = [e for e in run.events if e.kind is EventKind.TIMEOUT_HIT]
    assert hit.at == 11.0  # heartbeats at 3 s and 6 s, watchdog 5 s
    assert hit.reason == "watchdog: no heartbeat for 5s"
    assert TaskId(1) not in run.finished  # a miss is a retryable failure


@pytest.mark.parametrize(("title", "make"), [(t, m) for t, _, m in _specgen.CONTROLS])
def test_every_control_sequence_passes_the_contract_model(
    title: str, make: Callable[[], _specgen._Script]
) -> None:
    # Replayed through CheckedCore, which decides each end from what a driver observes (the
    # reset threshold, the windows, the give-up age, retry_on) and requires the escalation
    # exactly when due and once (I10); then the whole run is verified (I1).
    run = make()
    core = CheckedCore(run.config, _specgen.Middle())
    for now, inp in run.inputs:
        core.feed(inp, now)
    assert core.events == run.events, title
    core.drain()
    core.verify()
