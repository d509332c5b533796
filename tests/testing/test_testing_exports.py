"""``taskvisor.testing``'s public names; Hypothesis stays optional; pytest is never imported."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import taskvisor.testing


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False
    )


def test_all_names_resolve() -> None:
    for name in taskvisor.testing.__all__:
        assert getattr(taskvisor.testing, name) is not None
    assert sorted(dir(taskvisor.testing)) == sorted(taskvisor.testing.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        taskvisor.testing.nope  # noqa: B018


def test_importing_the_kit_pulls_in_neither_pytest_nor_hypothesis() -> None:
    result = run(
        """
        import sys
        import taskvisor.testing
        assert "pytest" not in sys.modules, "pytest imported"
        assert "hypothesis" not in sys.modules, "hypothesis imported eagerly"
        from taskvisor.testing import SupervisorMachine, strategies
        assert "hypothesis" in sys.modules
        """
    )
    assert result.returncode == 0, result.stderr


def test_no_module_of_the_kit_imports_pytest() -> None:
    # (Hypothesis itself imports pytest when it is installed; the kit never does.)
    for path in Path(taskvisor.testing.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        modules = [
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        ] + [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert not [m for m in modules if m.split(".")[0] in ("pytest", "_pytest")], path.name


def test_without_hypothesis_the_plain_helpers_work_and_the_rest_says_what_to_install() -> None:
    result = run(
        """
        import sys
        sys.modules["hypothesis"] = None  # as if it were not installed
        from taskvisor.testing import CheckedCore, assert_event_sequence
        try:
            from taskvisor.testing import SupervisorMachine
        except ModuleNotFoundError as exc:
            print(exc)
        else:
            raise SystemExit("imported without hypothesis")
        """
    )
    assert result.returncode == 0, result.stderr
    assert "needs Hypothesis: pip install hypothesis" in result.stdout
