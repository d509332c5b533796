"""Shared helpers for the benchmarks: best-of-k timing, backends, memory, the machine, rows.

Owns: ``Timing`` and the best-of-k helpers (wall time by ``time.perf_counter``, CPU time by
``time.process_time``, ``gc.collect()`` before every measurement), ``run_on`` (one coroutine on
asyncio, uvloop or trio through anyio), ``rss_bytes`` (from ``/proc/self/statm``), ``machine``
(what the figures ran on), and ``Row``/``Section``, the shape every benchmark reports in.
Every figure is a ratio against a baseline measured in the same run: absolute times drift
between machines, ratios much less.
"""

from __future__ import annotations

import gc
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

#: The backends the per-attempt and fan-out figures run on.
BACKENDS = ("asyncio", "uvloop", "trio")

#: Packages whose versions the report names.
PACKAGES = (
    "taskvisor",
    "anyio",
    "attrs",
    "trio",
    "uvloop",
    "tenacity",
    "stamina",
    "aiojobs",
    "simpy",
    "pyinstrument",
    "prometheus_client",
    "opentelemetry-sdk",
)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout stays the report."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Timing:
    """The best of k runs: wall seconds, CPU seconds (every thread), and what the run returned.

    ``wall`` and ``cpu`` are minima over the runs (each the least disturbed estimate);
    ``result`` is the return value of the run with the least wall time.
    """

    wall: float
    cpu: float
    result: Any = None
    runs: int = 0

    def per(self, n: float) -> Timing:
        """The same timing divided by ``n`` (per attempt, per task, ...)."""
        return Timing(self.wall / n, self.cpu / n, self.result, self.runs)


def _once(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    if isinstance(out, SelfTimed):
        return out.wall, out.cpu, out.result
    return wall, cpu, out


def best_of(fn: Callable[[], Any], k: int = 3) -> Timing:
    """Run ``fn`` ``k`` times (``gc.collect()`` before each); the least wall and CPU time.

    ``fn`` may time itself by returning a ``SelfTimed``; otherwise the whole call is timed.
    """
    return interleaved({"fn": fn}, k)["fn"]


def interleaved(cases: dict[str, Callable[[], Any]], rounds: int) -> dict[str, Timing]:
    """Best of ``rounds`` for every case, running the cases in turn, round after round.

    On a machine whose load drifts (other jobs on the same cores), interleaving makes a busy
    stretch hit every case alike instead of whichever case happened to run then; the best of
    the rounds is each case's least disturbed run.
    """
    best: dict[str, tuple[float, Any]] = {}
    best_cpu: dict[str, float] = {}
    for _ in range(rounds):
        for name, fn in cases.items():
            wall, cpu, out = _once(fn)
            best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, out)
    return {name: Timing(wall, best_cpu[name], out, rounds) for name, (wall, out) in best.items()}


@dataclass(frozen=True)
class SelfTimed:
    """What a measured function returns when it times only part of its own work."""

    wall: float
    cpu: float
    result: Any = None


class Stopwatch:
    """Wall and CPU time of a stretch of code: ``sw = Stopwatch(); ...; sw.stop(result)``."""

    __slots__ = ("c0", "t0")

    def __init__(self) -> None:
        self.c0 = time.process_time()
        self.t0 = time.perf_counter()

    def stop(self, result: Any = None) -> SelfTimed:
        return SelfTimed(time.perf_counter() - self.t0, time.process_time() - self.c0, result)


def run_on(backend: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """Run ``fn(*args)`` to completion on ``backend``: asyncio, uvloop (asyncio) or trio."""
    if backend == "uvloop":
        return anyio.run(fn, *args, backend="asyncio", backend_options={"use_uvloop": True})
    return anyio.run(fn, *args, backend=backend)


def best_on(backend: str, fn: Callable[..., Awaitable[Any]], *args: Any, k: int = 3) -> Timing:
    """``best_of`` for a coroutine function that times itself (returns ``SelfTimed``).

    The event loop's start-up and teardown are outside the measurement.
    """
    return best_of(on(backend, fn, *args), k)


def on(backend: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> Callable[[], Any]:
    """A no-argument callable that runs ``fn(*args)`` on ``backend`` (for ``interleaved``)."""
    return lambda: run_on(backend, fn, *args)


def rss_bytes() -> int:
    """Resident set size of this process, from ``/proc/self/statm`` (0 where unavailable)."""
    try:
        with open("/proc/self/statm") as f:
            resident = int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return resident * os.sysconf("SC_PAGE_SIZE")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    """What the figures ran on: CPU, cores, OS, Python, package versions, load, commit."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "src"))
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {p: _version(p) for p in PACKAGES},
        "load_average_at_start": load,
        "commit": commit + (" (src modified)" if dirty else ""),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


@dataclass
class Row:
    """One figure, its baseline measured in the same run, and their ratio.

    ``ratio`` is ``value / baseline`` on wall time (so for a cost, lower is better; for a
    rate, higher). ``cpu_ratio`` is the same ratio on CPU time (``process_time``: every
    thread), which a busy machine disturbs much less: where the two agree, the figure is
    solid. ``target`` is the target in words and ``met`` whether this figure meets it (None:
    no target for this row).
    """

    figure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    cpu_value: float | None = None
    cpu_baseline: float | None = None
    ratio: float | None = field(default=None)
    cpu_ratio: float | None = field(default=None)

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline_value:
            self.ratio = self.value / self.baseline_value
        if self.cpu_ratio is None and self.cpu_value is not None and self.cpu_baseline:
            self.cpu_ratio = self.cpu_value / self.cpu_baseline


def timing_row(
    figure: str, value: Timing, base: Timing, scale: float, unit: str, baseline: str, **kw: Any
) -> Row:
    """A row comparing two timings (wall and CPU), each multiplied by ``scale``."""
    return Row(
        figure,
        value.wall * scale,
        unit,
        baseline,
        base.wall * scale,
        cpu_value=value.cpu * scale,
        cpu_baseline=base.cpu * scale,
        **kw,
    )


@dataclass
class Section:
    """What one benchmark reports: rows for the table, notes, and every figure as data."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "seconds": round(self.seconds, 2),
            "rows": [asdict(r) for r in self.rows],
            "notes": self.notes,
            "data": self.data,
        }


def fmt(value: float | None, unit: str = "") -> str:
    """A figure with three significant digits and its unit (``-`` for None)."""
    if value is None:
        return "-"
    a = abs(value)
    if a >= 1e5:
        text = f"{value:,.0f}"
    elif a >= 100:
        text = f"{value:.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def markdown(section: Section) -> str:
    """The section as a Markdown table, then its notes."""
    lines = [f"### {section.title}", ""]
    lines.append(
        "| figure | taskvisor | baseline | baseline value | ratio | ratio (CPU) | target | met |"
    )
    lines.append("|---|---:|---|---:|---:|---:|---|:-:|")
    for r in section.rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        cpu_ratio = "-" if r.cpu_ratio is None else f"{r.cpu_ratio:.2f}x"
        value = fmt(r.value, r.unit)
        base = fmt(r.baseline_value, r.unit) if r.baseline_value is not None else "-"
        lines.append(
            f"| {r.figure} | {value} | {r.baseline or '-'} | {base} | {ratio} | {cpu_ratio} "
            f"| {r.target or '-'} | {met} |"
        )
    if section.notes:
        lines.append("")
        lines.extend(f"- {n}" for n in section.notes)
    lines.append("")
    return "\n".join(lines)
