"""Optional integrations stay optional: ``import taskvisor`` imports none of them, and a
``taskvisor.contrib`` module without its extra fails with one line naming what to install.

Each check runs in a fresh interpreter, so nothing imported by other tests can hide an import.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

#: Imported only by taskvisor.contrib modules and by the recipes, never by the package itself.
EXTRAS = ("prometheus_client", "opentelemetry", "structlog", "starlette", "httpx", "uvicorn")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_taskvisor_imports_no_extra() -> None:
    result = _python(
        f"""
        import sys
        import taskvisor, taskvisor.fsm, taskvisor.runtime, taskvisor.sim, taskvisor.contrib
        import taskvisor as tv
        tv.Supervisor()  # the default LogSubscriber too
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({EXTRAS!r}))
        print(",".join(loaded))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_every_extra_is_installed_here_so_the_check_above_means_something() -> None:
    result = _python(f"import importlib; [importlib.import_module(m) for m in {EXTRAS!r}]")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("module", "blocked", "message"),
    [
        (
            "taskvisor.contrib.prometheus",
            "prometheus_client",
            "taskvisor.contrib.prometheus needs prometheus_client: "
            "pip install 'taskvisor[prometheus]'",
        ),
        (
            "taskvisor.contrib.otel",
            "opentelemetry",
            "taskvisor.contrib.otel needs opentelemetry-api: pip install 'taskvisor[otel]'",
        ),
    ],
)
def test_a_missing_extra_is_a_one_line_import_error_naming_it(
    module: str, blocked: str, message: str
) -> None:
    result = _python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # as if it were not installed
        try:
            import {module}
        except ImportError as exc:
            print(type(exc).__name__)
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["ImportError", message]
