"""Architecture rule 1: ``taskvisor.fsm`` imports nothing that does I/O or reads the environment.

import-linter (``make arch``) checks the forbidden list; this test is stricter: every import in
``src/taskvisor/fsm`` must come from an allowlist of pure modules, so a new I/O import fails here
even if nobody thought to forbid it.
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


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            found.append(node.module or "")
    return found


def is_allowed(module: str) -> bool:
    return module in ALLOWED or module == "taskvisor.fsm" or module.startswith("taskvisor.fsm.")


@pytest.mark.parametrize("path", sorted(FSM.glob("*.py")), ids=lambda p: p.name)
def test_fsm_module_imports_only_pure_modules(path: Path) -> None:
    bad = [m for m in imports_of(path) if not is_allowed(m)]
    assert not bad, f"{path.name} imports {bad}: taskvisor.fsm must stay pure (rule 1)"


@pytest.mark.parametrize("module", FORBIDDEN_EXAMPLES)
def test_the_check_rejects_io_modules(module: str) -> None:
    assert not is_allowed(module)


def test_the_check_sees_every_core_module() -> None:
    names = {p.name for p in FSM.glob("*.py")}
    assert {"_supervisor.py", "_backoff.py", "_policy.py"} <= names
