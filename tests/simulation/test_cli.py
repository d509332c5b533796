"""``taskvisor sim``: tables, CSV/JSON columns, one-line errors with exit code 2, plots."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from taskvisor.__main__ import main
from taskvisor.sim import _cli

QUICK = ["--seeds", "3", "--workers", "0"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits on parse errors and --help
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys, "sim", "contention", "--preset", "aws", "--clients", "5,10", *QUICK
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("contention: leg=0.01 leg_sd=0.002")
    assert lines[1].split() == ["policy", "clients", "calls", "completion"]
    assert len(lines) == 2 + 10
    assert lines[2].split()[:2] == ["none", "5"]
    assert "±" in lines[2]


def test_csv_has_policy_parameters_and_metrics_with_intervals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(
        capsys, "sim", "contention", "--preset", "aws", "--clients", "10", "--format", "csv", *QUICK
    )
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["policy"] for r in rows] == ["none", "exponential", "full", "equal", "decorrelated"]
    for column in ("clients", "calls", "calls_ci95", "completion", "completion_ci95"):
        assert column in rows[0]
    assert rows[0]["clients"] == "10"
    assert float(rows[0]["calls"]) > 10


def test_json_uses_the_same_columns_and_null_for_missing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(
        capsys,
        "sim",
        "crashloop",
        "--tasks",
        "2",
        "--p",
        "0",
        "--jitter",
        "full",
        "--format",
        "json",
        *QUICK,
    )
    assert code == 0
    (record,) = json.loads(out)
    assert record["policy"] == "full"
    assert record["tasks"] == 2
    assert record["completed"] == 1.0
    assert record["exhaust_time"] is None  # no task exhausted: no value, not NaN


def test_diff_adds_paired_differences_to_the_table_and_the_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["sim", "outage", "--tasks", "50", "--down", "5", "--retry-budget", "none,5", "--diff"]
    code, out, err = _run(capsys, *argv, "--jitter", "equal", *QUICK)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[5].startswith("difference from the first row (equal retry_budget=None)")
    assert lines[7].split()[:2] == ["equal", "5.0"]
    assert len(lines) == 2 + 2 + 1 + 2 + 1
    code, out, _ = _run(capsys, *argv, "--jitter", "equal", "--format", "json", *QUICK)
    first, second = json.loads(out)
    assert first["attempts_diff"] == 0
    assert second["attempts_diff"] == pytest.approx(second["attempts"] - first["attempts"])
    assert "throttled_diff_ci95" in second


def test_jitter_first_max_factor_shape_the_policies(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "sim",
        "outage",
        "--tasks",
        "1",
        "--down",
        "5",
        "--latency",
        "0.1",
        "--jitter",
        "none",
        "--first",
        "1",
        "--max",
        "1",
        "--factor",
        "1",
        "--format",
        "json",
        *QUICK,
    )
    assert code == 0
    assert json.loads(out)[0]["attempts"] == 5  # constant 1 s backoff, as by hand


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clients", "0"], "--clients must be an integer in [1, 100000], got 0"),
        (["--clients", "ten"], "--clients must be an integer in [1, 100000], got ten"),
        (["--leg-sd", "-1"], "--leg-sd must be a number in [0, 60], got -1.0"),
        (["--jitter", "wild"], "--jitter must be a comma-separated list of"),
        (["--first", "5", "--max", "1"], "--first must not exceed --max (1), got 5"),
        (["--factor", "0.5"], "--factor must be a number in [1, 1e+09], got 0.5"),
        (["--seeds", "0"], "--seeds must be an integer in [1, 1000000], got 0"),
        (["--seed", "-1"], "--seed must be an integer in [0, 9223372036854775807], got -1"),
        (["--seed", "2.5"], "--seed must be an integer in [0, 9223372036854775807], got 2.5"),
        (["--max", "0"], "--max must not be below --first (0.01), got 0"),
        (["--first", "3"], "--first must not exceed --max (2), got 3"),
        (["--workers", "-2"], "--workers must be an integer in [0, 4096], got -2"),
        (["--preset", "aws", "--jitter", "full"], "--preset aws fixes the policies"),
        (["--preset", "gcp"], "argument --preset: invalid choice: 'gcp'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_parameters_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "sim", "contention", *argv)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err
    assert "Traceback" not in err


def test_missing_scenario_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "sim")
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "SCENARIO" in err


def test_help_lists_the_command_and_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    assert "sim" in out
    code, out, _ = _run(capsys, "sim", "--help")
    for name in ("contention", "outage", "flapping", "crashloop", "supervisor"):
        assert name in out
    code, out, _ = _run(capsys, "sim", "outage", "--help")
    assert "--capacity" in out
    assert "recovery_p99" in out  # metrics are documented in the help


def test_plot_writes_a_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "outage.png"
    code, _, err = _run(
        capsys, "sim", "outage", "--tasks", "20", "--down", "5", "--plot", str(target), *QUICK
    )
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails as if not installed
    code, out, err = _run(capsys, "sim", "outage", "--plot", str(tmp_path / "x.png"), *QUICK)
    assert code == 2
    assert out == ""
    assert err.strip() == (
        "taskvisor sim outage: error: --plot needs matplotlib: pip install 'taskvisor[plot]'"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("out.txt", ".png, "),
        ("no/such/dir/out.png", "no such directory"),
        (".", "--plot must name an image file"),
    ],
)
def test_a_bad_plot_path_is_refused_before_the_sweep(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    message: str,
) -> None:
    pytest.importorskip("matplotlib")

    def no_sweep(*args: object, **kw: object) -> object:
        raise AssertionError("the sweep ran before the --plot path was checked")

    monkeypatch.setattr(_cli, "sweep", no_sweep)
    code, out, err = _run(capsys, "sim", "outage", "--plot", str(tmp_path / name), *QUICK)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("taskvisor sim outage: error: --plot ")
    assert message in err


def test_a_plot_path_in_a_directory_that_is_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    (tmp_path / "file").write_text("")
    code, _, err = _run(capsys, "sim", "outage", "--plot", str(tmp_path / "file" / "x.png"))
    assert code == 2
    assert "no such directory" in err


def test_csv_and_json_numbers_carry_no_float_noise(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "outage", "--tasks", "30", "--down", "5", *QUICK]
    code, out, _ = _run(capsys, *argv, "--format", "csv")
    assert code == 0
    numbers = [v for row in csv.DictReader(io.StringIO(out)) for v in row.values() if v]
    floats = [v for v in numbers if "." in v]
    assert floats
    for text in floats:
        digits = text.lstrip("-").replace(".", "").lstrip("0").split("e")[0]
        assert len(digits) <= _cli.DIGITS, text
        assert repr(float(text)) == text  # the shortest form: what json and csv print
    code, out, _ = _run(capsys, *argv, "--format", "json")
    for rec in json.loads(out):
        for value in rec.values():
            if isinstance(value, float):
                assert float(f"{value:.{_cli.DIGITS}g}") == value


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli._ProgressBar, "__init__", _eager_bar)
    ns = _parse(["contention", "--clients", "3", *QUICK])
    plain, tty = io.StringIO(), _Terminal()
    assert _cli.run_command(ns, io.StringIO(), plain) == 0
    assert plain.getvalue() == ""
    assert _cli.run_command(ns, io.StringIO(), tty) == 0
    assert "12/12 runs" in tty.getvalue()


def _eager_bar(self: _cli._ProgressBar, stream: io.StringIO) -> None:
    self.stream, self.start, self.shown = stream, float("-inf"), False


def _parse(argv: list[str]) -> object:
    parser = _cli.OneLineParser(prog="test")
    _cli.add_sim_arguments(parser)
    return parser.parse_args(argv)


def test_invariant_violation_exits_1_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskvisor import fsm

    def broken(*args: object, **kw: object) -> object:
        raise fsm.InvariantViolation("I1: a task was lost")

    monkeypatch.setattr(_cli, "sweep", broken)
    code, _, err = _run(capsys, "sim", "supervisor", "--tasks", "10", *QUICK)
    assert code == 1
    assert err.strip() == "taskvisor sim supervisor: invariant violated: I1: a task was lost"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "taskvisor", "sim"],
        [sys.executable, "-m", "taskvisor.sim"],
        [str(Path(sys.executable).parent / "taskvisor"), "sim"],
    ],
)
def test_every_entry_point_runs_the_command(command: list[str]) -> None:
    if not Path(command[0]).exists():
        pytest.skip("console script not installed")
    done = subprocess.run(
        [*command, "crashloop", "--tasks", "2", "--format", "csv", *QUICK],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("policy,tasks,p,run,")
    bad = subprocess.run(
        [*command, "crashloop", "--p", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["outage", "--latency", "0", "--first", "0", "--max", "0"],
        ["flapping", "--latency", "0", "--first", "0", "--max", "0"],
        ["crashloop", "--run", "0", "--restart", "always"],
        ["crashloop", "--run", "0", "--max-retries", "none", "--first", "0", "--max", "0"],
    ],
)
def test_runs_whose_time_would_not_advance_are_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = _run(capsys, "sim", *argv, *QUICK)
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "would not advance" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["crashloop", "--intensity", "3"],
            "--intensity must be N/S with N an integer in [0, 1000000] and S a number in "
            "(0, 1e+07] or none, got 3",
        ),
        (["crashloop", "--intensity", "3/0"], "--intensity must be N/S"),
        (["crashloop", "--supervisor-intensity=-1/60"], "--supervisor-intensity must be N/S"),
        (["crashloop", "--intensity", "x/60"], "--intensity must be N/S"),
        (
            ["flapping", "--reset-after", "0"],
            "--reset-after must be a number in [0.001, 1e+07] or none, got 0.0",
        ),
        (["flapping", "--max-retries", "0"], "--max-retries must be an integer in [1, 1000000]"),
    ],
)
def test_bad_control_parameters_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = _run(capsys, "sim", *argv, *QUICK)
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err


def test_control_settings_sweep_as_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        capsys,
        "sim",
        "crashloop",
        "--tasks",
        "5",
        "--intensity",
        "3/60,none",
        "--jitter",
        "none",
        "--format",
        "csv",
        *QUICK,
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["intensity"] for r in rows] == ["3/60", ""]
    assert {"escalated", "escalate_time", "reset_after"} <= set(rows[0])
