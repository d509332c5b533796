"""Test modules outside packages need unique basenames (pytest's default import mode)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_module_basenames_are_unique() -> None:
    names = Counter(
        p.name for p in TESTS.rglob("test_*.py") if not (p.parent / "__init__.py").exists()
    )
    clashes = sorted(name for name, count in names.items() if count > 1)
    assert not clashes, f"rename one of each: {clashes}"
