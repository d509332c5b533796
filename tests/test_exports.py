"""The public API is exactly what api.md names, importable from ``taskvisor`` (trio's habit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import taskvisor
import taskvisor.fsm
import taskvisor.sim
import taskvisor.testing

API = Path(__file__).resolve().parents[2] / "shared" / "spec" / "api.md"

# Every public name api.md uses as `tv.X`, plus the ones it names in its prose.
NAMED_IN_API = {
    "AdmissionPolicy", "AlreadyRunning", "BackoffPolicy", "Canceled", "CommandQueueFull",
    "ConfigError", "ControllerConfig", "ControllerNotConfigured", "ControllerSpec", "Event",
    "EventKind", "Fail", "Fatal", "GraceExceeded", "INHERIT", "JitterPolicy", "LogSubscriber",
    "OutcomeKind", "RejectionKind", "RestartPolicy", "ShuttingDown", "SubscriberStats",
    "Supervisor", "SupervisorConfig", "Task", "TaskAlreadyExists", "TaskContext", "TaskDefaults",
    "TaskError", "TaskFn", "TaskId", "TaskOutcome", "TaskSpec", "TaskTerminationTimeout",
    "TaskWaiter", "TaskvisorError",
}  # fmt: skip


def test_every_name_of_api_md_is_exported() -> None:
    missing = sorted(NAMED_IN_API - set(taskvisor.__all__))
    assert not missing


@pytest.mark.skipif(not API.exists(), reason="the shared spec is not beside this checkout")
def test_every_tv_name_in_api_md_is_in_the_list_above() -> None:
    used = set(re.findall(r"\btv\.([A-Za-z_]+)", API.read_text(encoding="utf-8")))
    assert used <= NAMED_IN_API | {"fsm", "sim", "testing"}, sorted(used - NAMED_IN_API)


@pytest.mark.parametrize("module", [taskvisor, taskvisor.fsm, taskvisor.sim, taskvisor.testing])
def test_all_lists_exactly_the_public_names(module: object) -> None:
    exported = set(module.__all__)
    public = {n for n in dir(module) if not n.startswith("_")}
    # Submodules are attributes too; only those listed on purpose count as exports.
    submodules = {n for n in public if type(getattr(module, n)).__name__ == "module"}
    assert exported == public - (submodules - exported)
    for name in exported:
        assert getattr(module, name) is not None


def test_errors_form_one_hierarchy() -> None:
    for name in (
        "AlreadyRunning", "CommandQueueFull", "ConfigError", "ControllerNotConfigured",
        "GraceExceeded", "ShuttingDown", "TaskAlreadyExists", "TaskTerminationTimeout",
    ):  # fmt: skip
        assert issubclass(getattr(taskvisor, name), taskvisor.TaskvisorError)
    assert issubclass(taskvisor.ConfigError, ValueError)
    for name in ("Fail", "Fatal", "Canceled"):
        assert issubclass(getattr(taskvisor, name), taskvisor.TaskError)
    assert issubclass(taskvisor.TaskError, Exception)
