"""``--plot``: when the rates go on a log axis, and how far the time axis reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskvisor.sim._plot import LOG_SCALE_RATIO, busy_until, needs_log_scale


def test_a_spike_that_would_flatten_the_rest_puts_the_rates_on_a_log_axis() -> None:
    herd = [1000.0] + [10.0] * 99  # the thundering herd at t = 0, then a trickle
    assert needs_log_scale([herd])
    assert needs_log_scale([[5.0] * 100, herd])  # any series decides


def test_an_even_load_stays_on_a_linear_axis() -> None:
    assert not needs_log_scale([[10.0, 12.0, 9.0, 11.0]])
    assert not needs_log_scale([[0.0, 0.0]])
    assert not needs_log_scale([[]])
    just_below = [LOG_SCALE_RATIO - 1.0] + [1.0] * 1000
    assert not needs_log_scale([just_below])


def test_the_time_axis_ends_after_the_last_attempt() -> None:
    assert busy_until([[3.0, 0.0, 1.0, 0.0, 0.0]], 0.5) == 1.5
    assert busy_until([[0.0], [0.0, 0.0, 2.0]], 1.0) == 3.0
    assert busy_until([[0.0, 0.0]], 1.0) is None


def test_the_documentation_pictures_are_regenerated_by_the_tool(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "plots", Path(__file__).resolve().parents[2] / "tools" / "plots.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["plots"] = module
    spec.loader.exec_module(module)
    module.PICTURES = {"crashloop": ["crashloop", "--seeds", "1"]}
    assert module.main([str(tmp_path)]) == 0
    picture = tmp_path / "sim_crashloop.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
