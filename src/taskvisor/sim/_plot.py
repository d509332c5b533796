"""``--plot FILE.png``: attempts per second over time, and the distribution of durations.

Owns the one figure the command draws, with matplotlib (the optional ``plot`` extra). Left:
the mean attempts per second over time of each row (policy, and the swept parameters), on a
log axis when the spike at t = 0 would flatten the rest (``needs_log_scale``);
right: the empirical distribution (CDF) of the scenario's completion-type durations, pooled
over seeds. Imports matplotlib lazily, with the file-only ``Agg`` backend; writes one file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from taskvisor.sim._scenario import ParamError, Scenario, literal
from taskvisor.sim._sweep import Row

__all__ = ["check_available", "check_path", "plot"]


def check_available() -> None:
    """Raise a one-line ``ParamError`` when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParamError("plot", "{plot} needs matplotlib: pip install 'taskvisor[plot]'") from None


def _plot_error(detail: str) -> ParamError:
    return ParamError("plot", "{plot} " + literal(detail))


def check_path(path: str) -> None:
    """Raise a one-line ``ParamError`` unless matplotlib can write a figure to ``path``.

    Checked before a sweep runs, so a typo does not cost the sweep: the format must be one
    matplotlib writes (from the extension: ``.png``, ``.svg``, ``.pdf``...) and the directory
    must exist and be writable.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    target = Path(path)
    if target.suffix.lower().lstrip(".") not in formats:
        known = ", ".join("." + f for f in formats)
        raise _plot_error(f"must name an image file ({known}), got {path}")
    folder = target.parent
    if not folder.is_dir():
        raise _plot_error(f"{path}: no such directory {folder}")
    if target.is_dir() or not os.access(target if target.exists() else folder, os.W_OK):
        raise _plot_error(f"{path}: not writable")


def _label(row: Row, varying: Sequence[str]) -> str:
    extra = " ".join(f"{k}={row.params[k]}" for k in varying)
    return f"{row.policy} {extra}".strip()


#: When the highest bin is this many times the mean bin, a linear axis would flatten
#: everything but the spike at t = 0 (the herd): the rates go on a log axis.
LOG_SCALE_RATIO = 20.0


def needs_log_scale(rates: Sequence[Sequence[float]]) -> bool:
    """Whether attempts-per-second series should be drawn on a (symmetric) log axis."""
    values = [v for series in rates for v in series]
    if not values or max(values) <= 0:
        return False
    return max(values) >= LOG_SCALE_RATIO * (sum(values) / len(values))


def busy_until(rates: Sequence[Sequence[float]], bin_seconds: float) -> float | None:
    """The end of the last bin with any attempt in any series (None: no attempt at all)."""
    last = max((i for series in rates for i, v in enumerate(series) if v > 0), default=None)
    return None if last is None else (last + 1) * bin_seconds


def plot(sc: Scenario, rows: Sequence[Row], path: str) -> None:
    """Draw ``rows`` (a sweep run with ``series=True``) into the PNG file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    varying = [p.name for p in sc.params if len({str(r.params[p.name]) for r in rows}) > 1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for row in rows:
        if row.rate:
            xs = [i * row.rate_bin for i in range(len(row.rate))]
            left.step(xs, row.rate, where="post", label=_label(row, varying), linewidth=1)
    down = rows[0].params.get("down") if sc.name == "outage" else None
    if isinstance(down, float) and len({r.params.get("down") for r in rows}) == 1:
        left.axvline(down, color="grey", linestyle=":", linewidth=1, label="dependency back")
    left.set_xlabel("time (s)")
    left.set_ylabel("attempts per second (mean over seeds)")
    until = busy_until([row.rate for row in rows], rows[0].rate_bin if rows else 1.0)
    if until is not None:  # nothing happens after the last attempt: do not draw it
        left.set_xlim(0, until * 1.05)
    title = f"{sc.name}: load on the dependency"
    if needs_log_scale([row.rate for row in rows]):
        left.set_yscale("symlog", linthresh=1.0)  # zero stays drawable, unlike "log"
        left.set_ylim(bottom=0)
        title += " (log scale)"
    left.set_title(title)
    left.legend(fontsize="small")
    drawn = False
    for row in rows:
        values = sorted(row.durations)
        if values:
            n = len(values)
            right.step(
                values,
                [(i + 1) / n for i in range(n)],
                where="post",
                label=_label(row, varying),
                linewidth=1,
            )
            drawn = True
    right.set_xlabel(sc.durations or "duration (s)")
    right.set_ylabel("fraction of samples ≤ x")
    right.set_title("distribution")
    if drawn:
        right.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
