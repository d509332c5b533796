"""docs/spec/invariants.md cannot drift: every test and every name it cites exists.

The page lists, per invariant, the tests (``tests/...py::name``) and the checks and contracts
(dotted ``taskvisor.`` names) that enforce it. This test parses it and resolves each reference:
a test file must exist and define the function or class at top level; a dotted name must import;
a function named as a CrossHair contract must carry ``pre:``/``post:`` conditions and be one of
``tools/contracts.py``'s targets.
"""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "spec" / "invariants.md"

TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
NAME_REF = re.compile(r"`(taskvisor(?:\.\w+)+)`")


def page() -> str:
    return PAGE.read_text()


@cache
def top_level_names(path: Path) -> frozenset[str]:
    """Functions, classes and assigned names defined at the top level of a module."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted`` and get the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def contract_targets() -> set[str]:
    """``module.function`` for every target of ``tools/contracts.py`` (read, not imported)."""
    tree = ast.parse((ROOT / "tools" / "contracts.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "TARGETS":
            assert node.value is not None
            targets = ast.literal_eval(node.value)
            return {f"{m}.{f}" for m, names in targets.items() for f in names}
    raise AssertionError("tools/contracts.py has no TARGETS")


#: Marks the section of an invariant whose feature is not built yet (it cites nothing).
BEING_BUILT = "Being built"


def sections() -> dict[str, str]:
    """The text of each ``## I<n>`` section, by invariant."""
    parts = re.split(r"^## (I\d+) ", page(), flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_invariant_has_a_section_with_tests_and_checks() -> None:
    found = sections()
    assert list(found) == [f"I{n}" for n in range(1, 11)]
    for code, text in found.items():
        if BEING_BUILT in text:
            assert not TEST_REF.findall(text), f"{code} is being built but cites tests"
            continue
        assert len(TEST_REF.findall(text)) >= 3, f"{code} cites fewer than three tests"
        assert NAME_REF.search(text), f"{code} names no check or contract"


@pytest.mark.parametrize(("path", "name"), sorted(set(TEST_REF.findall(page()))))
def test_every_cited_test_exists(path: str, name: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"invariants.md cites {path}, which does not exist"
    assert name in top_level_names(file), f"invariants.md cites {path}::{name}, not defined there"
    assert name.startswith(("test_", "Test")), f"{path}::{name} is not a test"


@pytest.mark.parametrize("dotted", sorted(set(NAME_REF.findall(page()))))
def test_every_cited_name_resolves(dotted: str) -> None:
    assert resolve(dotted) is not None


@pytest.mark.parametrize(
    ("code", "modules"),
    [
        ("I4", ("._backoff.", "._budget.")),
        ("I9", ("._retry_budget.",)),
        ("I10", ("._intensity.",)),
    ],
)
def test_every_cited_crosshair_contract_is_checked_by_tools_contracts(
    code: str, modules: tuple[str, ...]
) -> None:
    text = sections()[code]
    cited = [n for n in NAME_REF.findall(text) if any(m in n for m in modules)]
    assert cited
    targets = contract_targets()
    for dotted in cited:
        doc = getattr(resolve(dotted), "__doc__", "") or ""
        assert "post:" in doc, f"{dotted} carries no postcondition"
        assert dotted in targets, f"{dotted} is not a target of tools/contracts.py"


def test_the_checker_notices_a_missing_test() -> None:
    assert "test_no_such_test" not in top_level_names(ROOT / "tests/fsm/test_invariants.py")
    with pytest.raises(AttributeError):
        resolve("taskvisor.fsm.no_such_check")
