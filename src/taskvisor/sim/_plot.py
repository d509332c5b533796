"""``--plot FILE.png``: attempts per second over time, and the distribution of durations.

Owns the one figure the command draws, with matplotlib (the optional ``plot`` extra). Left:
the mean attempts per second over time of each row (policy, and the swept parameters);
right: the empirical distribution (CDF) of the scenario's completion-type durations, pooled
over seeds. Imports matplotlib lazily, with the file-only ``Agg`` backend; writes one file.
"""

from __future__ import annotations

from collections.abc import Sequence

from taskvisor.sim._scenario import ParamError, Scenario
from taskvisor.sim._sweep import Row

__all__ = ["check_available", "plot"]


def check_available() -> None:
    """Raise a one-line ``ParamError`` when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParamError("plot", "--plot needs matplotlib: pip install 'taskvisor[plot]'") from None


def _label(row: Row, varying: Sequence[str]) -> str:
    extra = " ".join(f"{k}={row.params[k]}" for k in varying)
    return f"{row.policy} {extra}".strip()


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
    left.set_title(f"{sc.name}: load on the dependency")
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
