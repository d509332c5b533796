"""Exhaustive model checking of the core with ``taskvisor.testing.explore``: figures and proof.

Usage (from the repository root; ``make proof`` runs ``proof``):

    .venv/bin/python tools/model_check.py scopes              # make test's scopes, figures
    .venv/bin/python tools/model_check.py proof [--jobs 2] [--seconds 1200]
    .venv/bin/python tools/model_check.py planted [--examples 1000] [--seeds 5]
    .venv/bin/python tools/model_check.py counterexamples
    .venv/bin/python tools/model_check.py profile [SCOPE] [--depth 5]

``scopes`` explores each scope of ``tests/stateful/scopes.py`` to its make-test depth and
prints states, transitions, depth, wall and CPU time and states per second. ``proof`` explores
the larger ``PROOF_SCOPES`` to their depths on ``--jobs`` processes (``--seconds`` is a safety
limit per scope; the table says when it cut a scope short) and exits 1 if any check failed.
``planted`` plants each bug of ``tests/stateful/planted.py``, finds it with ``explore``
(shortest counterexample, states and time to find it) and runs the Hypothesis machines against
it, counting the examples (and inputs) until the first failure, derandomized and for
``--seeds`` fixed seeds. ``counterexamples`` lists each planted bug's shortest counterexample.
``profile`` prints where a search spends its time. docs/model-checking.md shows the output of
real runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "stateful"))

import planted  # noqa: E402
import scopes  # noqa: E402

from taskvisor.testing import Exploration, explore  # noqa: E402


def _row(name: str, result: Exploration, cpu: float) -> str:
    rate = result.states / result.seconds if result.seconds else 0.0
    found = "; ".join(str(v) for v in result.violations) or "none"
    return (
        f"| {name} | {result.depth} | {result.states:,} | {result.transitions:,} | "
        f"{result.seconds:.1f} | {cpu:.1f} | {rate:,.0f} | {found} |"
    )


_HEADER = (
    "| scope | depth | states | transitions | wall s | CPU s | states/s | violations |\n"
    "|---|---|---|---|---|---|---|---|"
)


def _explore_scope(args: tuple[scopes.Scope, int, float | None]) -> tuple[str, Exploration, float]:
    scope, depth, seconds = args
    cpu = time.process_time()
    result = explore(depth=depth, max_seconds=seconds, **scope.kwargs())
    return scope.name, result, time.process_time() - cpu


def run_scopes(_: argparse.Namespace) -> int:
    print(_HEADER)
    failed = False
    for scope in scopes.SCOPES:
        name, result, cpu = _explore_scope((scope, scope.depth, None))
        print(_row(name, result, cpu), flush=True)
        print(f"<!-- {name} new states per level: {result.levels} -->")
        failed |= bool(result.violations)
    return 1 if failed else 0


def run_proof(ns: argparse.Namespace) -> int:
    work = [(scope, scope.depth, float(ns.seconds)) for scope in scopes.PROOF_SCOPES]
    print(f"proof: {len(work)} scopes on {ns.jobs} processes (at most {ns.seconds} s each)")
    print(_HEADER, flush=True)
    failed = False
    with ProcessPoolExecutor(ns.jobs) as pool:
        for (_, depth, _), (name, result, cpu) in zip(
            work, pool.map(_explore_scope, work), strict=True
        ):
            print(_row(name, result, cpu), flush=True)
            if result.depth < depth:
                print(f"<!-- {name}: time limit at depth {result.depth} of {depth} -->")
            print(f"<!-- {name} new states per level: {result.levels} -->")
            for violation in result.violations:
                print(violation.script)
            failed |= bool(result.violations)
    return 1 if failed else 0


# -- planted bugs ------------------------------------------------------------------------------


def _machines() -> dict[str, type]:
    from test_permits_machine import PermitsMachine
    from test_slots_machine import SlotsMachine

    from taskvisor.testing import SupervisorMachine

    return {
        "SupervisorMachine": SupervisorMachine,
        "PermitsMachine": PermitsMachine,
        "SlotsMachine": SlotsMachine,
    }


def _hypothesis_examples(machine: type, examples: int, seed: int | None) -> tuple[int, int, float]:
    """(examples run, inputs fed, seconds) until the first failure; examples = 0: not found."""
    import hypothesis.core
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    from taskvisor.testing import CheckedCore

    made = [0]
    fed = [0]
    first: list[tuple[int, int]] = []
    original_feed = CheckedCore.feed

    def counting_feed(self: CheckedCore, *args: Any, **kw: Any) -> Any:
        fed[0] += 1
        return original_feed(self, *args, **kw)

    class Counting(machine):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            made[0] += 1

        def teardown(self) -> None:
            try:
                super().teardown()
            except BaseException:
                first.append((made[0], fed[0]))
                raise
            if self._core is not None and self._core.failed:
                first.append((made[0], fed[0]))

    config = settings(
        max_examples=examples,
        derandomize=seed is None,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        stateful_step_count=50,
    )
    hypothesis.core.global_force_seed = seed
    CheckedCore.feed = counting_feed  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        run_state_machine_as_test(Counting, settings=config)
    except Exception:
        pass
    finally:
        CheckedCore.feed = original_feed  # type: ignore[method-assign]
        hypothesis.core.global_force_seed = None
    seconds = time.perf_counter() - started
    return (*first[0], seconds) if first else (0, fed[0], seconds)


def _explore_bug(bug: planted.PlantedBug, kwargs: dict[str, Any]) -> Exploration:
    with planted.plant(bug):
        return explore(depth=8, **kwargs)


#: Machines that cannot reach a bug by construction (PermitsMachine has no controller).
_UNREACHABLE = {(planted.SLOT_FREED_ON_REPLY.name, "PermitsMachine")}


def _found(result: Exploration) -> str:
    if not result.violations:
        return f"not within depth {result.depth}"
    v = result.violations[0]
    return f"{v.invariant}, {len(v.steps)} inputs ({result.transitions:,} transitions)"


def run_planted(ns: argparse.Namespace) -> int:
    from test_explore import CASES

    print("Targeted scopes (tests/stateful/test_explore.py CASES):")
    print("| bug | property, shortest | states | transitions | s |")
    print("|---|---|---|---|---|")
    found_all = True
    for bug, kwargs, _invariant, _length in CASES:
        result = _explore_bug(bug, kwargs)
        found_all &= bool(result.violations)
        print(
            f"| {bug.name} | {_found(result)} | {result.states:,} | {result.transitions:,} | "
            f"{result.seconds:.2f} |",
            flush=True,
        )
    three = next(scope for scope in scopes.PROOF_SCOPES if scope.name == "lifecycle-3")
    general = (*scopes.SCOPES, attrs.evolve(three, depth=5))
    print()
    print("The general scopes, each at its make-test depth (lifecycle-3 at 5):")
    print("| bug | " + " | ".join(scope.name for scope in general) + " |")
    print("|---|" + "---|" * len(general))
    for bug, _kwargs, _invariant, _length in CASES:
        cells = []
        for scope in general:
            with planted.plant(bug):
                result = explore(depth=scope.depth, **scope.kwargs())
            cells.append(_found(result))
        print(f"| {bug.name} | " + " | ".join(cells) + " |", flush=True)
    if ns.examples == 0:
        return 0 if found_all else 1
    print()
    machines = _machines()
    print("| bug | machine | derandomized: examples / inputs / s | seeds: examples (median) |")
    print("|---|---|---|---|")
    for bug in (*planted.BUGS, planted.INTENSITY_ONE_TOO_MANY, planted.RESET_NEEDS_TWICE):
        for name, machine in machines.items():
            if (bug.name, name) in _UNREACHABLE:
                print(f"| {bug.name} | {name} | n/a (no controller) | |")
                continue
            with planted.plant(bug):
                derand = _hypothesis_examples(machine, ns.examples, None)
                seeded = [_hypothesis_examples(machine, ns.examples, k)[0] for k in range(ns.seeds)]
            shown = [str(n) if n else f">{ns.examples}" for n in seeded]
            found = [n for n in seeded if n]
            median = statistics.median(found) if len(found) == len(seeded) else None
            first = (
                f"{derand[0]} / {derand[1]:,} / {derand[2]:.1f}"
                if derand[0]
                else (f"not found in {ns.examples} / {derand[1]:,} / {derand[2]:.1f}")
            )
            print(
                f"| {bug.name} | {name} | {first} | {', '.join(shown)}"
                f"{f' ({median:g})' if median is not None else ''} |",
                flush=True,
            )
    return 0 if found_all else 1


def describe(inp: object) -> str:
    """One input in a few words (for the docs' counterexample listings)."""
    from taskvisor.fsm import (
        AddTasks,
        AttemptEnded,
        EventsConsumed,
        Remove,
        Shutdown,
        Submit,
        SubscriberPanicked,
        Tick,
    )

    if isinstance(inp, AddTasks):
        return "add " + ", ".join(f"{spec.name} as {tid}" for tid, spec in inp.items)
    if isinstance(inp, AttemptEnded):
        error = f" ({type(inp.error).__name__})" if inp.error is not None else ""
        if inp.retry_after_ns is not None:
            error += f" (Retry-After {inp.retry_after_ns / 1e9:g} s)"
        return f"{inp.task_id} attempt {inp.attempt} ends {inp.end.name}{error}"
    if isinstance(inp, Remove):
        return f"remove {inp.task_id}" if inp.task_id is not None else f"remove {inp.name!r}"
    if isinstance(inp, Submit):
        spec = inp.spec
        policy = spec.admission.name
        return f"submit {spec.task_spec.name} to slot {spec.slot!r} ({policy}) as {inp.task_id}"
    if isinstance(inp, Tick):
        return "tick"
    if isinstance(inp, Shutdown):
        return "shutdown"
    if isinstance(inp, EventsConsumed):
        return f"subscriber {inp.subscriber} takes {inp.count}"
    if isinstance(inp, SubscriberPanicked):
        return f"subscriber {inp.subscriber} panics"
    return repr(inp)


def run_counterexamples(_: argparse.Namespace) -> int:
    from test_explore import CASES

    for bug, kwargs, _invariant, _length in CASES:
        result = _explore_bug(bug, kwargs)
        v = result.violations[0]
        print(f"{bug.name}: {v}")
        for i, (now, inp, draws) in enumerate(v.steps, 1):
            drawn = f", draws {', '.join(repr(d) for d in draws)}" if draws else ""
            print(f"  {i}. t={now / 1e9:g} s: {describe(inp)}{drawn}")
    return 0


def run_profile(ns: argparse.Namespace) -> int:
    scope = next(s for s in (*scopes.SCOPES, *scopes.PROOF_SCOPES) if s.name == ns.scope)
    profile = cProfile.Profile()
    profile.enable()
    result = explore(depth=ns.depth, **scope.kwargs())
    profile.disable()
    print(result.summary())
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(30)
    print(out.getvalue())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("scopes")
    sub.add_parser("counterexamples")
    proof = sub.add_parser("proof")
    proof.add_argument("--seconds", type=int, default=1200, help="safety limit per scope")
    proof.add_argument("--jobs", type=int, default=2)
    bugs = sub.add_parser("planted")
    bugs.add_argument("--examples", type=int, default=1000, help="0: explore only")
    bugs.add_argument("--seeds", type=int, default=5)
    prof = sub.add_parser("profile")
    prof.add_argument("scope", nargs="?", default="lifecycle")
    prof.add_argument("--depth", type=int, default=5)
    ns = parser.parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "scopes": run_scopes,
        "proof": run_proof,
        "planted": run_planted,
        "counterexamples": run_counterexamples,
        "profile": run_profile,
    }
    return commands[ns.command](ns)


if __name__ == "__main__":
    sys.exit(main())
