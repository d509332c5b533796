"""`make demo`: a short tour of taskvisor.

1. Preview what a backoff policy does, with each of the four jitters (``taskvisor.sim``).
2. Run the seed example of the README on a real event loop (``taskvisor.Supervisor``).
3. A short tour: watched outcomes, dynamic add/remove, admission slots.
4. Simulate an outage to show why jitter matters.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import taskvisor as tv
from taskvisor.sim import backoff_delays

HERE = Path(__file__).resolve().parent


def title(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 74 - len(text)))


def backoff_preview() -> None:
    title("1. Backoff preview: first=0.2s, factor=2, max=30s, 8 failures in a row, seed 0")
    print(f"{'jitter':<14}" + "".join(f"{'#' + str(i + 1):>8}" for i in range(8)))
    for jitter in tv.JitterPolicy:
        policy = tv.BackoffPolicy(first=0.2, max=30.0, factor=2.0, jitter=jitter)
        delays = backoff_delays(policy, 8, seed=0)
        print(f"{jitter.name:<14}" + "".join(f"{d:>8.3f}" for d in delays))


def run_example(name: str, heading: str) -> None:
    path = HERE / name
    title(heading)
    sys.stdout.flush()
    runpy.run_path(str(path), run_name="__main__")


def main() -> None:
    backoff_preview()
    run_example("seed.py", "2. The seed example (docs/spec/api.md section 1)")
    run_example("watched_outcomes.py", "3a. Watched outcomes")
    run_example("dynamic_add_remove.py", "3b. Dynamic add / remove")
    run_example("tenant_sync.py", "3c. Admission slots: latest revision wins per tenant")
    run_example(
        "sim_outage.py", "4. Why jitter matters: 1000 tasks through a 60 s outage (simulated)"
    )


if __name__ == "__main__":
    main()
