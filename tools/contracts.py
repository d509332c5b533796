"""Check the core's PEP 316 contracts with CrossHair, within a bounded total time.

Usage (from the repository root; ``make contracts`` runs this):

    .venv/bin/python tools/contracts.py [--per-condition-timeout 3] [--total-timeout 240] [--jobs 2]

Each contracted leaf function is checked in its own ``crosshair check`` process (``--jobs`` at
a time), with ``tools/crosshair_plugin.py`` so CrossHair can build ``BackoffPolicy`` values.
The targets: the backoff arithmetic (I4), the retry budget's rule, and the restart-intensity
window counting and pruning (I10). The per-condition limit is CPU time, so on a loaded machine a
run takes longer in wall time; the total limit (240 s) leaves room for that.
It prints every condition it checked and its status, and how long each function and the whole
run took. Exit status: 0 when no counterexample was found, 1 on a counterexample, 2 on a
CrossHair error or when the total time ran out. "Not confirmed" means no counterexample was
found within the per-condition time (CrossHair explores paths; it does not always prove).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "tools" / "crosshair_plugin.py"

#: module -> the functions whose docstrings carry ``pre:``/``post:`` contracts.
TARGETS: dict[str, tuple[str, ...]] = {
    "taskvisor.fsm._backoff": ("scale", "_fixed_pow", "base_ns", "jitter_ns", "next_delay_ns"),
    "taskvisor.fsm._budget": ("exhausted",),
    "taskvisor.fsm._intensity": ("count_within", "allows", "record"),
    # The token bucket's arithmetic (I9). interval_delay_ns (scale, contracted above, plus a
    # shift) and _streams.next_uniform (64-bit mixing, beyond CrossHair's reach within the time
    # budget) are checked by Hypothesis instead: tests/fsm/test_decision.py, test_streams.py.
    "taskvisor.fsm._retry_budget": ("refill", "wait_ns"),
}


def conditions(module: str, name: str) -> list[str]:
    """The ``pre:``/``post:`` lines of a function's docstring."""
    doc = inspect.getdoc(getattr(importlib.import_module(module), name)) or ""
    return [line.strip() for line in doc.splitlines() if line.strip().startswith(("pre:", "post:"))]


def check(target: str, per_condition: float, deadline: float) -> tuple[str, int, float, str]:
    """Run CrossHair on one function; returns (target, exit code, seconds, output)."""
    cmd = [
        sys.executable,
        "-m",
        "crosshair",
        "check",
        target,  # first: --extra_plugin takes one or more values and would swallow it
        "--analysis_kind=PEP316",
        f"--per_condition_timeout={per_condition:g}",
        "--report_all",
        "--extra_plugin",
        str(PLUGIN),
    ]
    start = time.monotonic()
    remaining = deadline - start
    if remaining <= 0:
        return target, -1, 0.0, "not started: total time ran out"
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=remaining, check=False
        )
    except subprocess.TimeoutExpired:
        return target, -1, time.monotonic() - start, "stopped: total time ran out"
    return target, proc.returncode, time.monotonic() - start, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-condition-timeout", type=float, default=3.0)
    parser.add_argument("--total-timeout", type=float, default=240.0)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))
    targets = [f"{m}.{f}" for m, names in TARGETS.items() for f in names]
    lines = [c for m, names in TARGETS.items() for f in names for c in conditions(m, f)]
    posts = sum(1 for c in lines if c.startswith("post:"))
    print(
        f"crosshair: {len(targets)} functions, {posts} postconditions "
        f"(under {len(lines) - posts} preconditions), "
        f"{args.per_condition_timeout:g} s CPU per condition, {args.jobs} jobs, "
        f"at most {args.total_timeout:g} s in all"
    )
    start = time.monotonic()
    deadline = start + args.total_timeout
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda t: check(t, args.per_condition_timeout, deadline), targets))

    worst = 0
    for target, code, seconds, output in results:
        module, _, name = target.rpartition(".")
        status = {0: "ok", 1: "COUNTEREXAMPLE"}.get(code, "ERROR")
        print(f"\n{target}: {status} ({seconds:.1f} s)")
        for cond in conditions(module, name):
            print(f"    {cond}")
        for line in output.splitlines():
            if line.strip():
                print(f"  > {line}")
        worst = max(worst, {0: 0, 1: 1}.get(code, 2))
    elapsed = time.monotonic() - start
    verdict = {0: "no counterexample", 1: "counterexample found", 2: "error or out of time"}
    print(f"\ncrosshair: {verdict[worst]} in {elapsed:.1f} s")
    return worst


if __name__ == "__main__":
    sys.exit(main())
