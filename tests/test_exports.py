"""The public API is what docs/spec/api.md names, importable from ``taskvisor`` (trio's habit).

Both ways: every ``tv.X`` on the contract page is exported (or listed in ``BEING_BUILT``), and
every exported name is named on the page.
"""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import pytest

import taskvisor
import taskvisor.fsm
import taskvisor.sim
import taskvisor.testing

API = Path(__file__).resolve().parents[1] / "docs/spec/api.md"

#: Names that docs/spec/api.md sections 8 and 9 give the features being built this round, and
#: that ``taskvisor`` does not export yet. A name leaves this set the day it is exported.
BEING_BUILT: set[str] = set()

#: Namespaces the page writes as ``tv.fsm`` etc.: modules, not exported names.
SUBPACKAGES = {"fsm", "sim", "testing"}


def page() -> str:
    return API.read_text(encoding="utf-8")


def tv_names() -> set[str]:
    """Every name the page writes as ``tv.X``."""
    return set(re.findall(r"\btv\.([A-Za-z_]\w*)", page())) - SUBPACKAGES


def code_text() -> str:
    """The page's code: inline ``spans`` and fenced blocks, where the names are written."""
    text = page()
    blocks = re.findall(r"```.*?```", text, flags=re.DOTALL)
    spans = re.findall(r"`[^`\n]+`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return "\n".join(blocks + spans)


def test_every_tv_name_of_the_page_is_exported_or_being_built() -> None:
    missing = tv_names() - set(taskvisor.__all__)
    unbuilt = sorted(missing - BEING_BUILT)
    assert not unbuilt, f"named in docs/spec/api.md, not exported: {unbuilt}"


def test_being_built_lists_only_names_that_are_still_missing() -> None:
    built = BEING_BUILT & set(taskvisor.__all__)
    assert not built, f"exported now: take {sorted(built)} out of BEING_BUILT"
    assert tv_names() >= BEING_BUILT, sorted(BEING_BUILT - tv_names())


def test_every_exported_name_is_named_on_the_page() -> None:
    code = code_text()
    unnamed = [n for n in taskvisor.__all__ if not re.search(rf"\b{re.escape(n)}\b", code)]
    assert not unnamed, f"exported but not in docs/spec/api.md: {unnamed}"


def fsm_names() -> set[str]:
    """Every name the page writes as ``fsm.X`` (section 7's table of the low-level API)."""
    return set(re.findall(r"(?<![\w.])fsm\.([A-Za-z]\w*)", page()))


def test_fsm_exports_exactly_the_low_level_api_of_the_page() -> None:
    # What a driver needs and nothing more: the rest stays in fsm's private modules.
    exported = set(taskvisor.fsm.__all__)
    assert sorted(exported - fsm_names()) == [], "exported by taskvisor.fsm, not on the page"
    assert sorted(fsm_names() - exported) == [], "on the page, not exported by taskvisor.fsm"


@pytest.mark.parametrize(
    "name",
    [n for n in taskvisor.fsm.__all__ if isinstance(getattr(taskvisor.fsm, n), type)],
)
def test_fsm_classes_report_their_public_home_as_their_module(name: str) -> None:
    cls = getattr(taskvisor.fsm, name)
    home = "taskvisor" if name in taskvisor.__all__ else "taskvisor.fsm"
    assert cls.__module__ == home
    assert getattr(sys.modules[home], cls.__qualname__) is cls
    assert pickle.loads(pickle.dumps(cls)) is cls  # found again by its public name


def test_values_of_fsm_classes_still_pickle() -> None:
    spec = taskvisor.TaskSpec.once(taskvisor.TaskFn("job", _never_called))
    values = [
        taskvisor.fsm.CoreConfig(2.0, max_concurrent=3),
        taskvisor.fsm.Phase.RUNNING,
        taskvisor.fsm.EndKind.FAILED,
        taskvisor.fsm.AttemptEnded(taskvisor.TaskId(1), 2, taskvisor.fsm.EndKind.FAILED, "boom"),
        taskvisor.fsm.SubscriberInfo("log", 8),
        taskvisor.fsm.AddTasks(1, ((taskvisor.TaskId(1), spec),)),
    ]
    assert [pickle.loads(pickle.dumps(v)) for v in values] == values


async def _never_called(ctx: taskvisor.TaskContext) -> None:
    raise AssertionError("pickling a spec does not run its task")


def test_fsm_keeps_its_internals_out_of_its_namespace() -> None:
    # As trio keeps trio._core: the arithmetic, tables and state parts are reached privately.
    for name in ("scale", "next_delay_ns", "RetryStreak", "TaskState", "BusState", "Bucket",
                 "TRANSITIONS", "stream_seed", "ResolvedSpec", "controller_snapshot"):  # fmt: skip
        assert not hasattr(taskvisor.fsm, name), name


def test_the_page_cites_no_file_outside_the_repository() -> None:
    # Architecture rule 9: relative links resolve inside docs/.
    for target in re.findall(r"\]\(([^)#]+)", page()):
        if "://" not in target:
            resolved = (API.parent / target).resolve()
            assert resolved.exists(), target
            assert API.parents[2] in resolved.parents, target


@pytest.mark.parametrize("module", [taskvisor, taskvisor.fsm, taskvisor.sim, taskvisor.testing])
def test_all_lists_exactly_the_public_names(module: object) -> None:
    exported = set(module.__all__)
    public = {n for n in dir(module) if not n.startswith("_")}
    # Submodules are attributes too; only those listed on purpose count as exports.
    submodules = {n for n in public if type(getattr(module, n)).__name__ == "module"}
    assert exported == public - (submodules - exported)
    for name in exported:
        assert getattr(module, name) is not None


@pytest.mark.parametrize(
    "name", [n for n in taskvisor.__all__ if isinstance(getattr(taskvisor, n), type)]
)
def test_public_classes_report_taskvisor_as_their_module(name: str) -> None:
    cls = getattr(taskvisor, name)
    assert cls.__module__ == "taskvisor"
    assert f"{cls.__module__}.{cls.__qualname__}" == f"taskvisor.{name}"
    assert pickle.loads(pickle.dumps(cls)) is cls  # found again by its public name


def test_values_of_public_classes_still_pickle() -> None:
    values = [
        taskvisor.EventKind.TASK_ADDED,
        taskvisor.BackoffPolicy.exponential(0.5),
        taskvisor.TaskOutcome(taskvisor.OutcomeKind.FAILED, "boom"),
        taskvisor.TaskId(3),
    ]
    assert [pickle.loads(pickle.dumps(v)) for v in values] == values


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
