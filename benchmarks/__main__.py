"""``make bench``: run every benchmark in order, write the report, print it.

Runs ``bench_attempts``, ``bench_core``, ``bench_scale``, ``bench_fanout``, ``bench_dynamic``
and ``bench_subscribers`` (each returns a ``Section`` of figures, every one a ratio against a
baseline measured in the same run), then the scripts written alongside them (``bench_bus``,
``bench_sim``, ``bench_snapshot``), whose printed tables are folded into the report as they
are. Writes ``results/latest.md`` (the Markdown tables) and ``results/latest.json`` (every
figure, the machine, how long each part took) and prints the Markdown. Progress goes to stderr.

Run: ``python -m benchmarks`` (``--only attempts,fanout`` runs a subset and writes nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from benchmarks._common import RESULTS, Section, log, machine, markdown

#: Our benchmarks, in order: each module's ``measure()`` returns a Section.
SECTIONS = ("attempts", "core", "scale", "fanout", "dynamic", "subscribers")
#: Scripts written by others: their ``main()`` prints; the text is folded into the report.
SCRIPTS = ("bus", "sim", "snapshot")
#: Module constants set before a script runs, to keep ``make bench`` within its budget
#: (still best of 3).
OVERRIDES: dict[str, dict[str, Any]] = {}


def _run_section(name: str) -> Section:
    module = importlib.import_module(f"benchmarks.bench_{name}")
    measure: Callable[[], Section] = module.measure
    t0 = time.perf_counter()
    section = measure()
    section.seconds = time.perf_counter() - t0
    return section


def _run_script(name: str) -> dict[str, Any]:
    """Run ``bench_<name>.main()`` with its stdout captured; a failure is reported, not fatal."""
    t0 = time.perf_counter()
    out = io.StringIO()
    error = None
    try:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        for attr, value in OVERRIDES.get(name, {}).items():
            setattr(module, attr, value)
        with contextlib.redirect_stdout(out):
            module.main()
    except Exception:  # another engineer's script: report it and go on with the rest
        error = traceback.format_exc()
    return {
        "module": f"benchmarks/bench_{name}.py",
        "seconds": round(time.perf_counter() - t0, 2),
        "stdout": out.getvalue(),
        "error": error,
        "overrides": OVERRIDES.get(name, {}),
    }


def _machine_md(m: dict[str, Any]) -> str:
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    load = ", ".join(str(x) for x in m["load_average_at_start"])
    return "\n".join(
        [
            f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable)",
            f"- OS: {m['os']}; Python: {m['python']}",
            f"- Packages: {packages}",
            f"- Load average when the run started (1, 5, 15 min): {load}",
            f"- Commit: {m['commit']}; date: {m['date']}",
        ]
    )


def targets(sections: list[Section]) -> list[dict[str, Any]]:
    """Every row that carries a target, with its verdict."""
    return [
        {
            "section": s.key,
            "figure": r.figure,
            "baseline": r.baseline,
            "value": r.value,
            "unit": r.unit,
            "ratio": r.ratio,
            "cpu_ratio": r.cpu_ratio,
            "target": r.target,
            "met": r.met,
        }
        for s in sections
        for r in s.rows
        if r.met is not None
    ]


def _targets_md(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| target | figure | baseline | ratio | ratio (CPU) | met |",
        "|---|---|---|---:|---:|:-:|",
    ]
    for t in rows:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        cpu = "-" if t["cpu_ratio"] is None else f"{t['cpu_ratio']:.2f}x"
        met = "yes" if t["met"] else "**no**"
        lines.append(
            f"| {t['target']} | {t['figure']} | {t['baseline']} | {ratio} | {cpu} | {met} |"
        )
    return "\n".join(lines) + "\n"


def report(
    m: dict[str, Any], sections: list[Section], scripts: dict[str, dict[str, Any]], total: float
) -> str:
    parts = [
        "# taskvisor benchmarks: latest run",
        "",
        "Every figure is a ratio against a baseline measured in the same run (absolute times "
        "drift between machines). 'ratio' is on wall time (`time.perf_counter`), 'ratio (CPU)' "
        "on CPU time (`time.process_time`, every thread); a loaded machine disturbs the second "
        "much less. See docs/benchmarks.md for what each figure means.",
        "",
        "## Machine",
        "",
        _machine_md(m),
        "",
        "## Targets",
        "",
        _targets_md(targets(sections)),
        "## Figures",
        "",
    ]
    parts += [markdown(s) for s in sections]
    if scripts:
        parts += ["## Other benchmarks (their own output)", ""]
        for r in scripts.values():
            parts.append(f"### {r['module']} ({r['seconds']:.0f} s)")
            parts.append("")
            text = r["stdout"].rstrip() or "(no output)"
            if r["error"]:
                text += "\n\nFAILED:\n" + r["error"].rstrip()
            parts += ["```", text, "```", ""]
    timing = ", ".join(f"{s.key} {s.seconds:.0f} s" for s in sections)
    timing += "".join(f", {k} {v['seconds']:.0f} s" for k, v in scripts.items())
    parts += ["## Time taken", "", f"{total:.0f} s in all: {timing}.", ""]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        help="comma-separated subset of " + ",".join(SECTIONS + SCRIPTS) + " (writes nothing)",
    )
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(SECTIONS + SCRIPTS)
    unknown = set(chosen) - set(SECTIONS + SCRIPTS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    m = machine()
    sections: list[Section] = []
    for name in SECTIONS:
        if name in chosen:
            log(f"{name} ...")
            sections.append(_run_section(name))
            log(f"{name}: {sections[-1].seconds:.0f} s")
    scripts: dict[str, dict[str, Any]] = {}
    for name in SCRIPTS:
        if name in chosen:
            log(f"{name} ...")
            scripts[name] = _run_script(name)
            log(f"{name}: {scripts[name]['seconds']:.0f} s")
    total = time.perf_counter() - t0
    text = report(m, sections, scripts, total)
    if not args.only:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.md").write_text(text)
        payload = {
            "machine": m,
            "total_seconds": round(total, 1),
            "targets": targets(sections),
            "sections": {s.key: s.to_json() for s in sections},
            "scripts": scripts,
        }
        (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
        log(f"wrote {RESULTS / 'latest.md'} and {RESULTS / 'latest.json'} ({total:.0f} s)")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
