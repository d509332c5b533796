"""The command ``taskvisor sim SCENARIO ...`` (also ``python -m taskvisor.sim``).

Owns: the argument parser (one sub-command per scenario, generated from its ``Param``s), the
output formats (a readable table, CSV, JSON), the progress bar (stderr, only on a terminal) and
the exit codes: 0 done, 1 an invariant was violated, 2 bad usage. Every usage error is one line
naming the parameter and its allowed range, never a traceback. Reads ``sys.argv`` and writes
to stdout/stderr; imports matplotlib only through ``_plot`` and only for ``--plot``.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from taskvisor._errors import ConfigError
from taskvisor.fsm import BackoffPolicy, InvariantViolation, JitterPolicy
from taskvisor.sim._contention import aws_policies
from taskvisor.sim._metrics import Estimate
from taskvisor.sim._registry import SCENARIOS
from taskvisor.sim._scenario import ParamError, Scenario, Value
from taskvisor.sim._sweep import Row, sweep

__all__ = ["OneLineParser", "add_sim_arguments", "main", "run", "run_command"]

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2
_PRESETS = ("aws",)


class UsageError(Exception):
    """A bad command line; the message is the one line to print."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``prog: error: ...``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _jitters(text: str) -> list[JitterPolicy]:
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    known = {j.value: j for j in JitterPolicy}
    out = []
    for name in names:
        if name not in known:
            raise UsageError(
                f"--jitter must be a comma-separated list of {', '.join(known)}, got {name!r}"
            )
        out.append(known[name])
    if not out:
        raise UsageError("--jitter must name at least one of none, full, equal, decorrelated")
    return out


def _number(flag: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError(f"{flag} must be a number in [{low:g}, {high:g}], got {text}")
    return value


def _integer(flag: str, text: str, low: int, high: int) -> int:
    # Bounds written out in full: 2**63 - 1 is 9223372036854775807, not 9.22337e+18.
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise UsageError(f"{flag} must be an integer in [{low}, {high}], got {text}")
    return value


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one sub-command per scenario to ``parser`` (the ``sim`` command's parser)."""
    subs = parser.add_subparsers(dest="scenario", metavar="SCENARIO", required=True)
    for sc in SCENARIOS.values():
        metrics = "\n".join(f"  {m.name:16s} {m.help}" for m in sc.metrics)
        p = subs.add_parser(
            sc.name,
            help=sc.summary,
            description=f"{sc.name}: {sc.summary}.",
            epilog=f"metrics (mean over seeds, with a 95% interval):\n{metrics}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        group = p.add_argument_group(
            "scenario parameters (a comma-separated list sweeps a parameter)"
        )
        for prm in sc.params:
            group.add_argument(
                prm.flag,
                dest=f"param_{prm.name}",
                metavar="V[,V...]",
                help=f"{prm.help}; {prm.allowed()} (default {prm.default})",
            )
        pol = p.add_argument_group("policies (BackoffPolicy fields)")
        d = sc.policies
        jit = ",".join(j.value for j in d.jitters)
        pol.add_argument("--jitter", metavar="J[,J...]", help=f"jitters to compare (default {jit})")
        pol.add_argument(
            "--first", metavar="S[,S...]", help=f"first delay, seconds (default {d.first:g})"
        )
        pol.add_argument(
            "--max", metavar="S[,S...]", help=f"cap on the delay, seconds (default {d.max:g})"
        )
        pol.add_argument(
            "--factor", metavar="F[,F...]", help=f"growth factor >= 1 (default {d.factor:g})"
        )
        pol.add_argument(
            "--floor", metavar="S[,S...]", help="lower bound on every delay, seconds (default 0)"
        )
        pol.description = (
            "every combination of the values given is one policy, named by its jitter\n"
            "and the fields that vary (e.g. 'full max=10')"
        )
        pol.add_argument(
            "--preset",
            choices=_PRESETS,
            help="aws: the blog's five strategies none, exponential, full, equal, decorrelated "
            "(base 5 ms, cap 2 s)",
        )
        run = p.add_argument_group("running and output")
        run.add_argument(
            "--seeds", metavar="N", help=f"runs per policy and parameter set (default {sc.seeds})"
        )
        run.add_argument(
            "--seed", metavar="ROOT", default="0", help="root seed of every run (default 0)"
        )
        run.add_argument(
            "--workers",
            metavar="N",
            help="worker processes (default: one per CPU; 0: in this process)",
        )
        run.add_argument(
            "--format", choices=("table", "csv", "json"), default="table", help="default: table"
        )
        run.add_argument(
            "--diff",
            action="store_true",
            help="also show each row's difference from the first row, paired seed by seed "
            "(every row gives each task the same random draws in a given run)",
        )
        run.add_argument(
            "--plot",
            metavar="FILE.png",
            help="draw attempts per second over time and the duration distribution "
            "(needs the plot extra: pip install 'taskvisor[plot]')",
        )


def _numbers(flag: str, text: str | None, default: float, low: float) -> list[float]:
    if text is None:
        return [default]
    values = [_number(flag, part, low, 1e9) for part in text.split(",")]
    return list(dict.fromkeys(values))


def _policies(sc: Scenario, ns: argparse.Namespace) -> list[tuple[str, BackoffPolicy]]:
    """One policy per combination of the jitters, firsts, maxes, factors and floors given.

    A policy is named by its jitter, plus the fields that vary (``full max=10``).
    """
    shaped = any(getattr(ns, f) is not None for f in ("jitter", "first", "max", "factor", "floor"))
    if ns.preset == "aws":
        if shaped:
            raise UsageError(
                "--preset aws fixes the policies; drop --jitter/--first/--max/--factor"
            )
        return aws_policies()
    d = sc.policies
    jitters = list(d.jitters) if ns.jitter is None else _jitters(ns.jitter)
    axes = {
        "first": _numbers("--first", ns.first, d.first, 0),
        "max": _numbers("--max", ns.max, d.max, 0),
        "factor": _numbers("--factor", ns.factor, d.factor, 1),
        "floor": _numbers("--floor", ns.floor, 0.0, 0),
    }
    varying = [k for k, v in axes.items() if len(v) > 1]
    out = []
    for j in dict.fromkeys(jitters):
        for first, cap, factor, floor in itertools.product(*axes.values()):
            if first > cap and ns.first is None:  # the user set --max below the default first
                raise UsageError(f"--max must not be below --first ({first:g}), got {cap:g}")
            if first > cap:
                raise UsageError(f"--first must not exceed --max ({cap:g}), got {first:g}")
            values = {"first": first, "max": cap, "factor": factor, "floor": floor}
            name = " ".join([j.value, *(f"{k}={values[k]:g}" for k in varying)])
            out.append((name, BackoffPolicy(first, cap, factor, jitter=j, floor=floor)))
    return out


def _params(sc: Scenario, ns: argparse.Namespace) -> tuple[dict[str, object], list[str]]:
    """The parameters given, as lists of values, and the names of those that vary."""
    given: dict[str, object] = {}
    varying = []
    for prm in sc.params:
        text = getattr(ns, f"param_{prm.name}")
        if text is None:
            continue
        values = [prm.parse(part) for part in text.split(",")]
        if not values:
            raise ParamError(prm.name, f"{prm.flag} needs a value: {prm.allowed()}")
        values = list(dict.fromkeys(values))
        given[prm.name] = values
        if len(values) > 1:
            varying.append(prm.name)
    return given, varying


class _ProgressBar:
    """``[#####.....] 12/40 runs`` on stderr, redrawn in place; silent for quick sweeps."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.shown and time.monotonic() - self.start < 0.5 and done < total:
            return
        width = 30
        filled = width * done // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} runs")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _num(x: float) -> str:
    if math.isnan(x):
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.4g}"


def _ci(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.2g}"


def _table(sc: Scenario, rows: Sequence[Row], varying: list[str], *, diff: bool = False) -> str:
    fixed = [p.name for p in sc.params if p.name not in varying]
    first = rows[0]
    head = f"{sc.name}: " + " ".join(f"{k}={first.params[k]}" for k in fixed)
    head += f"  ({first.seeds} seeds; mean ± 95% interval)"
    text = _block(sc, head, rows, varying, lambda r: r.metrics)
    if diff and len(rows) > 1:
        label = " ".join([first.policy, *(f"{k}={first.params[k]}" for k in varying)])
        head = f"difference from the first row ({label}), paired seed by seed"
        text += "\n" + _block(sc, head, rows[1:], varying, lambda r: r.diff)
    return text


def _block(
    sc: Scenario,
    head: str,
    rows: Sequence[Row],
    varying: list[str],
    values: Callable[[Row], dict[str, Estimate]],
) -> str:
    columns = ["policy", *varying, *(m.name for m in sc.metrics)]
    body = []
    for r in rows:
        cells = [r.policy, *(str(r.params[k]) for k in varying)]
        for m in sc.metrics:
            e = values(r)[m.name]
            ci = "" if math.isnan(e.ci95) else f" ± {_ci(e.ci95)}"
            cells.append(_num(e.mean) + ci)
        body.append(cells)
    widths = [max(len(c[i]) for c in [columns, *body]) for i in range(len(columns))]
    lines = [head, "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for cells in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


#: Significant digits of the numbers in CSV and JSON (docs/simulator.md, "The command"): float
#: noise sits at the 16th-17th digit (12.449156093000001); 12 digits drop it and keep whole
#: nanoseconds for times up to 1000 s.
DIGITS = 12


def _rounded(x: float) -> float:
    return x if not math.isfinite(x) else float(f"{x:.{DIGITS}g}")


def _records(
    sc: Scenario, rows: Sequence[Row], diff: bool = False
) -> list[dict[str, Value | float]]:
    out: list[dict[str, Value | float]] = []
    for r in rows:
        rec: dict[str, Value | float] = {"policy": r.policy}
        rec.update(r.params)
        for m in sc.metrics:
            rec[m.name] = _rounded(r.metrics[m.name].mean)
            rec[f"{m.name}_ci95"] = _rounded(r.metrics[m.name].ci95)
        if diff:
            for m in sc.metrics:
                rec[f"{m.name}_diff"] = _rounded(r.diff[m.name].mean)
                rec[f"{m.name}_diff_ci95"] = _rounded(r.diff[m.name].ci95)
        rec["seeds"] = r.seeds
        out.append(rec)
    return out


def _csv(sc: Scenario, rows: Sequence[Row], diff: bool = False) -> str:
    records = _records(sc, rows, diff)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow(
            {k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        )
    return buf.getvalue()


def _json(sc: Scenario, rows: Sequence[Row], diff: bool = False) -> str:
    records = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        for rec in _records(sc, rows, diff)
    ]
    return json.dumps(records, indent=2) + "\n"


def run_command(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out a parsed ``sim`` command; returns the exit code."""
    sc = SCENARIOS[ns.scenario]
    try:
        policies = _policies(sc, ns)
        given, varying = _params(sc, ns)
        seeds = None if ns.seeds is None else _integer("--seeds", ns.seeds, 1, 10**6)
        root = _integer("--seed", ns.seed, 0, 2**63 - 1)
        workers = None if ns.workers is None else _integer("--workers", ns.workers, 0, 4096)
        if ns.plot is not None:  # before the sweep: a bad path must not waste it
            from taskvisor.sim._plot import check_available, check_path

            check_available()
            check_path(ns.plot)
    except (UsageError, ConfigError) as exc:
        return _usage(sc, exc, err)
    bar = _ProgressBar(err) if err.isatty() else None
    try:
        rows = sweep(
            sc,
            policies,
            given,
            seeds=seeds,
            root_seed=root,
            workers=workers,
            series=ns.plot is not None,
            progress=bar,
        )
    except InvariantViolation as exc:
        if bar is not None:
            bar.close()
        err.write(f"taskvisor sim {sc.name}: invariant violated: {exc}\n")
        return EXIT_VIOLATION
    except ConfigError as exc:  # a combination that cannot run, found before any run
        return _usage(sc, exc, err)
    if bar is not None:
        bar.close()
    if ns.format == "csv":
        out.write(_csv(sc, rows, ns.diff))
    elif ns.format == "json":
        out.write(_json(sc, rows, ns.diff))
    else:
        out.write(_table(sc, rows, varying, diff=ns.diff))
    if ns.plot is not None:
        from taskvisor.sim._plot import plot

        try:
            plot(sc, rows, ns.plot)
        except OSError as exc:  # checked before the sweep; the disk may still refuse
            err.write(f"taskvisor sim {sc.name}: error: --plot {ns.plot}: {exc.strerror}\n")
            return EXIT_USAGE
        err.write(f"wrote {ns.plot}\n")
    return EXIT_OK


def _usage(sc: Scenario, exc: Exception, err: TextIO) -> int:
    """Report a usage error on one line, parameters spelt as the command's flags."""
    text = exc.for_command_line() if isinstance(exc, ParamError) else str(exc)
    err.write(f"taskvisor sim {sc.name}: error: {text}\n")
    return EXIT_USAGE


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` (default: the process's arguments) and carry out the ``sim`` command.

    Shared by ``python -m taskvisor.sim`` and ``taskvisor sim``; returns the exit code.
    """
    ns = parser.parse_args(argv)
    try:
        return run_command(ns, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130


def main(argv: Sequence[str] | None = None, prog: str = "python -m taskvisor.sim") -> int:
    """The ``sim`` command on its own (``python -m taskvisor.sim``); returns the exit code."""
    parser = OneLineParser(
        prog=prog,
        description="Simulate restart and backoff policies on virtual time with the "
        "production core.",
    )
    add_sim_arguments(parser)
    return run(parser, argv)
