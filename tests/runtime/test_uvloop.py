"""The runtime under uvloop: a selection of the asyncio tests, re-run on uvloop's event loop.

Each test below is imported from its module and collected again here, where ``anyio_backend``
is asyncio with ``use_uvloop``.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("uvloop")

from test_attempt import (
    test_keyboard_interrupt_and_system_exit_propagate_from_run_after_shutdown,
    test_the_supervisors_own_force_cancel_is_not_a_failure,
)
from test_handle import (
    test_exactly_one_of_many_concurrent_cancels_claims_the_task,
    test_sixty_four_concurrent_adds_of_one_name_have_exactly_one_winner,
    test_try_forms_raise_command_queue_full_instead_of_waiting,
)
from test_sequences import (
    test_fails_twice_then_succeeds_gives_the_twelve_lines_of_the_seed,
    test_removed_while_ignoring_cancellation_is_force_aborted_after_grace,
    test_shutdown_cancels_each_task_then_reports_all_stopped,
    test_timeout_hits_then_fails_then_restarts_like_any_failure,
)
from test_supervisor import (
    test_an_attempt_that_survives_force_is_abandoned_and_does_not_hold_run,
    test_shutdown_takes_grace_when_some_tasks_ignore_cancellation,
    test_three_hundred_short_lived_tasks_each_end_exactly_once,
)

__all__ = [
    "test_an_attempt_that_survives_force_is_abandoned_and_does_not_hold_run",
    "test_exactly_one_of_many_concurrent_cancels_claims_the_task",
    "test_fails_twice_then_succeeds_gives_the_twelve_lines_of_the_seed",
    "test_keyboard_interrupt_and_system_exit_propagate_from_run_after_shutdown",
    "test_removed_while_ignoring_cancellation_is_force_aborted_after_grace",
    "test_shutdown_cancels_each_task_then_reports_all_stopped",
    "test_shutdown_takes_grace_when_some_tasks_ignore_cancellation",
    "test_sixty_four_concurrent_adds_of_one_name_have_exactly_one_winner",
    "test_the_supervisors_own_force_cancel_is_not_a_failure",
    "test_three_hundred_short_lived_tasks_each_end_exactly_once",
    "test_timeout_hits_then_fails_then_restarts_like_any_failure",
    "test_try_forms_raise_command_queue_full_instead_of_waiting",
]


pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "asyncio", {"use_uvloop": True}
