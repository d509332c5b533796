"""`make demo` prints its four parts: the preview, the seed example, the tour, the outage table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


def test_demo_prints_every_part_and_the_outage_shows_the_herd() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for heading in ("== 1. Backoff preview", "== 2. The seed example", "== 4. Why jitter"):
        assert heading in out
    # The preview: NONE doubles exactly from 0.2 s; the three jitters differ from it.
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line[:4].isupper()}
    assert rows["NONE"] == [
        "0.200",
        "0.400",
        "0.800",
        "1.600",
        "3.200",
        "6.400",
        "12.800",
        "25.600",
    ]
    assert rows["FULL"] != rows["NONE"]
    assert rows["DECORRELATED"] != rows["NONE"]
    # The seed example's twelve lines, in order.
    seed = [line for line in out.splitlines() if line.startswith(" TASK_") or "(task=" in line]
    assert len(seed) == 12
    assert seed[-1] == " TASK_REMOVED (task=flaky)"
    # Without jitter all 1000 tasks come back at once; with jitter the peak is far lower.
    policies = ("none", "full", "equal", "decorrelated")
    table = {
        line.split()[0]: line.split() for line in out.splitlines() if line.startswith(policies)
    }
    return_peak = {name: float(cols[10]) for name, cols in table.items()}
    assert return_peak["none"] == 1000
    assert max(return_peak["full"], return_peak["equal"]) < 200
