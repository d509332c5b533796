"""The generated pages of docs/spec match the code (architecture rule 4: tables are data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskvisor import _specgen

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
    from taskvisor.fsm import TRANSITIONS

    for (source, trigger), targets in TRANSITIONS.items():
        for target in targets:
            assert f"{source.name} --> {target.name}: {trigger.value}" in page
