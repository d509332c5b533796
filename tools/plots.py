"""``make docs`` part two: one picture per simulator scenario, for docs/simulator.md.

Runs ``taskvisor sim SCENARIO ... --plot docs/images/sim_SCENARIO.png`` with small, fixed
parameters (a few seconds each), so the committed PNGs are regenerated from the code, not
drawn by hand. Run: ``python tools/plots.py docs/images``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

from taskvisor.sim._cli import main as sim

#: The command line of each picture (after ``taskvisor sim``).
PICTURES: dict[str, list[str]] = {
    "contention": ["contention", "--preset", "aws", "--clients", "50", "--seeds", "3"],
    "outage": ["outage", "--jitter", "none,full,equal", "--seeds", "2"],
    "flapping": ["flapping", "--seeds", "2"],
    "crashloop": ["crashloop", "--seeds", "2"],
    "outage_budget": [
        "outage",
        "--jitter",
        "equal",
        "--retry-budget",
        "none,100",
        "--burst",
        "10",
        "--seeds",
        "2",
    ],
    "outage_deploy": [
        "outage",
        "--down",
        "0",
        "--jitter",
        "equal",
        "--start-jitter",
        "0,12",
        "--seeds",
        "2",
    ],
}


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    for name, args in PICTURES.items():
        path = out / f"sim_{name}.png"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = sim([*args, "--workers", "1", "--plot", str(path)])
        if code not in (0, None):
            print(f"{name}: exit {code}", file=sys.stderr)
            return 1
        print(f"  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
