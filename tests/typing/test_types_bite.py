"""The public types bite: ``mypy --strict`` refuses every misuse in ``misuse.py``.

Each line of ``misuse.py`` marked ``# E: <code>`` must draw a mypy error with that code, and no
other line may draw one. ``user_code.py`` (checked by ``make typecheck``) proves the other
half: ordinary user code passes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MISUSE = HERE / "misuse.py"
ERROR = re.compile(r"^[^:]*misuse\.py:(\d+): error: .*\[([\w-]+)\]$")


def expected_errors() -> dict[int, str]:
    """``{line: code}`` from the ``# E: code`` marks."""
    marks: dict[int, str] = {}
    for number, line in enumerate(MISUSE.read_text(encoding="utf-8").splitlines(), start=1):
        found = re.search(r"# E: ([\w-]+)$", line)
        if found:
            marks[number] = found.group(1)
    return marks


def test_every_misuse_fails_mypy_with_its_error_code(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "mypy", "--strict", "--no-error-summary"]
    result = subprocess.run(
        [*command, "--cache-dir", str(tmp_path / "cache"), str(MISUSE)],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parents[1],
    )
    got: dict[int, str] = {}
    for line in result.stdout.splitlines():
        match = ERROR.match(line)
        if match:
            got[int(match.group(1))] = match.group(2)
    expected = expected_errors()
    assert len(expected) >= 10
    assert got == expected, result.stdout + result.stderr
