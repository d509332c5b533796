"""Architecture rule 1: ``taskvisor.fsm`` imports nothing that does I/O or reads the environment.

import-linter (``make arch``) checks the forbidden list; this test is stricter: every import in
``src/taskvisor/fsm`` that runs must come from an allowlist of pure modules, so a new I/O import
fails here even if nobody thought to forbid it. Imports under ``if TYPE_CHECKING:`` never run;
the only ones allowed are the runtime's task types (``TYPE_ONLY``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FSM = Path(__file__).resolve().parents[1] / "src" / "taskvisor" / "fsm"

ALLOWED = {
    "__future__",
    "attrs",
    "collections",
    "collections.abc",
    "dataclasses",
    "datetime",
    "enum",
    "fractions",
    "hashlib",  # pure: per-task random streams hash (seed, name, incarnation) (I8)
    "heapq",
    "functools",
    "itertools",
    "math",
    "operator",
    "typing",
    "taskvisor._errors",
    "taskvisor._task_errors",
}
FORBIDDEN_EXAMPLES = ["asyncio", "anyio", "trio", "time", "random", "threading", "logging"]

#: What the core may import for type checking only (under ``if TYPE_CHECKING:``, never run):
#: the runtime's task types, so the signatures users call are checked (docs/spec/architecture.md
#: rule 1).
TYPE_ONLY = {"taskvisor.runtime._context": {"Task", "TaskContext"}}


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
    )


def split_imports(path: Path) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The modules a file imports when it runs, and its type-only ``(module, names)`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded = {id(sub) for n in ast.walk(tree) if _is_type_checking_block(n) for sub in ast.walk(n)}
    run: list[str] = []
    type_only: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            found = [(node.module or "", [alias.name for alias in node.names])]
        else:
            continue
        if id(node) in guarded:
            type_only.extend(found)
        else:
            run.extend(module for module, _ in found)
    return run, type_only


def imports_of(path: Path) -> list[str]:
    """The modules a file imports when it runs (``TYPE_CHECKING`` blocks left out)."""
    return split_imports(path)[0]


def is_allowed(module: str) -> bool:
    return module in ALLOWED or module == "taskvisor.fsm" or module.startswith("taskvisor.fsm.")


@pytest.mark.parametrize("path", sorted(FSM.glob("*.py")), ids=lambda p: p.name)
def test_fsm_module_imports_only_pure_modules(path: Path) -> None:
    bad = [m for m in imports_of(path) if not is_allowed(m)]
    assert not bad, f"{path.name} imports {bad}: taskvisor.fsm must stay pure (rule 1)"


@pytest.mark.parametrize("path", sorted(FSM.glob("*.py")), ids=lambda p: p.name)
def test_fsm_type_only_imports_are_the_runtimes_task_types(path: Path) -> None:
    for module, names in split_imports(path)[1]:
        if is_allowed(module):
            continue
        assert module in TYPE_ONLY, f"{path.name} imports {module} even for type checking"
        assert set(names) <= TYPE_ONLY[module], f"{path.name}: {sorted(names)} from {module}"


def test_a_type_checking_import_is_not_counted_as_a_run_time_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import math\n"
        "if TYPE_CHECKING:\n"
        "    from taskvisor.runtime._context import TaskContext\n"
        "def f() -> None:\n"
        "    import anyio\n"
    )
    run, type_only = split_imports(module)
    assert sorted(run) == ["anyio", "math", "typing"]
    assert type_only == [("taskvisor.runtime._context", ["TaskContext"])]


@pytest.mark.parametrize("module", FORBIDDEN_EXAMPLES)
def test_the_check_rejects_io_modules(module: str) -> None:
    assert not is_allowed(module)


def test_the_check_sees_every_core_module() -> None:
    names = {p.name for p in FSM.glob("*.py")}
    assert {"_supervisor.py", "_backoff.py", "_policy.py"} <= names
